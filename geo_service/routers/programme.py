"""The programme's HTTP API: enquiries and their workflow, capacity, indicators (signed-in users only).

Thin: identity comes from the auth dependencies and is handed to the domain as a plain ``Actor``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, File, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from geo_service.audit import audited
from geo_service.auth.deps import EditorDep, ReaderDep
from geo_service.auth.principal import Principal
from geo_service.dependencies import StoreDep
from layers.codes import KONGSBERGREGIONEN
from maps.programme_tables import table_bytes
from programme import indicators as ind
from programme.access import Actor
from programme.capacity import board, suggestions
from programme.errors import InvalidEnquiry
from programme.exchange import export_csv, export_xlsx, import_enquiries, read_rows
from programme.lookup import site_facts
from programme.matching import criteria
from programme.model import CapacityIn, EnquiryIn, Handover, TaskIn
from programme.register import EnquiryRegister

router = APIRouter(prefix="/programme", tags=["Programme"], responses={
    401: {"description": "Not signed in (the programme is never public)"},
    403: {"description": "The role or municipalities do not allow it"},
    404: {"description": "No such enquiry, or one you may not see"},
    409: {"description": "The workflow does not allow that status change"}})
MAX_IMPORT_BYTES = 5 * 2**20
QUARTER = r"^\d{4}-Q[1-4]$"
T = TypeVar("T")


def actor(principal: Principal) -> Actor:
    """The signed-in principal as the domain sees it."""
    return Actor(principal.subject, principal.role.value, frozenset(principal.municipalities))


def register_of(request: Request) -> EnquiryRegister:
    return request.app.state.programme


def _json(model: Any) -> Any:
    return model.model_dump(mode="json")


def write(request: Request, principal: Principal, action: str, target: str, call: Callable[[], T], **detail: Any) -> T:
    """Run a programme write for ``principal`` and record it in the service's audit log (who, what, result);
    the enquiry's own history records the change itself."""
    with audited(request.app.state.store, principal, f"programme.{action}", target, **detail):
        return call()


@router.get("/enquiries", summary="Enquiries you may see, newest first")
def list_enquiries(request: Request, principal: ReaderDep,
                   status: Annotated[str | None, Query(max_length=40)] = None,
                   municipality: Annotated[str | None, Query(pattern=r"^\d{4}$")] = None) -> dict[str, Any]:
    rows = register_of(request).list(actor(principal), status=status, municipality=municipality)
    return {"enquiries": [_json(e) for e in rows], "numberReturned": len(rows)}


@router.post("/enquiries", status_code=201, summary="Register an enquiry (editor of the lead municipality)")
def create_enquiry(request: Request, principal: EditorDep, enquiry: EnquiryIn) -> Any:
    made = write(request, principal, "create", enquiry.lead_municipality,
                 lambda: register_of(request).create(actor(principal), enquiry))
    return _json(made)


@router.get("/enquiries.csv", summary="Enquiries as CSV (?variant=excel-no: ';', decimal comma, BOM)")
def enquiries_csv(request: Request, principal: ReaderDep,
                  variant: Annotated[str, Query(pattern="^(plain|excel-no)$")] = "plain") -> Response:
    data = export_csv(register_of(request).list(actor(principal)), excel_no=variant == "excel-no")
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="henvendelser.csv"'})


@router.get("/enquiries.xlsx", summary="Enquiries as an Excel workbook")
def enquiries_xlsx(request: Request, principal: ReaderDep) -> Response:
    return Response(export_xlsx(register_of(request).list(actor(principal))),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="henvendelser.xlsx"'})


@router.post("/enquiries/import", status_code=201, summary="Import enquiries from CSV or XLSX (all or none)")
async def import_file(request: Request, principal: EditorDep, file: Annotated[UploadFile, File()]) -> Any:
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return JSONResponse({"code": "PayloadTooLarge", "description": "an import file may be at most 5 MB"},
                            status_code=413)
    rows = read_rows(data, file.filename or "import.csv")
    made = write(request, principal, "import", "enquiries",
                 lambda: import_enquiries(register_of(request), actor(principal), rows), source_name=file.filename)
    return {"imported": [e.id for e in made], "numberImported": len(made)}


@router.get("/enquiries/{enquiry_id}", summary="One enquiry with its history, tasks and offered sites")
def get_enquiry(request: Request, enquiry_id: str, principal: ReaderDep) -> dict[str, Any]:
    reg, who = register_of(request), actor(principal)
    enquiry = reg.get(who, enquiry_id)
    return {**_json(enquiry), "history": [_json(h) for h in reg.history(who, enquiry_id)],
            "tasks": [_json(t) for t in reg.tasks(who, enquiry_id)],
            "offers": [_json(o) for o in reg.offers(who, enquiry_id)],
            "searchCriteria": criteria(enquiry.needs)}


@router.post("/enquiries/{enquiry_id}/status", summary="Move an enquiry on in the workflow")
def change_status(request: Request, enquiry_id: str, principal: EditorDep,
                  status: Annotated[str, Body(max_length=40)],
                  reason: Annotated[str | None, Body(max_length=1_000)] = None) -> Any:
    return _json(write(request, principal, "status", enquiry_id, lambda: register_of(request).transition(
        actor(principal), enquiry_id, status, reason), status=status))


@router.post("/enquiries/{enquiry_id}/tasks", status_code=201, summary="Add a planning task")
def add_task(request: Request, enquiry_id: str, principal: EditorDep, task: TaskIn) -> Any:
    return _json(write(request, principal, "task", enquiry_id,
                       lambda: register_of(request).add_task(actor(principal), enquiry_id, task)))


@router.post("/enquiries/{enquiry_id}/handovers", summary="Hand the enquiry or a task to another municipality")
def hand_over(request: Request, enquiry_id: str, principal: EditorDep, handover: Handover) -> Any:
    return _json(write(request, principal, "handover", enquiry_id,
                       lambda: register_of(request).hand_over(actor(principal), enquiry_id, handover),
                       to_municipality=handover.to_municipality))


@router.post("/enquiries/{enquiry_id}/offers", status_code=201,
             summary="Record a site offered; its facts and layer versions are read from the service now")
def offer_site(request: Request, enquiry_id: str, principal: EditorDep, store: StoreDep,
               site_id: Annotated[str, Body(embed=True, max_length=80)]) -> Any:
    def offer() -> Any:
        facts, versions = site_facts(store, site_id)
        return register_of(request).offer(actor(principal), enquiry_id, site_id, facts, versions)

    return _json(write(request, principal, "offer", enquiry_id, offer, site_id=site_id))


@router.get("/capacity", summary="Declared planning capacity per municipality and period")
def list_capacity(request: Request, _: ReaderDep) -> dict[str, Any]:
    return {"capacity": [_json(c) for c in register_of(request).capacities()]}


@router.post("/capacity", status_code=201, summary="Declare a municipality's capacity for a period")
def declare_capacity(request: Request, principal: EditorDep, capacity: CapacityIn) -> Any:
    return _json(write(request, principal, "capacity", capacity.municipality,
                       lambda: register_of(request).declare_capacity(actor(principal), capacity)))


def capacity_board(reg: EnquiryRegister, on: date | None) -> dict[str, Any]:
    enquiries, events, tasks = reg.snapshot()
    moment = datetime.now(UTC) if on is None else datetime(on.year, on.month, on.day, 12, tzinfo=UTC)
    loads = board(enquiries, events, tasks, reg.capacities(), moment)
    return {"date": moment.date().isoformat(),
            "municipalities": [{"kommunenummer": x.municipality, "kommunenavn": x.name,
                                "demandHours": x.demand_hours, "capacityHours": x.capacity_hours,
                                "spareHours": round(x.spare_hours, 2), "utilisation": x.utilisation,
                                "openEnquiries": x.open_enquiries, "openTasks": x.open_tasks} for x in loads],
            "suggestions": [s.__dict__ for s in suggestions(loads, enquiries)]}


@router.get("/capacity/board", summary="Open work against capacity per municipality, with suggestions")
def get_board(request: Request, _: ReaderDep, on: Annotated[date | None, Query(alias="date")] = None
              ) -> dict[str, Any]:
    return capacity_board(register_of(request), on)


def compute_indicators(request: Request, store: Any, first: str | None, last: str | None) -> ind.Indicators:
    if first and last and first > last:
        raise InvalidEnquiry("from", f"the period starts ({first}) after it ends ({last})")
    reg = register_of(request)
    enquiries, events, tasks = reg.snapshot()
    return ind.compute(store, enquiries, events, tasks, reg.capacities(), first, last)


FromQ = Annotated[str | None, Query(alias="from", pattern=QUARTER, description="first quarter, e.g. 2025-Q1")]
ToQ = Annotated[str | None, Query(alias="to", pattern=QUARTER, description="last quarter, e.g. 2026-Q4")]


@router.get("/indicators", summary="Programme indicators per quarter and municipality")
def get_indicators(request: Request, store: StoreDep, _: ReaderDep, first: FromQ = None, last: ToQ = None
                   ) -> dict[str, Any]:
    result = compute_indicators(request, store, first, last)
    return {"quarters": result.quarters, "municipalities": KONGSBERGREGIONEN,
            **{name: frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
               for name, frame in result.tables().items()}}


@router.get("/indicators/{table}.{fmt}", summary="One indicator table as CSV or XLSX")
def indicator_table(request: Request, store: StoreDep, _: ReaderDep, table: str, fmt: str, first: FromQ = None,
                    last: ToQ = None) -> Response:
    tables = compute_indicators(request, store, first, last).tables()
    if table not in tables or fmt not in ("csv", "xlsx"):
        raise InvalidEnquiry("table", f"no table {table}.{fmt}; tables: {', '.join(tables)} as .csv or .xlsx")
    data, media = table_bytes(tables[table], fmt, table)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{table}.{fmt}"'})
