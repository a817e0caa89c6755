"""Analyses: site check (DOK-arealanalyse style) and land-reserve accounting."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import shapely
from fastapi import APIRouter, Body, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from constraints.errors import SiteGeometryError
from constraints.publish import BUSINESS_AREAS
from constraints.reserve import land_reserve, land_reserve_csv, land_reserve_json
from geo_service.analysis_service import AnalysisService
from geo_service.dependencies import StoreDep
from layers.crs import WORKING_EPSG, parse_crs_uri, transformer
from layers.store import Store
from layers.upload import read_upload
from maps.i18n import Lang, parse_lang
from maps.site_check import hits_geojson, report_pdf, run_site_check, store_is_synthetic, view
from maps.site_report import render_report_page, render_report_panel

router = APIRouter(prefix="/analyses", tags=["Analyses"])

_EXAMPLE = {"type": "Feature", "properties": {"navn": "Tomt ved Kongsberg"}, "geometry": {
    "type": "Polygon", "coordinates": [[[9.64, 59.66], [9.65, 59.66], [9.65, 59.665], [9.64, 59.665], [9.64, 59.66]]]}}


def _service(request: Request) -> AnalysisService:
    return request.app.state.analysis


def site_geometry(body: Any, crs: str | None) -> shapely.Geometry:
    """A GeoJSON Feature, FeatureCollection (one feature) or geometry, in ``crs`` → working CRS."""
    if not isinstance(body, dict) or "type" not in body:
        raise SiteGeometryError("the body must be a GeoJSON Feature or geometry object with a 'type'")
    if body["type"] == "FeatureCollection":
        features = body.get("features") or []
        if len(features) != 1:
            raise SiteGeometryError(f"a FeatureCollection must hold exactly one site; it holds {len(features)}")
        body = features[0]
    geometry = body.get("geometry") if body["type"] == "Feature" else body
    try:
        geom = shapely.geometry.shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise SiteGeometryError(f"the geometry is not valid GeoJSON ({exc})") from None
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise SiteGeometryError(f"a site must be a Polygon or MultiPolygon, got {geom.geom_type}")
    source = parse_crs_uri(crs, "crs")
    if source.lat_lon:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1].copy())
    if source.epsg != WORKING_EPSG:
        tr = transformer(source.epsg, WORKING_EPSG)
        geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    if not geom.is_valid:
        raise SiteGeometryError(f"the polygon is invalid ({shapely.is_valid_reason(geom)}); fix the outline")
    return geom


SiteFormat = Literal["json", "html", "panel", "pdf"]
LangQuery = Annotated[str | None, Query(description="report language: nb (bokmål, default) or en")]


def _wants(request: Request, f: str | None) -> SiteFormat:
    if f in ("json", "html", "panel", "pdf"):
        return f  # type: ignore[return-value]
    if f is not None:
        raise SiteGeometryError(f"f={f!r} is not a report format; use json, html, panel or pdf")
    return "html" if "text/html" in request.headers.get("accept", "") else "json"


def _site_response(request: Request, store: Store, geom: shapely.Geometry, fmt: SiteFormat, lang: Lang,
                   extra: dict[str, Any] | None = None) -> Response:
    service = _service(request)
    index = service.index()
    check = run_site_check(geom, index, service.rules(), synthetic=store_is_synthetic(store))
    if fmt == "pdf":
        pdf = report_pdf(check, index, store, lang)
        name = "arealanalyse.pdf" if lang == "nb" else "site-check.pdf"
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})
    if fmt == "html":
        return HTMLResponse(render_report_page(view(check, lang), static_url=_static_url(request),
                                               lang_switch_url=None))
    body: dict[str, Any] = dict(extra or {})
    if fmt == "panel":
        body |= {"html": render_report_panel(view(check, lang)), "hits": hits_geojson(check),
                 "report": check.report}
        return JSONResponse(_json_safe(body))
    return JSONResponse(_json_safe(body | check.report) if extra else _json_safe(check.report))


def _static_url(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/") + "/static"


@router.post("/site-check", summary="Check a site against every constraint rule")
def site_check(
    request: Request,
    store: StoreDep,
    body: Annotated[dict[str, Any], Body(openapi_examples={"site": {"value": _EXAMPLE}})],
    crs: Annotated[str | None, Query(description="CRS URI of the body's coordinates (default CRS84)")] = None,
    f: Annotated[str | None, Query(description="json (default), html, panel (HTML fragment + hit areas) or pdf")]
    = None,
    lang: LangQuery = None,
) -> Response:
    """Per theme and rule: status, outcome sentence, hit area, distance, coverage, authority, legal basis,
    what to do next, and the AR5 breakdown (``?lang=en`` for English)."""
    return _site_response(request, store, site_geometry(body, crs), _wants(request, f), parse_lang(lang))


@router.post("/site-check.pdf", summary="The site check as a printable PDF (A4, with a map)")
def site_check_pdf(
    request: Request,
    store: StoreDep,
    body: Annotated[dict[str, Any], Body(openapi_examples={"site": {"value": _EXAMPLE}})],
    crs: Annotated[str | None, Query(description="CRS URI of the body's coordinates (default CRS84)")] = None,
    lang: LangQuery = None,
) -> Response:
    """The same report as ``/analyses/site-check`` as a PDF, in bokmål or (``?lang=en``) English."""
    return _site_response(request, store, site_geometry(body, crs), "pdf", parse_lang(lang))


@router.post("/site-check/upload", summary="Check a site read from an uploaded file")
def site_check_upload(
    request: Request,
    store: StoreDep,
    file: Annotated[UploadFile, File(description="GeoJSON, zipped Shapefile, GeoPackage, GML or FlatGeobuf")],
    index: Annotated[int, Form(ge=0, description="which polygon of the file to check (0 = the first)")] = 0,
    f: Annotated[str | None, Query(description="json (default), panel or pdf")] = None,
    lang: LangQuery = None,
) -> Response:
    """Every polygon of the file as a candidate (label, area, CRS84 geometry) and the report of the chosen one."""
    polygons = read_upload(file.filename or "upload", file.file.read())
    if index >= len(polygons):
        raise SiteGeometryError(f"index {index} is past the file's {len(polygons)} polygons; choose 0–"
                                f"{len(polygons) - 1}")
    fmt = _wants(request, f)
    candidates = [{"index": p.index, "label": p.label, "layer": p.layer,
                   "area_daa": round(float(p.geometry.area) / 1000, 3)} for p in polygons]
    return _site_response(request, store, polygons[index].geometry, "json" if fmt == "html" else fmt,
                          parse_lang(lang), extra={"candidates": candidates, "chosen": index})


@router.get("/site-check", include_in_schema=False)
def site_check_get(request: Request) -> Response:
    """A browser that opens the site check is sent to the planner map, where sites are drawn or uploaded."""
    root = request.scope.get("root_path", "").rstrip("/")
    lang = request.query_params.get("lang")
    return RedirectResponse(f"{root}/maps/planner" + ("?lang=en" if parse_lang(lang) == "en" else ""),
                            status_code=303)


@router.get("/land-reserve", summary="Business land per municipality (JSON)")
def land_reserve_json_view(store: StoreDep) -> dict:
    """Daa of business land by status, net available, and dyrka jord the reserves would consume."""
    record = store.get_layer(BUSINESS_AREAS).current
    table = land_reserve(store.read_frame(record))
    provenance = {"business_areas_version": record.version, **record.provenance}
    return _json_safe(land_reserve_json(table, provenance))


@router.get("/land-reserve.csv", summary="Business land per municipality (CSV)")
def land_reserve_csv_view(store: StoreDep) -> Response:
    """The same accounting as CSV (UTF-8)."""
    table = land_reserve(store.read_frame(store.get_layer(BUSINESS_AREAS).current))
    return Response(land_reserve_csv(table), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="arealreserve.csv"'})


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
