"""The programme's web pages (signed in): dashboard, enquiries, one enquiry, capacity board, report PDF.

Forms post here and are answered with a redirect (post/redirect/get); a domain error comes back as a message
on the page. Cookie sessions carry the CSRF token in every form (checked by the auth dependency).
"""

from __future__ import annotations

import urllib.parse
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from geo_service.auth.deps import EditorDep, ReaderDep
from geo_service.dependencies import StoreDep
from geo_service.routers.programme import (
    MAX_IMPORT_BYTES,
    FromQ,
    ToQ,
    actor,
    capacity_board,
    compute_indicators,
    register_of,
    write,
)
from maps import programme_pages as pages
from maps.page import is_synthetic
from programme.errors import ProgrammeError
from programme.exchange import import_enquiries, read_rows
from programme.indicators import available_quarters as ind_quarters
from programme.lookup import site_facts
from programme.matching import search_query
from programme.model import CapacityIn, EnquiryIn, Handover, TaskIn
from programme.workflow import workflow

router = APIRouter(prefix="/programme", tags=["Programme pages"], include_in_schema=False)
Lang = Annotated[str, Query(pattern="^(nb|en)$")]
Error = Annotated[str | None, Query(max_length=500)]


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _csrf(request: Request) -> str:
    """The session's CSRF token for the forms ('' for bearer-token and API-key clients, who need none)."""
    _, csrf = request.app.state.auth.identify(request)
    return csrf or ""


def _lang_link(request: Request, lang: str) -> str:
    query = dict(request.query_params)
    query["lang"] = "nb" if lang == "en" else "en"
    query.pop("error", None)
    return f"{request.url.path}?{urllib.parse.urlencode(query)}"


def _synthetic(store: Any) -> bool:
    return is_synthetic(store.list_layers())


def _back(url: str, error: Exception | None = None) -> RedirectResponse:
    if error is not None:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"error": str(error)[:400]})
    return RedirectResponse(url, status_code=303)


def _can_write(principal: Any) -> bool:
    return principal.role.value in ("editor", "admin")


@router.get("", response_class=HTMLResponse)
def dashboard(request: Request, store: StoreDep, principal: ReaderDep, first: FromQ = None, last: ToQ = None,
              lang: Lang = "nb", error: Error = None) -> HTMLResponse:
    ind = compute_indicators(request, store, first, last)
    everything = ind_quarters(store, register_of(request).snapshot()[0]) if (first or last) else ind.quarters
    html = pages.render("programme_dashboard.html", lang=lang, root=_root(request), heading="",
                        synthetic=_synthetic(store), lang_link=_lang_link(request, lang), error=error,
                        printing=False, **pages.dashboard_context(ind, lang, everything))
    return HTMLResponse(html)


@router.get("/report.pdf")
def report(request: Request, store: StoreDep, principal: ReaderDep, first: FromQ = None, last: ToQ = None,
           lang: Lang = "nb") -> Response:
    ind = compute_indicators(request, store, first, last)
    data = pages.report_pdf(ind, lang, _synthetic(store), ind.quarters)
    name = f"programrapport-{ind.quarters[0]}-{ind.quarters[-1]}.pdf" if ind.quarters else "programrapport.pdf"
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get("/list", response_class=HTMLResponse)
def enquiries_page(request: Request, store: StoreDep, principal: ReaderDep, lang: Lang = "nb",
                   status: Annotated[str | None, Query(max_length=40)] = None, error: Error = None) -> HTMLResponse:
    flow = workflow()
    rows = register_of(request).list(actor(principal), status=status or None)
    html = pages.render("programme_enquiries.html", lang=lang, root=_root(request),
                        heading=pages.texts(lang)["nav_enquiries"], synthetic=_synthetic(store),
                        lang_link=_lang_link(request, lang), error=error, enquiries=rows, status=status,
                        statuses=list(flow.statuses.values()),
                        labels={k: s.label(lang) for k, s in flow.statuses.items()},
                        can_write=_can_write(principal), csrf=_csrf(request))
    return HTMLResponse(html)


def _number(value: str | None) -> float | None:
    value = (value or "").strip().replace(",", ".").replace(" ", "")
    return float(value) if value else None


@router.post("/list")
def create_from_form(request: Request, principal: EditorDep, company: Annotated[str, Form()],
                     lead_municipality: Annotated[str, Form()], org_number: Annotated[str, Form()] = "",
                     nace: Annotated[str, Form()] = "", land_daa: Annotated[str, Form()] = "",
                     premises_m2: Annotated[str, Form()] = "", power_mw: Annotated[str, Form()] = "",
                     jobs: Annotated[str, Form()] = "", source: Annotated[str, Form()] = "",
                     confidential: Annotated[str, Form()] = "", lang: Lang = "nb") -> RedirectResponse:
    back = f"{_root(request)}/programme/list?lang={lang}"
    try:
        needs = {k: v for k, v in {"land_daa": _number(land_daa), "premises_m2": _number(premises_m2),
                                   "power_mw": _number(power_mw), "jobs": _number(jobs)}.items() if v is not None}
        enquiry = EnquiryIn(company=company, org_number=org_number or None, nace=nace or None, needs=needs,
                            source=source or None, confidential=bool(confidential),
                            lead_municipality=lead_municipality)
        made = write(request, principal, "create", enquiry.lead_municipality,
                     lambda: register_of(request).create(actor(principal), enquiry))
    except (ValueError, ValidationError, ProgrammeError) as exc:
        return _back(back, _plain_error(exc))
    return _back(f"{_root(request)}/programme/list/{made.id}?lang={lang}")


@router.post("/list/import")
async def import_from_form(request: Request, principal: EditorDep, file: Annotated[UploadFile, File()],
                           lang: Lang = "nb") -> RedirectResponse:
    back = f"{_root(request)}/programme/list?lang={lang}"
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return _back(back, ValueError("an import file may be at most 5 MB"))
    try:
        rows = read_rows(data, file.filename or "import.csv")
        write(request, principal, "import", "enquiries",
              lambda: import_enquiries(register_of(request), actor(principal), rows), source_name=file.filename)
    except ProgrammeError as exc:
        return _back(back, exc)
    return _back(back)


def _plain_error(exc: Exception) -> Exception:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return ValueError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    return exc


@router.get("/list/{enquiry_id}", response_class=HTMLResponse)
def enquiry_page(request: Request, enquiry_id: str, store: StoreDep, principal: ReaderDep, lang: Lang = "nb",
                 error: Error = None) -> HTMLResponse:
    reg, who, flow = register_of(request), actor(principal), workflow()
    enquiry = reg.get(who, enquiry_id)
    search = urllib.parse.urlencode([*search_query(enquiry.needs), ("lang", lang)])
    html = pages.render(
        "programme_enquiry.html", lang=lang, root=_root(request), heading=enquiry.id, synthetic=_synthetic(store),
        lang_link=_lang_link(request, lang), error=error, e=enquiry, history=reg.history(who, enquiry_id),
        tasks=reg.tasks(who, enquiry_id), offers=reg.offers(who, enquiry_id),
        labels={k: s.label(lang) for k, s in flow.statuses.items()},
        next_statuses=[flow.status(s) for s in flow.transitions.get(enquiry.status, ())],
        shown_facts=("status", "net_available_daa", "kommunenummer", "arealformal", "risk", "score"),
        describe=lambda h: pages.describe(h, lang), search_url=f"{_root(request)}/maps/investor?{search}",
        can_write=_can_write(principal), csrf=_csrf(request))
    return HTMLResponse(html)


def _act(request: Request, principal: Any, what: str, enquiry_id: str, lang: str, action: Any) -> RedirectResponse:
    back = f"{_root(request)}/programme/list/{urllib.parse.quote(enquiry_id)}?lang={lang}"
    try:
        write(request, principal, what, enquiry_id, action)
    except (ValueError, ValidationError, ProgrammeError) as exc:
        return _back(back, _plain_error(exc))
    return _back(back)


@router.post("/list/{enquiry_id}/status")
def status_form(request: Request, enquiry_id: str, principal: EditorDep, status: Annotated[str, Form()],
                reason: Annotated[str, Form()] = "", lang: Lang = "nb") -> RedirectResponse:
    return _act(request, principal, "status", enquiry_id, lang, lambda: register_of(request).transition(
        actor(principal), enquiry_id, status, reason or None))


@router.post("/list/{enquiry_id}/task")
def task_form(request: Request, enquiry_id: str, principal: EditorDep, title: Annotated[str, Form()],
              hours_per_week: Annotated[str, Form()], municipality: Annotated[str, Form()],
              lang: Lang = "nb") -> RedirectResponse:
    return _act(request, principal, "task", enquiry_id, lang, lambda: register_of(request).add_task(
        actor(principal), enquiry_id, TaskIn(title=title, hours_per_week=_number(hours_per_week) or 0,
                                             municipality=municipality)))


@router.post("/list/{enquiry_id}/handover")
def handover_form(request: Request, enquiry_id: str, principal: EditorDep,
                  to_municipality: Annotated[str, Form()], to_planner: Annotated[str, Form()] = "",
                  task_id: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                  lang: Lang = "nb") -> RedirectResponse:
    task = int(task_id) if task_id.isascii() and task_id.isdigit() and len(task_id) < 12 else None
    return _act(request, principal, "handover", enquiry_id, lang, lambda: register_of(request).hand_over(
        actor(principal), enquiry_id, Handover(to_municipality=to_municipality, to_planner=to_planner or None,
                                               task_id=task, reason=reason or None)))


@router.post("/list/{enquiry_id}/offer")
def offer_form(request: Request, enquiry_id: str, store: StoreDep, principal: EditorDep,
               site_id: Annotated[str, Form()], lang: Lang = "nb") -> RedirectResponse:
    def offer() -> None:
        facts, versions = site_facts(store, site_id.strip())
        register_of(request).offer(actor(principal), enquiry_id, site_id.strip(), facts, versions)

    return _act(request, principal, "offer", enquiry_id, lang, offer)


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request, store: StoreDep, principal: ReaderDep, lang: Lang = "nb",
               on: Annotated[date | None, Query(alias="date")] = None, error: Error = None) -> HTMLResponse:
    html = pages.render("programme_board.html", lang=lang, root=_root(request),
                        heading=pages.texts(lang)["nav_board"], synthetic=_synthetic(store),
                        lang_link=_lang_link(request, lang), error=error,
                        board=capacity_board(register_of(request), on), can_write=_can_write(principal),
                        csrf=_csrf(request))
    return HTMLResponse(html)


@router.post("/board")
def capacity_form(request: Request, principal: EditorDep, municipality: Annotated[str, Form()],
                  period_start: Annotated[str, Form()], period_end: Annotated[str, Form()],
                  hours_per_week: Annotated[str, Form()], lang: Lang = "nb") -> RedirectResponse:
    back = f"{_root(request)}/programme/board?lang={lang}"
    try:
        capacity = CapacityIn(municipality=municipality, period_start=period_start, period_end=period_end,
                              hours_per_week=_number(hours_per_week) or 0)
        write(request, principal, "capacity", municipality,
              lambda: register_of(request).declare_capacity(actor(principal), capacity))
    except (ValueError, ValidationError, ProgrammeError) as exc:
        return _back(back, _plain_error(exc))
    return _back(back)

