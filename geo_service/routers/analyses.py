"""Analyses: site check (DOK-arealanalyse style) and land-reserve accounting."""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from constraints.errors import SiteGeometryError
from constraints.publish import BUSINESS_AREAS
from constraints.reserve import land_reserve, land_reserve_csv, land_reserve_json
from constraints.site import SiteLimits, check_site, validate_site
from geo_service.analysis_service import AnalysisService
from geo_service.dependencies import SettingsDep, StoreDep
from geo_service.limits import site_limits
from geo_service.openapi import error_responses
from layers.crs import WORKING_EPSG, parse_crs_uri, transformer

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


@router.post("/site-check", summary="Check a site against every constraint rule", responses=SITE_RESPONSES)
async def site_check(
    request: Request,
    body: Annotated[dict[str, Any], Body(openapi_examples={"site": {"value": _EXAMPLE}})],
    settings: SettingsDep,
    crs: Annotated[str | None, Query(description="CRS URI of the body's coordinates (default CRS84)")] = None,
    f: Annotated[str | None, Query(description="json (default) or html")] = None,
) -> Response:
    """Per-theme status (HIT-RED / HIT-YELLOW / NO-HIT-GREEN / NOT-MAPPED), hit area, distance, guidance.

    Sites past the size limits are refused (413/400) before any work; at most
    ``GEO_SERVICE_SITE_CHECK_CONCURRENCY`` checks run at once per worker (503 with ``Retry-After`` beyond).
    """
    service = _service(request)
    site = site_geometry(body, crs, site_limits(settings))

    def work() -> dict[str, Any]:
        return check_site(site, service.index(), service.rules(),
                          budget_s=settings.site_check_budget_seconds).to_dict()

    report = await request.app.state.site_gate.run(work)
    wants_html = f == "html" or (f is None and "text/html" in request.headers.get("accept", ""))
    if wants_html:
        return HTMLResponse(render_site_report(report))
    return JSONResponse(_json_safe(report))


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


_COLOURS = {"RED": "#d7301f", "YELLOW": "#f0b400", "GREEN": "#2e9e44", "NOT_MAPPED": "#8c8c8c"}


def render_site_report(report: dict[str, Any]) -> str:
    """A plain HTML view of a site check, familiar to DOK-arealanalyse users."""
    e = html.escape
    rows = []
    for theme in report["themes"]:
        for rule in theme["rules"]:
            dist = "–" if rule["distance_m"] is None else f"{rule['distance_m']:.0f} m"
            rows.append(
                f"<tr><td>{e(theme['theme'])}</td><td style='color:{_COLOURS.get(rule['risk'], '#000')}'>"
                f"<b>{e(rule['status'])}</b></td><td>{rule['hit_area_daa']:.2f} daa</td><td>{dist}</td>"
                f"<td>{e(rule['coverage_text'])}</td><td>{e(rule['authority'])}</td><td>{e(rule['legal_basis'])}</td>"
                f"<td>{e(rule['guidance_nb'])}</td></tr>")
    return (
        "<!doctype html><html lang='nb'><head><meta charset='utf-8'><title>Arealanalyse</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:4px;"
        "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
        f"<h1>Arealanalyse av tomt</h1><p>Areal: <b>{report['area_daa']:.1f} daa</b> "
        f"({report['area_m2']:.0f} m²). Kommune: {e(str(report.get('kommunenavn') or 'ukjent'))}. "
        f"Samlet risiko: <b style='color:{_COLOURS.get(report['objection_risk'], '#000')}'>"
        f"{e(report['status'])}</b>.</p><table><tr><th>Tema</th><th>Status</th><th>Treffareal</th>"
        "<th>Avstand</th><th>Dekning</th><th>Innsigelsesmyndighet</th><th>Hjemmel</th><th>Veiledning</th></tr>"
        + "".join(rows) + "</table></body></html>")
