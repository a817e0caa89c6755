"""The capacity board: planning work on open enquiries against each municipality's declared capacity, and
suggestions of where another municipality's planner could help.

Work is counted in hours per week: an open enquiry takes its status's hours (``workflow.yaml``) from its lead
municipality, and each open task its own hours from the municipality it is assigned to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from layers.codes import KONGSBERGREGIONEN
from programme.model import Capacity, Enquiry, Event, Task
from programme.workflow import workflow


@dataclass(frozen=True)
class Load:
    """One municipality on one day: demand and capacity in hours per week."""

    municipality: str
    name: str
    demand_hours: float
    capacity_hours: float
    open_enquiries: int
    open_tasks: int

    @property
    def spare_hours(self) -> float:
        return self.capacity_hours - self.demand_hours

    @property
    def utilisation(self) -> float | None:
        """Demand / capacity (None when no capacity is declared)."""
        return None if self.capacity_hours <= 0 else self.demand_hours / self.capacity_hours


@dataclass(frozen=True)
class Suggestion:
    """Move ``hours`` of work from an over-loaded municipality to one with spare capacity."""

    from_municipality: str
    to_municipality: str
    hours: float
    enquiry_id: str | None
    text_nb: str
    text_en: str


def capacity_on(capacities: list[Capacity], municipality: str, day: date) -> float:
    """Hours per week declared by ``municipality`` for a period containing ``day`` (the latest start wins)."""
    matching = [c for c in capacities if c.municipality == municipality and c.period_start <= day <= c.period_end]
    return max(matching, key=lambda c: c.period_start).hours_per_week if matching else 0.0


def by_enquiry(events: list[Event]) -> dict[str, list[Event]]:
    """Events grouped per enquiry, in time order."""
    out: dict[str, list[Event]] = {}
    for e in sorted(events, key=lambda e: (e.at, e.id)):
        out.setdefault(e.enquiry_id, []).append(e)
    return out


def status_on(history: list[Event], moment: datetime) -> str | None:
    """An enquiry's status at ``moment`` from its own history (None before it was created)."""
    status = None
    for e in history:
        if e.at > moment:
            break
        if e.to_status:
            status = e.to_status
    return status


def lead_on(enquiry: Enquiry, history: list[Event], moment: datetime) -> str:
    """The lead municipality at ``moment``, replaying whole-enquiry handovers."""
    handovers = [e for e in history if e.action == "handover" and e.detail.get("task_id") is None]
    lead = handovers[0].detail["from"]["municipality"] if handovers else enquiry.lead_municipality
    for e in handovers:
        if e.at <= moment:
            lead = e.detail["to"]["municipality"]
    return lead


def board(enquiries: list[Enquiry], events: list[Event], tasks: list[Task], capacities: list[Capacity],
          moment: datetime, histories: dict[str, list[Event]] | None = None) -> list[Load]:
    """Every member municipality's load at ``moment`` (history replayed, so past quarters can be shown)."""
    flow = workflow()
    demand = {k: 0.0 for k in KONGSBERGREGIONEN}
    n_enq = dict.fromkeys(KONGSBERGREGIONEN, 0)
    n_task = dict.fromkeys(KONGSBERGREGIONEN, 0)
    open_ids = set()
    histories = histories if histories is not None else by_enquiry(events)
    for enquiry in enquiries:
        history = histories.get(enquiry.id, [])
        status = status_on(history, moment)
        if status is None or not flow.status(status).open:
            continue
        open_ids.add(enquiry.id)
        lead = lead_on(enquiry, history, moment)
        if lead in demand:
            demand[lead] += flow.status(status).hours_per_week
            n_enq[lead] += 1
    for task in tasks:
        if task.enquiry_id in open_ids and not task.done and task.created <= moment and task.municipality in demand:
            demand[task.municipality] += task.hours_per_week
            n_task[task.municipality] += 1
    day = moment.date()
    return [Load(k, name, round(demand[k], 2), capacity_on(capacities, k, day), n_enq[k], n_task[k])
            for k, name in KONGSBERGREGIONEN.items()]


def suggestions(loads: list[Load], enquiries: list[Enquiry]) -> list[Suggestion]:
    """For each over-loaded municipality (demand > capacity), the municipality with most spare hours and the
    open enquiry of the first whose weekly work fits in that spare time (largest first)."""
    flow = workflow()
    spare = {load.municipality: load.spare_hours for load in loads if load.spare_hours > 0}
    names = {load.municipality: load.name for load in loads}
    out = []
    for load in sorted(loads, key=lambda x: x.spare_hours):
        if load.spare_hours >= 0 or not spare:
            continue
        helper = max(spare, key=lambda k: spare[k])
        candidates = sorted((e for e in enquiries if e.lead_municipality == load.municipality
                             and flow.status(e.status).open),
                            key=lambda e: -flow.status(e.status).hours_per_week)
        pick = next((e for e in candidates if flow.status(e.status).hours_per_week <= spare[helper]), None)
        hours = min(-load.spare_hours, spare[helper])
        spare[helper] -= hours
        if spare[helper] <= 0:
            del spare[helper]
        label = "" if pick is None else pick.id if pick.confidential else f"{pick.id} {pick.company}"
        about = f" (f.eks. {label})" if pick else ""  # confidential enquiries by id only
        about_en = f" (e.g. {label})" if pick else ""
        out.append(Suggestion(
            load.municipality, helper, round(hours, 1), pick.id if pick else None,
            f"{names[load.municipality]} mangler {-load.spare_hours:.1f} t/uke; {names[helper]} kan ta "
            f"{hours:.1f} t/uke{about}.",
            f"{names[load.municipality]} is {-load.spare_hours:.1f} h/week short; {names[helper]} can take "
            f"{hours:.1f} h/week{about_en}."))
    return out
