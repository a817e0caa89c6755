"""Fact sheets, comparison sheets and result-list exports of the site portfolio (HTML, PDF, CSV, XLSX, GPKG,
GeoJSON). Registered before the ``sites`` router so that ``/sites/search.csv`` is not read as a site id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo_service.sites_service import SitesService
from maps import factsheet, site_exports
from sites.answers import compare_answer, site_answer
from sites.errors import SearchCriteriaError
from sites.search import request_from_query, search

router = APIRouter(prefix="/sites", tags=["Site portfolio"])
Lang = Annotated[str, Query(pattern="^(nb|en)$", description="nb (bokmål) or en")]
SHEET_MAX = 4


def _service(request: Request) -> SitesService:
    return request.app.state.sites


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _factsheet(request: Request, site_id: str, lang: str) -> dict:
    service = _service(request)
    portfolio, row = service.site(site_id)
    layers = {r.id: {"title": r.title, "attribution": r.attribution} for r in service.store.list_layers()}
    answer = site_answer(row, portfolio.record.current.version, portfolio.record.current.provenance, layers)
    return factsheet.factsheet_context(service.store, answer, row.geometry, lang, _root(request))


@router.get("/{site_id}/factsheet", response_class=HTMLResponse, summary="A site's fact sheet (printable HTML)")
def factsheet_html(request: Request, site_id: str, lang: Lang = "nb") -> HTMLResponse:
    return HTMLResponse(factsheet.render_factsheet(_factsheet(request, site_id, lang)))


@router.get("/{site_id}/factsheet.pdf", summary="A site's fact sheet as PDF (A4)")
def factsheet_pdf(request: Request, site_id: str, lang: Lang = "nb") -> Response:
    data = _cached_pdf(request, ("factsheet", site_id, lang), lambda: factsheet.factsheet_pdf(
        _factsheet(request, site_id, lang)))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="faktaark-{site_id}.pdf"'})


def _compare(request: Request, ids: str, lang: str) -> dict:
    wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
    if not 2 <= len(wanted) <= SHEET_MAX:
        raise SearchCriteriaError(f"ids: a comparison sheet takes 2–{SHEET_MAX} site ids; got {len(wanted)}", "ids")
    service = _service(request)
    rows = [service.site(i)[1] for i in wanted]
    answer = compare_answer(rows, service.portfolio().table.version)
    return factsheet.compare_context(service.store, answer, lang, _root(request))


@router.get("/compare/sheet", response_class=HTMLResponse, summary="2–4 sites side by side (printable HTML)")
def compare_html(request: Request, ids: Annotated[str, Query(max_length=400)], lang: Lang = "nb") -> HTMLResponse:
    return HTMLResponse(factsheet.render_compare(_compare(request, ids, lang)))


@router.get("/compare/sheet.pdf", summary="2–4 sites side by side as PDF")
def compare_pdf(request: Request, ids: Annotated[str, Query(max_length=400)], lang: Lang = "nb") -> Response:
    data = _cached_pdf(request, ("compare", ids, lang), lambda: factsheet.compare_pdf(_compare(request, ids, lang)))
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": 'inline; filename="tomter.pdf"'})


def _cached_pdf(request: Request, key: tuple[str, ...], make: Callable[[], bytes]) -> bytes:
    """PDFs by (what, sites version): a repeated request is served from memory until the register changes."""
    service = _service(request)
    version = service.portfolio().record.current.version
    cache = getattr(request.app.state, "factsheet_pdfs", None)
    if cache is None:
        cache = request.app.state.factsheet_pdfs = {}
    full = (*key, version)
    if full not in cache:
        if len(cache) > 256:
            cache.clear()
        cache[full] = make()
    return cache[full]


@router.get("/search.{fmt}", summary="The ranked result list as CSV, XLSX, GeoPackage or GeoJSON")
def export(request: Request, fmt: str) -> Response:
    """The same query string as ``GET /sites/search`` (all matches, up to 1 000); CSV ``variant=excel-no`` for
    Norwegian Excel (``;``, decimal comma, UTF-8 BOM)."""
    if fmt not in site_exports.FORMATS:
        raise SearchCriteriaError(f"format: use one of {', '.join(site_exports.FORMATS)}, not {fmt!r}", "format")
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("variant", "limit", "offset")]
    variant = request.query_params.get("variant", "plain")
    if variant not in ("plain", "excel-no"):
        raise SearchCriteriaError("variant: plain or excel-no", "variant")
    parsed = request_from_query([*params, ("limit", "1000")])
    portfolio = _service(request).portfolio()
    result = search(portfolio.table, parsed)
    ranked = [(s.row, s.site_id, s.score) for s in result.sites]
    frame = site_exports.result_frame(portfolio.frame, ranked)
    data = site_exports.to_bytes(frame, fmt, excel_no=variant == "excel-no")
    return Response(data, media_type=site_exports.FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="tomter.{fmt}"'})

