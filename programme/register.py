"""The enquiry register: create and read enquiries, move them through the workflow, offer sites, hand work over.

Every change writes a history event (who, when, what) in the same transaction as the change itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from programme.access import Actor, may_see
from programme.db import Database, to_date, to_datetime
from programme.errors import EnquiryNotFound, InvalidEnquiry
from programme.model import Capacity, CapacityIn, Enquiry, EnquiryIn, Event, Handover, Offer, Task, TaskIn
from programme.workflow import workflow

_ENQUIRY_COLUMNS = ("id", "company", "org_number", "nace", "contact_name", "contact_email", "contact_phone",
                    "needs", "source", "confidential", "lead_municipality", "lead_planner", "received", "status",
                    "decision_reason", "created_by", "updated")
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class EnquiryRegister:
    """Enquiries and capacity in a ``Database``; every method takes the acting ``Actor``."""

    def __init__(self, db: Database, clock: Clock = _now) -> None:
        self.db = db
        self.clock = clock

    # -- enquiries -------------------------------------------------------------------------------
    def create(self, actor: Actor, data: EnquiryIn, *, at: datetime | None = None) -> Enquiry:
        """Register a new enquiry (status ``new``) led by ``data.lead_municipality``."""
        actor.require_write()
        actor.require_municipality(data.lead_municipality)
        at = at or self.clock()
        received = data.received or at
        with self.db.transaction() as execute:
            year = received.year
            count = execute("SELECT COUNT(*) FROM enquiries WHERE id LIKE ?", (f"H-{year}-%",)).fetchone()[0]
            enquiry_id = f"H-{year}-{count + 1:04d}"
            row = (enquiry_id, data.company, data.org_number, data.nace, data.contact_name, data.contact_email,
                   data.contact_phone, data.needs.model_dump_json(), data.source, int(data.confidential),
                   data.lead_municipality, data.lead_planner, received, "new", None, actor.subject, at)
            execute(f"INSERT INTO enquiries ({', '.join(_ENQUIRY_COLUMNS)}) VALUES ({', '.join('?' * len(row))})", row)
            _event(execute, enquiry_id, at, actor, "created", None, "new", {"company": data.company})
        return self.get(actor, enquiry_id)

    def get(self, actor: Actor, enquiry_id: str) -> Enquiry:
        """One enquiry the actor may see (else ``EnquiryNotFound``, the same answer as for a missing id)."""
        with self.db.transaction() as execute:
            row = execute(f"SELECT {', '.join(_ENQUIRY_COLUMNS)} FROM enquiries WHERE id = ?", (enquiry_id,)).fetchone()
            involved = _involved(execute, enquiry_id)
        if row is None:
            raise EnquiryNotFound(f"no enquiry {enquiry_id!r}")
        enquiry = _enquiry(row)
        if not may_see(actor, enquiry.lead_municipality, involved, set(enquiry.needs.preferred_municipalities),
                       enquiry.confidential):
            raise EnquiryNotFound(f"no enquiry {enquiry_id!r}")
        return enquiry

    def list(self, actor: Actor, *, status: str | None = None, municipality: str | None = None) -> list[Enquiry]:
        """The enquiries the actor may see, newest first, optionally by status and lead municipality."""
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        if municipality:
            where.append("lead_municipality = ?")
            params.append(municipality)
        sql = f"SELECT {', '.join(_ENQUIRY_COLUMNS)} FROM enquiries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.db.transaction() as execute:
            rows = execute(sql + " ORDER BY received DESC, id DESC", params).fetchall()
            involved = _involved_all(execute)
        out = []
        for row in rows:
            e = _enquiry(row)
            if may_see(actor, e.lead_municipality, involved.get(e.id, set()), set(e.needs.preferred_municipalities),
                       e.confidential):
                out.append(e)
        return out

    def transition(self, actor: Actor, enquiry_id: str, target: str, reason: str | None = None, *,
                   at: datetime | None = None) -> Enquiry:
        """Move an enquiry to ``target`` if the workflow allows it; decisions need a reason."""
        actor.require_write()
        enquiry = self.get(actor, enquiry_id)
        workflow().check(enquiry.status, target, reason)
        at = at or self.clock()
        with self.db.transaction() as execute:
            current = execute("SELECT status FROM enquiries WHERE id = ?", (enquiry_id,)).fetchone()[0]
            workflow().check(current, target, reason)  # re-checked inside the transaction: no lost update
            decided = reason if workflow().status(target).decision else None
            execute("UPDATE enquiries SET status = ?, decision_reason = ?, updated = ? WHERE id = ?",
                    (target, decided, at, enquiry_id))
            _event(execute, enquiry_id, at, actor, "status", current, target, {"reason": reason} if reason else {})
        return self.get(actor, enquiry_id)

    def history(self, actor: Actor, enquiry_id: str) -> list[Event]:
        self.get(actor, enquiry_id)
        with self.db.transaction() as execute:
            rows = execute("SELECT id, enquiry_id, at, actor, action, from_status, to_status, detail "
                           "FROM enquiry_events WHERE enquiry_id = ? ORDER BY at, id", (enquiry_id,)).fetchall()
        return [Event(id=r[0], enquiry_id=r[1], at=to_datetime(r[2]), actor=r[3], action=r[4], from_status=r[5],
                      to_status=r[6], detail=json.loads(r[7])) for r in rows]

    # -- offers ----------------------------------------------------------------------------------
    def offer(self, actor: Actor, enquiry_id: str, site_id: str, facts: Mapping[str, Any],
              layer_versions: Mapping[str, int], *, at: datetime | None = None) -> Offer:
        """Record that a site was offered, with its facts and the layer versions they came from."""
        actor.require_write()
        self.get(actor, enquiry_id)
        at = at or self.clock()
        with self.db.transaction() as execute:
            execute("INSERT INTO enquiry_offers (enquiry_id, site_id, offered_at, offered_by, facts, layer_versions) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (enquiry_id, site_id, at, actor.subject,
                                                  json.dumps(dict(facts), ensure_ascii=False, default=str),
                                                  json.dumps(dict(layer_versions))))
            _event(execute, enquiry_id, at, actor, "offer", None, None,
                   {"site_id": site_id, "layer_versions": dict(layer_versions)})
        return self.offers(actor, enquiry_id)[-1]

    def offers(self, actor: Actor, enquiry_id: str) -> list[Offer]:
        self.get(actor, enquiry_id)
        with self.db.transaction() as execute:
            rows = execute("SELECT id, enquiry_id, site_id, offered_at, offered_by, facts, layer_versions "
                           "FROM enquiry_offers WHERE enquiry_id = ? ORDER BY id", (enquiry_id,)).fetchall()
        return [Offer(id=r[0], enquiry_id=r[1], site_id=r[2], offered_at=to_datetime(r[3]), offered_by=r[4],
                      facts=json.loads(r[5]), layer_versions=json.loads(r[6])) for r in rows]

    # -- tasks and handovers ---------------------------------------------------------------------
    def add_task(self, actor: Actor, enquiry_id: str, task: TaskIn, *, at: datetime | None = None) -> Task:
        actor.require_write()
        self.get(actor, enquiry_id)
        at = at or self.clock()
        with self.db.transaction() as execute:
            execute("INSERT INTO enquiry_tasks (enquiry_id, title, hours_per_week, municipality, planner, done, "
                    "created) VALUES (?, ?, ?, ?, ?, 0, ?)",
                    (enquiry_id, task.title, task.hours_per_week, task.municipality, task.planner, at))
            _event(execute, enquiry_id, at, actor, "task", None, None, task.model_dump())
        return self.tasks(actor, enquiry_id)[-1]

    def tasks(self, actor: Actor, enquiry_id: str) -> list[Task]:
        self.get(actor, enquiry_id)
        with self.db.transaction() as execute:
            rows = execute("SELECT id, enquiry_id, title, hours_per_week, municipality, planner, done, created "
                           "FROM enquiry_tasks WHERE enquiry_id = ? ORDER BY id", (enquiry_id,)).fetchall()
        return [_task(r) for r in rows]

    def hand_over(self, actor: Actor, enquiry_id: str, handover: Handover, *, at: datetime | None = None) -> Enquiry:
        """Hand the enquiry (or one task on it) to a planner in another municipality; recorded in the history."""
        actor.require_write()
        enquiry = self.get(actor, enquiry_id)
        at = at or self.clock()
        with self.db.transaction() as execute:
            if handover.task_id is None:
                if not workflow().status(enquiry.status).open:
                    raise InvalidEnquiry("status", f"enquiry {enquiry_id} is decided ({enquiry.status}); "
                                                   "there is nothing to hand over")
                frm = {"municipality": enquiry.lead_municipality, "planner": enquiry.lead_planner}
                execute("UPDATE enquiries SET lead_municipality = ?, lead_planner = ?, updated = ? WHERE id = ?",
                        (handover.to_municipality, handover.to_planner, at, enquiry_id))
            else:
                row = execute("SELECT municipality, planner FROM enquiry_tasks WHERE id = ? AND enquiry_id = ?",
                              (handover.task_id, enquiry_id)).fetchone()
                if row is None:
                    raise InvalidEnquiry("task_id", f"enquiry {enquiry_id} has no task {handover.task_id}")
                frm = {"municipality": row[0], "planner": row[1]}
                execute("UPDATE enquiry_tasks SET municipality = ?, planner = ? WHERE id = ?",
                        (handover.to_municipality, handover.to_planner, handover.task_id))
            detail = {"from": frm, "to": {"municipality": handover.to_municipality, "planner": handover.to_planner},
                      "task_id": handover.task_id, "reason": handover.reason}
            _event(execute, enquiry_id, at, actor, "handover", None, None, detail)
        return self.get(Actor(actor.subject, actor.role, actor.municipalities | {handover.to_municipality}),
                        enquiry_id)

    # -- capacity --------------------------------------------------------------------------------
    def declare_capacity(self, actor: Actor, capacity: CapacityIn, *, at: datetime | None = None) -> Capacity:
        """A municipality declares its planning hours per week for enquiries in a period (replaces the same start)."""
        actor.require_write()
        actor.require_municipality(capacity.municipality)
        at = at or self.clock()
        with self.db.transaction() as execute:
            execute("DELETE FROM capacity WHERE municipality = ? AND period_start = ?",
                    (capacity.municipality, capacity.period_start))
            execute("INSERT INTO capacity VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (capacity.municipality, capacity.period_start, capacity.period_end, capacity.hours_per_week,
                     json.dumps(capacity.planners, ensure_ascii=False), actor.subject, at))
        return Capacity(**capacity.model_dump(), declared_by=actor.subject, declared_at=at)

    def capacities(self) -> list[Capacity]:
        with self.db.transaction() as execute:
            rows = execute("SELECT municipality, period_start, period_end, hours_per_week, planners, declared_by, "
                           "declared_at FROM capacity ORDER BY municipality, period_start").fetchall()
        return [Capacity(municipality=r[0], period_start=to_date(r[1]), period_end=to_date(r[2]),
                         hours_per_week=r[3], planners=json.loads(r[4]), declared_by=r[5],
                         declared_at=to_datetime(r[6])) for r in rows]

    # -- raw history for indicators (no access filter: aggregated figures only) -----------------------
    def snapshot(self) -> tuple[list[Enquiry], list[Event], list[Task]]:
        """Every enquiry, event and task, for aggregate indicators and the capacity board (never shown as rows)."""
        with self.db.transaction() as execute:
            enquiries = [_enquiry(r) for r in execute(
                f"SELECT {', '.join(_ENQUIRY_COLUMNS)} FROM enquiries ORDER BY received").fetchall()]
            events = [Event(id=r[0], enquiry_id=r[1], at=to_datetime(r[2]), actor=r[3], action=r[4],
                            from_status=r[5], to_status=r[6], detail=json.loads(r[7]))
                      for r in execute("SELECT id, enquiry_id, at, actor, action, from_status, to_status, detail "
                                       "FROM enquiry_events ORDER BY at, id").fetchall()]
            tasks = [_task(r) for r in execute(
                "SELECT id, enquiry_id, title, hours_per_week, municipality, planner, done, created "
                "FROM enquiry_tasks ORDER BY id").fetchall()]
        return enquiries, events, tasks


def _event(execute: Any, enquiry_id: str, at: datetime, actor: Actor, action: str, from_status: str | None,
           to_status: str | None, detail: dict[str, Any]) -> None:
    execute("INSERT INTO enquiry_events (enquiry_id, at, actor, action, from_status, to_status, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (enquiry_id, at, actor.subject, action, from_status, to_status,
             json.dumps(detail, ensure_ascii=False, default=str)))


def _involved(execute: Any, enquiry_id: str) -> set[str]:
    rows = execute("SELECT municipality FROM enquiry_tasks WHERE enquiry_id = ?", (enquiry_id,)).fetchall()
    return {r[0] for r in rows}


def _involved_all(execute: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for enquiry_id, municipality in execute("SELECT enquiry_id, municipality FROM enquiry_tasks").fetchall():
        out.setdefault(enquiry_id, set()).add(municipality)
    return out


def _enquiry(row: tuple[Any, ...]) -> Enquiry:
    values = dict(zip(_ENQUIRY_COLUMNS, row, strict=True))
    values["needs"] = json.loads(values["needs"])
    values["confidential"] = bool(values["confidential"])
    values["received"] = to_datetime(values["received"])
    values["updated"] = to_datetime(values["updated"])
    return Enquiry.model_validate(values)


def _task(r: tuple[Any, ...]) -> Task:
    return Task(id=r[0], enquiry_id=r[1], title=r[2], hours_per_week=r[3], municipality=r[4], planner=r[5],
                done=bool(r[6]), created=to_datetime(r[7]))
