"""Programme indicators per quarter and municipality ("følgeforskning": learn while the programme runs).

- land: reserve (as in the land-reserve report: without reserves in conflict, shown apart) and pre-approved daa
  and dyrka jord inside reserves, from the version of ``business-areas``
  in force at the end of each quarter (a version's date is the latest ``as_of`` of its inputs, else when it
  was published: back-filled history carries ``as_of`` in its provenance);
- enquiries: received, open at the end, decided (established / lost / withdrawn), share landed, jobs in landed
  enquiries, median days from enquiry to first answer and to sites offered;
- sectors: enquiries received by NACE section;
- capacity: planning work against declared capacity at the middle of each quarter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any

import pandas as pd

from constraints.publish import BUSINESS_AREAS
from constraints.reserve_history import version_reserve
from layers.codes import KONGSBERGREGIONEN
from layers.errors import LayerNotFound
from layers.store import Store, VersionRecord
from programme.capacity import board, by_enquiry
from programme.model import Capacity, Enquiry, Event, Task
from programme.workflow import workflow

REGION = "region"


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(label: str) -> tuple[datetime, datetime]:
    """[start, end) of a quarter label such as ``2025-Q3`` as UTC datetimes."""
    year, q = int(label[:4]), int(label[-1])
    start = datetime(year, 3 * (q - 1) + 1, 1, tzinfo=UTC)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
    return start, end


def quarters(first: date, last: date) -> list[str]:
    out, day = [], date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
    while day <= last:
        out.append(quarter_of(day))
        day = date(day.year + (day.month == 10), 1 if day.month == 10 else day.month + 3, 1)
    return out


@dataclass(frozen=True)
class Indicators:
    """The indicator tables (long, tidy frames) for a range of quarters."""

    quarters: list[str]
    land: pd.DataFrame  # quarter, kommunenummer, reserve_daa, pre_approved_daa, farmland_in_reserves_daa, version
    enquiries: pd.DataFrame  # quarter, kommunenummer, received, open_end, established, lost, withdrawn, ...
    sectors: pd.DataFrame  # quarter, nace_section, received
    capacity: pd.DataFrame  # quarter, kommunenummer, demand_hours, capacity_hours, utilisation

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"land": self.land, "enquiries": self.enquiries, "sectors": self.sectors, "capacity": self.capacity}


# -- land, from the versions of business-areas -----------------------------------------------------------
def version_date(store: Store, record: VersionRecord) -> datetime:
    """When a derived version's data are from: the latest ``as_of`` among its inputs, else its own."""
    own = record.provenance.get("as_of")
    if own:
        return _aware(own)
    stamps = []
    for layer_id, version in (record.provenance.get("inputs") or {}).items():
        try:
            match = next((v for v in store.versions(layer_id) if v.version == version), None)
        except LayerNotFound:
            match = None
        if match is not None and match.provenance.get("as_of"):
            stamps.append(_aware(match.provenance["as_of"]))
    return max(stamps) if stamps else record.created


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def land_by_version(store: Store) -> list[tuple[datetime, int, pd.DataFrame]]:
    """(date, version, land-reserve table) for every version of ``business-areas``, in date order."""
    try:
        records = store.versions(BUSINESS_AREAS)
    except LayerNotFound:
        return []
    out = [(version_date(store, r), r.version, version_reserve(store, r)) for r in records]
    return sorted(out, key=lambda t: (t[0], t[1]))


def land_indicators(store: Store, labels: list[str]) -> pd.DataFrame:
    history = land_by_version(store)
    rows = []
    for label in labels:
        _, end = quarter_bounds(label)
        in_force = [h for h in history if h[0] < end]
        if not in_force:
            continue
        _, version, table = in_force[-1]
        for _, r in table.iterrows():
            if r["kommunenummer"] not in KONGSBERGREGIONEN:
                continue
            rows.append({"quarter": label, "kommunenummer": r["kommunenummer"],
                         "reserve_daa": round(float(r["reserve_daa"]), 1),
                         "conflict_reserve_daa": round(float(r["conflict_reserve_daa"]), 1),
                         "pre_approved_daa": round(float(r["pre_approved_daa"]), 1),
                         "farmland_in_reserves_daa": round(float(r["farmland_in_reserves_daa"]), 1),
                         "business_areas_version": version})
    frame = pd.DataFrame(rows, columns=["quarter", "kommunenummer", "reserve_daa", "conflict_reserve_daa",
                                        "pre_approved_daa", "farmland_in_reserves_daa", "business_areas_version"])
    return _with_region(frame, ["reserve_daa", "conflict_reserve_daa", "pre_approved_daa", "farmland_in_reserves_daa"],
                        keep={"business_areas_version": "max"})


# -- enquiries ----------------------------------------------------------------------------------------------
def enquiry_indicators(enquiries: list[Enquiry], events: list[Event], labels: list[str]) -> pd.DataFrame:
    flow = workflow()
    histories = by_enquiry(events)
    rows = []
    for label in labels:
        start, end = quarter_bounds(label)
        for knr in KONGSBERGREGIONEN:
            mine = [e for e in enquiries if e.lead_municipality == knr]
            received = [e for e in mine if start <= e.received < end]
            decided: dict[str, list[Enquiry]] = {d: [] for d in flow.decision_ids}
            open_end = 0
            for e in mine:
                history = histories.get(e.id, [])
                for ev in history:
                    if ev.to_status in decided and start <= ev.at < end:
                        decided[ev.to_status].append(e)
                last = [ev.to_status for ev in history if ev.to_status and ev.at < end]
                if last and flow.status(last[-1]).open:
                    open_end += 1
            first_answer = [d for e in received if (d := _days_to(histories.get(e.id, []), e, None)) is not None]
            to_offer = [d for e in received
                        if (d := _days_to(histories.get(e.id, []), e, "sites_offered")) is not None]
            n_decided = sum(len(v) for v in decided.values())
            rows.append({
                "quarter": label, "kommunenummer": knr, "received": len(received), "open_end": open_end,
                "established": len(decided.get("established", [])), "lost": len(decided.get("lost", [])),
                "withdrawn": len(decided.get("withdrawn", [])), "decided": n_decided,
                "jobs_landed": sum(e.needs.jobs or 0 for e in decided.get("established", [])),
                "median_days_first_answer": round(median(first_answer), 1) if first_answer else None,
                "median_days_to_offer": round(median(to_offer), 1) if to_offer else None,
            })
    frame = pd.DataFrame(rows)
    sums = ["received", "open_end", "established", "lost", "withdrawn", "decided", "jobs_landed"]
    frame = _with_region(frame, sums, keep={})
    # medians of the region are over all its enquiries, not a sum of medians
    for label in labels:
        start, end = quarter_bounds(label)
        received = [e for e in enquiries if start <= e.received < end]
        fa = [d for e in received if (d := _days_to(histories.get(e.id, []), e, None)) is not None]
        to = [d for e in received if (d := _days_to(histories.get(e.id, []), e, "sites_offered")) is not None]
        mask = (frame["quarter"] == label) & (frame["kommunenummer"] == REGION)
        frame.loc[mask, "median_days_first_answer"] = round(median(fa), 1) if fa else None
        frame.loc[mask, "median_days_to_offer"] = round(median(to), 1) if to else None
    frame["landed_share"] = [round(e / d, 3) if d else None for e, d in zip(frame["established"], frame["decided"],
                                                                           strict=True)]
    return frame


def _days_to(history: list[Event], enquiry: Enquiry, status: str | None) -> float | None:
    """Days from receipt to the first status change (``status`` None: any answer) or to ``status``."""
    for ev in history:
        if ev.action == "status" and (status is None or ev.to_status == status):
            return round((ev.at - enquiry.received).total_seconds() / 86_400, 2)
    return None


def sector_indicators(enquiries: list[Enquiry], labels: list[str]) -> pd.DataFrame:
    rows = []
    for label in labels:
        start, end = quarter_bounds(label)
        counts: dict[str, int] = {}
        for e in enquiries:
            if start <= e.received < end:
                section = (e.nace or "?")[0]
                counts[section] = counts.get(section, 0) + 1
        rows += [{"quarter": label, "nace_section": k, "received": v} for k, v in sorted(counts.items())]
    return pd.DataFrame(rows, columns=["quarter", "nace_section", "received"])


def capacity_indicators(enquiries: list[Enquiry], events: list[Event], tasks: list[Task],
                        capacities: list[Capacity], labels: list[str]) -> pd.DataFrame:
    histories = by_enquiry(events)
    rows = []
    for label in labels:
        start, end = quarter_bounds(label)
        middle = start + (end - start) / 2
        for load in board(enquiries, events, tasks, capacities, middle, histories):
            rows.append({"quarter": label, "kommunenummer": load.municipality, "demand_hours": load.demand_hours,
                         "capacity_hours": load.capacity_hours})
    frame = _with_region(pd.DataFrame(rows), ["demand_hours", "capacity_hours"], keep={})
    frame["utilisation"] = [round(d / c, 3) if c else None for d, c in zip(frame["demand_hours"],
                                                                          frame["capacity_hours"], strict=True)]
    return frame


def _with_region(frame: pd.DataFrame, sums: list[str], keep: dict[str, str]) -> pd.DataFrame:
    """Append one ``region`` row per quarter: the sum over the member municipalities."""
    if frame.empty:
        return frame
    region = frame.groupby("quarter", sort=False).agg({**{c: "sum" for c in sums}, **keep}).reset_index()
    region["kommunenummer"] = REGION
    out = pd.concat([frame, region], ignore_index=True)
    return out.sort_values(["quarter", "kommunenummer"], kind="stable").reset_index(drop=True)


def available_quarters(store: Store, enquiries: list[Enquiry], today: date | None = None) -> list[str]:
    """Every quarter with data: from the first enquiry or business-areas version to ``today``."""
    today = today or datetime.now(UTC).date()
    starts = [e.received.date() for e in enquiries] + [d.date() for d, _, _ in land_by_version(store)]
    return quarters(min(starts) if starts else today, today)


def compute(store: Store, enquiries: list[Enquiry], events: list[Event], tasks: list[Task],
            capacities: list[Capacity], first: str | None = None, last: str | None = None,
            today: date | None = None) -> Indicators:
    """Every indicator for the quarters ``first``..``last`` (default: every quarter with data, to now)."""
    today = today or datetime.now(UTC).date()
    everything = available_quarters(store, enquiries, today)
    begin = quarter_bounds(first)[0].date() if first else quarter_bounds(everything[0])[0].date()
    finish = quarter_bounds(last)[1].date() - timedelta(days=1) if last else today
    labels = quarters(begin, finish)
    return Indicators(labels, land_indicators(store, labels), enquiry_indicators(enquiries, events, labels),
                      sector_indicators(enquiries, labels),
                      capacity_indicators(enquiries, events, tasks, capacities, labels))
