"""Enquiries in and out as CSV or XLSX (openpyxl): the programme office's spreadsheets.

Export writes one row per enquiry the actor may see. Import validates every row first (row number and field in
the error) and only then registers them, so a bad file registers nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from pydantic import ValidationError

from programme.access import Actor
from programme.errors import InvalidEnquiry
from programme.model import Enquiry, EnquiryIn
from programme.register import EnquiryRegister
from programme.workflow import workflow

COLUMNS = ("id", "company", "org_number", "nace", "contact_name", "contact_email", "contact_phone", "land_daa",
           "premises_m2", "power_mw", "jobs", "timeline", "preferred_municipalities", "requirements", "source",
           "confidential", "lead_municipality", "lead_planner", "received", "status", "decision_reason")
_NEEDS = ("land_daa", "premises_m2", "power_mw", "jobs", "timeline", "preferred_municipalities", "requirements")


def _row(e: Enquiry) -> dict[str, Any]:
    needs = e.needs.model_dump()
    out = {c: getattr(e, c, None) for c in COLUMNS if c not in _NEEDS}
    out.update({k: needs[k] for k in _NEEDS})
    out["preferred_municipalities"] = ",".join(needs["preferred_municipalities"])
    out["received"] = e.received.isoformat()
    out["confidential"] = "ja" if e.confidential else "nei"
    return {c: out.get(c) for c in COLUMNS}


def export_csv(enquiries: Iterable[Enquiry], *, excel_no: bool = False) -> bytes:
    """CSV; ``excel_no``: semicolons, decimal comma and a UTF-8 BOM, as Norwegian Excel opens it."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";" if excel_no else ",", lineterminator="\r\n" if excel_no else "\n")
    writer.writerow(COLUMNS)
    for e in enquiries:
        row = _row(e)
        writer.writerow([_cell(row[c], excel_no) for c in COLUMNS])
    text = buf.getvalue()
    return ("\ufeff" + text).encode("utf-8") if excel_no else text.encode("utf-8")


def _cell(value: Any, excel_no: bool) -> Any:
    if value is None:
        return ""
    if excel_no and isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return value


def export_xlsx(enquiries: Iterable[Enquiry]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Henvendelser"
    ws.append(list(COLUMNS))
    for e in enquiries:
        row = _row(e)
        ws.append([row[c] for c in COLUMNS])
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_rows(data: bytes, filename: str) -> list[dict[str, Any]]:
    """Rows of an uploaded CSV (comma or semicolon, with or without BOM) or XLSX file, keyed by header."""
    if filename.lower().endswith(".xlsx"):
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not a workbook
            raise InvalidEnquiry("file", f"{filename} is not a readable XLSX workbook ({type(exc).__name__})") from None
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
        if not rows:
            return []
        header = [str(h or "").strip() for h in rows[0]]
        return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(v not in (None, "") for v in r)]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidEnquiry("file", f"{filename} is not UTF-8 text; save it as CSV UTF-8") from None
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    return [dict(r) for r in reader]


def _number(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        return value or None
    return value


@dataclass(frozen=True)
class ImportRow:
    """A validated import row: the enquiry, the status it has reached and the decision reason if decided."""

    enquiry: EnquiryIn
    status: str
    reason: str | None


def parse_rows(rows: list[dict[str, Any]]) -> list[ImportRow]:
    """Validate import rows; the first bad row raises naming its row number and field."""
    out = []
    for n, raw in enumerate(rows, start=2):  # row 1 is the header
        row = {k.strip(): v for k, v in raw.items() if k}
        needs = {k: _number(row.get(k)) for k in ("land_daa", "premises_m2", "power_mw", "jobs")}
        needs.update(timeline=row.get("timeline") or None, requirements=row.get("requirements") or None,
                     preferred_municipalities=[p.strip() for p in str(row.get("preferred_municipalities") or "")
                                               .replace(";", ",").split(",") if p.strip()])
        received = row.get("received")
        data = {
            "company": row.get("company"), "org_number": str(row["org_number"]) if row.get("org_number") else None,
            "nace": row.get("nace") or None, "contact_name": row.get("contact_name") or None,
            "contact_email": row.get("contact_email") or None, "contact_phone": row.get("contact_phone") or None,
            "needs": {k: v for k, v in needs.items() if v not in (None, "")}, "source": row.get("source") or None,
            "confidential": str(row.get("confidential") or "ja").strip().lower() in ("ja", "yes", "true", "1"),
            "lead_municipality": str(row.get("lead_municipality") or "").strip(),
            "lead_planner": row.get("lead_planner") or None,
            "received": received if isinstance(received, datetime) or not received else str(received),
        }
        try:
            enquiry = EnquiryIn.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise InvalidEnquiry(field, f"row {n}: {field}: {first['msg']}") from None
        status = str(row.get("status") or "new").strip()
        if status not in workflow().statuses:
            raise InvalidEnquiry("status", f"row {n}: unknown status {status!r}; use one of "
                                           f"{', '.join(workflow().statuses)}")
        if workflow().status(status).decision and not row.get("decision_reason"):
            raise InvalidEnquiry("decision_reason", f"row {n}: status {status!r} needs a decision_reason")
        out.append(ImportRow(enquiry, status, row.get("decision_reason") or None))
    return out


def path_to(status: str) -> list[str]:
    """The shortest chain of allowed transitions from ``new`` to ``status`` (breadth first)."""
    flow = workflow()
    frontier, seen = [["new"]], {"new"}
    while frontier:
        path = frontier.pop(0)
        if path[-1] == status:
            return path[1:]
        for nxt in flow.transitions.get(path[-1], ()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append([*path, nxt])
    raise InvalidEnquiry("status", f"status {status!r} cannot be reached from 'new'")


def import_enquiries(register: EnquiryRegister, actor: Actor, rows: list[dict[str, Any]]) -> list[Enquiry]:
    """Register every row (validated all first); a row's status is reached through allowed transitions."""
    parsed = parse_rows(rows)
    actor.require_write()
    for row in parsed:
        actor.require_municipality(row.enquiry.lead_municipality)
    created = []
    for row in parsed:
        e = register.create(actor, row.enquiry)
        for step in path_to(row.status):
            e = register.transition(actor, e.id, step, row.reason)
        created.append(e)
    return created
