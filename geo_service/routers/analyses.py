"""Analyses: site check (DOK-arealanalyse style) and land-reserve accounting."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

import numpy as np
import shapely
from fastapi import APIRouter, Body, File, Form, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from constraints.errors import SiteGeometryError
from constraints.publish import BUSINESS_AREAS
from constraints.reserve import land_reserve_csv, land_reserve_json
from constraints.reserve_history import reserve_history, version_reserve
from constraints.site import SiteLimits, validate_site
from geo_service.analysis_service import AnalysisService
from geo_service.dependencies import SettingsDep, StoreDep
from geo_service.limits import site_limits
from geo_service.links import with_query
from geo_service.openapi import error_responses
from geo_service.settings import Settings
from layers.crs import WORKING_EPSG, parse_crs_uri, transformer
from layers.errors import InvalidQuery
from layers.store import Store
from layers.upload import MAX_UPLOAD_BYTES, read_upload
from maps.i18n import Lang, parse_lang
from maps.land_reserve import csv_excel_no, xlsx
from maps.land_reserve import page as land_reserve_page
from maps.reserve_history import history_json
from maps.reserve_history import page as history_page
from maps.site_check import hits_geojson, report_pdf, run_site_check, store_is_synthetic, view
from maps.site_report import render_report_page, render_report_panel

router = APIRouter(prefix="/analyses", tags=["Analyses"])

_EXAMPLE = {"type": "Feature", "properties": {"navn": "Tomt ved Kongsberg"}, "geometry": {
    "type": "Polygon", "coordinates": [[[9.64, 59.66], [9.65, 59.66], [9.65, 59.665], [9.64, 59.665], [9.64, 59.66]]]}}


SITE_RESPONSES = error_responses(400, 413, 503)


def _service(request: Request) -> AnalysisService:
    return request.app.state.analysis


_INVALID_REASONS = {  # GEOS's validity reasons, as sentences a planner can act on (never GEOS text)
    "self-intersection": "the outline crosses itself / omrisset krysser seg selv",
    "ring self-intersection": "a ring touches itself / en ring berører seg selv",
    "too few points": "a ring has too few points / en ring har for få punkter",
    "hole lies outside shell": "a hole lies outside its polygon / et hull ligger utenfor polygonet",
    "nested holes": "a hole lies inside another hole / et hull ligger inne i et annet hull",
    "interior is disconnected": "the holes split the polygon in pieces / hullene deler polygonet",
    "nested shells": "one polygon lies inside another / et polygon ligger inne i et annet",
    "duplicate rings": "a ring is repeated / en ring er gjentatt",
    "invalid coordinate": "a coordinate is not a finite number / en koordinat er ikke et tall",
}


def site_geometry(body: Any, crs: str | None, limits: SiteLimits | None = None) -> shapely.Geometry:
    """A GeoJSON Feature, FeatureCollection (one feature) or geometry, in ``crs`` → working CRS.

    Every problem is a ``SiteGeometryError`` with a plain sentence (400), a site past ``limits`` a
    ``SiteTooComplex`` (413); nothing of the parser's or GEOS's own text reaches the client.
    """
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise SiteGeometryError("the body must be a GeoJSON Feature or geometry object with a 'type'")
    if body["type"] == "FeatureCollection":
        features = body.get("features")
        if not isinstance(features, list) or len(features) != 1:
            count = len(features) if isinstance(features, list) else 0
            raise SiteGeometryError(f"a FeatureCollection must hold exactly one site; it holds {count}")
        body = features[0]
        if not isinstance(body, dict) or body.get("type") != "Feature":
            raise SiteGeometryError("the FeatureCollection's member must be a GeoJSON Feature")
    geometry = body.get("geometry") if body["type"] == "Feature" else body
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise SiteGeometryError(f"a site must be a GeoJSON Polygon or MultiPolygon, got {str(kind)[:40]!r}")
    try:
        geom = shapely.geometry.shape(geometry)
    except Exception:  # noqa: BLE001 - any malformed coordinate array; GEOS/numpy text is not for clients
        raise SiteGeometryError("the coordinates are not a valid GeoJSON polygon: rings of [x, y] number "
                                "pairs, each ring closed / koordinatene er ikke et gyldig polygon") from None
    if geom.is_empty:
        raise SiteGeometryError("the geometry is empty / geometrien er tom")
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise SiteGeometryError(_INVALID_REASONS["invalid coordinate"])
    if limits is not None:
        validate_site(geom, replace(limits, max_area_m2=float("inf")))  # the area is judged in metres below
    source = parse_crs_uri(crs, "crs")
    if source.lat_lon:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1].copy())
    if source.epsg != WORKING_EPSG:
        tr = transformer(source.epsg, WORKING_EPSG)
        geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise SiteGeometryError("the site lies outside the area the service covers; check the coordinates and "
                                "the crs parameter / tomta ligger utenfor området tjenesten dekker")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom).split("[")[0].strip().lower()
        sentence = _INVALID_REASONS.get(reason, "the polygon is not valid / polygonet er ugyldig")
        raise SiteGeometryError(f"{sentence}; fix the outline")
    if limits is not None:
        validate_site(geom, limits)
    return geom


SiteFormat = Literal["json", "html", "panel", "pdf"]
LangQuery = Annotated[str | None, Query(description="report language: nb (bokmål, default) or en")]


def _wants(request: Request, f: str | None) -> SiteFormat:
    if f in ("json", "html", "panel", "pdf"):
        return f  # type: ignore[return-value]
    if f is not None:
        raise SiteGeometryError(f"f={f!r} is not a report format; use json, html, panel or pdf")
    return "html" if "text/html" in request.headers.get("accept", "") else "json"


async def _site_response(request: Request, store: Store, settings: Settings, geom: shapely.Geometry,
                         fmt: SiteFormat, lang: Lang, extra: dict[str, Any] | None = None) -> Response:
    """Check ``geom`` inside the site-check gate (limits, concurrency, time budget) and answer in ``fmt``."""
    service = _service(request)
    synthetic = store_is_synthetic(store)
    static_url = _static_url(request)

    def work() -> Response:
        index = service.index()
        check = run_site_check(geom, index, service.rules(), synthetic=synthetic,
                               budget_s=settings.site_check_budget_seconds)
        if fmt == "pdf":
            name = "arealanalyse.pdf" if lang == "nb" else "site-check.pdf"
            return Response(report_pdf(check, index, store, lang), media_type="application/pdf",
                            headers={"Content-Disposition": f'inline; filename="{name}"'})
        if fmt == "html":
            return HTMLResponse(render_report_page(view(check, lang), static_url=static_url))
        body: dict[str, Any] = dict(extra or {})
        if fmt == "panel":
            body |= {"html": render_report_panel(view(check, lang)), "hits": hits_geojson(check),
                     "report": check.report}
            return JSONResponse(_json_safe(body))
        return JSONResponse(_json_safe(body | check.report))

    return await request.app.state.site_gate.run(work)


def _static_url(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/") + "/static"


SiteBody = Annotated[dict[str, Any], Body(openapi_examples={"site": {"value": _EXAMPLE}})]
CrsQuery = Annotated[str | None, Query(description="CRS URI of the body's coordinates (default CRS84)")]


@router.post("/site-check", summary="Check a site against every constraint rule", responses=SITE_RESPONSES)
async def site_check(
    request: Request,
    store: StoreDep,
    body: SiteBody,
    settings: SettingsDep,
    crs: CrsQuery = None,
    f: Annotated[str | None, Query(description="json (default), html, panel (HTML fragment + hit areas) or pdf")]
    = None,
    lang: LangQuery = None,
) -> Response:
    """Per theme and rule: status, outcome sentence, hit area, distance, coverage, authority, legal basis,
    what to do next, and the AR5 breakdown (``?lang=en`` for English).

    Sites past the size limits are refused (413/400) before any work; at most
    ``GEO_SERVICE_SITE_CHECK_CONCURRENCY`` checks run at once per worker (503 with ``Retry-After`` beyond).
    """
    site = site_geometry(body, crs, site_limits(settings))
    return await _site_response(request, store, settings, site, _wants(request, f), parse_lang(lang))


@router.post("/site-check.pdf", summary="The site check as a printable PDF (A4, with a map)",
             responses=SITE_RESPONSES)
async def site_check_pdf(request: Request, store: StoreDep, body: SiteBody, settings: SettingsDep,
                         crs: CrsQuery = None, lang: LangQuery = None) -> Response:
    """The same report as ``/analyses/site-check`` as a PDF, in bokmål or (``?lang=en``) English."""
    site = site_geometry(body, crs, site_limits(settings))
    return await _site_response(request, store, settings, site, "pdf", parse_lang(lang))


@router.post("/site-check/upload", summary="Check a site read from an uploaded file", responses=SITE_RESPONSES)
async def site_check_upload(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="GeoJSON, zipped Shapefile, GeoPackage, GML or FlatGeobuf")],
    index: Annotated[int, Form(ge=0, le=100_000, description="which polygon of the file to check (0: the first)")]
    = 0,
    f: Annotated[str | None, Query(description="json (default), panel or pdf")] = None,
    lang: LangQuery = None,
) -> Response:
    """Every polygon of the file as a candidate (label, area) and the report of the chosen one."""
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    polygons = await run_in_threadpool(read_upload, file.filename or "upload", data)
    if index >= len(polygons):
        raise SiteGeometryError(f"index {index} is past the file's {len(polygons)} polygons; choose 0–"
                                f"{len(polygons) - 1}")
    site = polygons[index].geometry
    validate_site(site, site_limits(settings))
    fmt = _wants(request, f)
    candidates = [{"index": p.index, "label": p.label, "layer": p.layer,
                   "area_daa": round(float(p.geometry.area) / 1000, 3)} for p in polygons]
    return await _site_response(request, store, settings, site, "json" if fmt == "html" else fmt,
                                parse_lang(lang), extra={"candidates": candidates, "chosen": index})


@router.get("/site-check", include_in_schema=False)
def site_check_get(request: Request) -> Response:
    """A browser that opens the site check is sent to the planner map, where sites are drawn or uploaded."""
    root = request.scope.get("root_path", "").rstrip("/")
    lang = request.query_params.get("lang")
    return RedirectResponse(f"{root}/maps/planner" + ("?lang=en" if parse_lang(lang) == "en" else ""),
                            status_code=303)


def _reserve(store: Store) -> tuple[Any, dict[str, Any]]:
    record = store.get_layer(BUSINESS_AREAS).current
    table = version_reserve(store, record)
    return table, {"business_areas_version": record.version, **record.provenance}


@router.get("/land-reserve", summary="Business land per municipality (HTML for browsers, JSON for APIs)")
def land_reserve_view(
    request: Request,
    store: StoreDep,
    f: Annotated[str | None, Query(description="json or html (default: html when the browser asks for it)")] = None,
    lang: LangQuery = None,
) -> Response:
    """Daa of business land by status, net available, and dyrka jord the reserves would consume: a page with a
    table and a chart for browsers (``Accept: text/html``), JSON for ``Accept: application/json``."""
    table, provenance = _reserve(store)
    doc = _json_safe(land_reserve_json(table, provenance))
    accept = request.headers.get("accept", "")
    if f == "html" or (f is None and "text/html" in accept):
        language = parse_lang(lang)
        root = request.scope.get("root_path", "").rstrip("/")
        base = f"{root}/analyses/land-reserve"
        links = {"csv": f"{base}.csv", "csv_excel": f"{base}.csv?variant=excel-no",
                 "xlsx": f"{base}.xlsx?lang={language}", "json": f"{base}?f=json",
                 "history": f"{base}/history?lang={language}"}
        return HTMLResponse(land_reserve_page(doc, table, language, links=links, static_url=_static_url(request),
                                              lang_switch_url=with_query(request, lang="nb" if language == "en"
                                                                         else "en")))
    return JSONResponse(doc)


@router.get("/land-reserve/history", summary="Land reserves per municipality and published version")
def land_reserve_history_view(
    request: Request,
    store: StoreDep,
    f: Annotated[str | None, Query(description="json or html (default: html when the browser asks for it)")] = None,
    lang: LangQuery = None,
) -> Response:
    """Reserve and pre-approved daa and dyrka jord inside reserves, per municipality, for every published
    version of ``business-areas``: charts and a table for browsers, JSON for APIs."""
    history = reserve_history(store)
    accept = request.headers.get("accept", "")
    if f == "html" or (f is None and "text/html" in accept):
        language = parse_lang(lang)
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(history_page(history, language, back_url=f"{root}/analyses/land-reserve?lang={language}",
                                         static_url=_static_url(request),
                                         lang_switch_url=with_query(request, lang="nb" if language == "en" else "en")))
    return JSONResponse(history_json(history))


@router.get("/land-reserve.csv", summary="Business land per municipality (CSV)")
def land_reserve_csv_view(
    store: StoreDep,
    variant: Annotated[str | None, Query(description="plain (default: UTF-8, comma) or excel-no (semicolon, "
                                                     "decimal comma, UTF-8 with BOM, Norwegian headers)")] = None,
) -> Response:
    """The same accounting as CSV: plain for programs, or ``?variant=excel-no`` for Norwegian Excel."""
    table, _ = _reserve(store)
    if variant in (None, "", "plain"):
        return Response(land_reserve_csv(table), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="arealreserve.csv"'})
    if variant == "excel-no":
        return _excel_csv(table)
    raise InvalidQuery("variant", f"variant={variant!r} is not a CSV variant; use plain or excel-no")


@router.get("/land-reserve.no.csv", summary="Business land per municipality (CSV for Norwegian Excel)")
def land_reserve_csv_no_view(store: StoreDep) -> Response:
    """``;``-separated, decimal comma, UTF-8 with BOM and Norwegian headers: opens in columns in Excel."""
    return _excel_csv(_reserve(store)[0])


def _excel_csv(table: Any) -> Response:
    return Response(csv_excel_no(table), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="arealreserve-excel.csv"'})


@router.get("/land-reserve.xlsx", summary="Business land per municipality (Excel workbook)")
def land_reserve_xlsx_view(store: StoreDep, lang: LangQuery = None) -> Response:
    """The accounting as an XLSX workbook with a totals row (headers in bokmål, or English with ``?lang=en``)."""
    table, _ = _reserve(store)
    return Response(xlsx(table, parse_lang(lang)),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="arealreserve.xlsx"'})


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value
