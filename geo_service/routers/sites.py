"""Site portfolio: search and rank sites, one site with its sources, sites side by side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from geo_service.sites_service import SitesService
from sites.answers import COMPARE_MAX, compare_answer, search_answer, site_answer
from sites.errors import SearchCriteriaError
from sites.search import parse_request, request_from_query, search

router = APIRouter(prefix="/sites", tags=["Site portfolio"])

_EXAMPLE = {
    "filters": {"net_available_daa": {"min": 20}, "substation_free_mw": {"min": 5}, "kommunenummer": {"in": ["3303"]}},
    "has_fibre": True,
    "within_minutes": {"airport": 60},
    "criteria": [
        {"attribute": "population_45min", "weight": 40, "direction": "higher"},
        {"attribute": "main_road_km", "weight": 30, "direction": "lower"},
        {"attribute": "net_available_daa", "weight": 30, "direction": "ideal", "ideal": 25},
    ],
    "limit": 10,
}


def _service(request: Request) -> SitesService:
    return request.app.state.sites


def _answer(request: Request, body: Any) -> dict[str, Any]:
    service = _service(request)
    portfolio = service.portfolio()
    parsed = parse_request(body)
    result = search(portfolio.table, parsed)
    return search_answer(portfolio.frame, portfolio.table.version, parsed, result)


@router.post("/search", summary="Search and rank sites by filters and weighted criteria")
def search_post(request: Request,
                body: Annotated[dict[str, Any], Body(openapi_examples={"investor": {"value": _EXAMPLE}})]) -> dict:
    """Hard filters, then a 0–100 score from weighted criteria; ranked page with score parts and explanations."""
    return _answer(request, body)


@router.get("/search", summary="The same search as a shareable query string")
def search_get(request: Request) -> dict:
    """``min.ATTR``, ``max.ATTR``, ``in.ATTR=a,b``, ``fibre=true``, ``within.HUB=MIN``,
    ``score=ATTR:higher|lower|ideal:WEIGHT[:IDEAL]``, ``limit``, ``offset`` (see README)."""
    parsed = request_from_query(list(request.query_params.multi_items()))
    return _answer(request, parsed.model_dump(by_alias=True, exclude_none=True))


@router.get("/compare", summary="Sites side by side")
def compare(request: Request, ids: Annotated[str, Query(description="2–10 site ids, comma separated")]) -> dict:
    """Every fact of each site in one table, with the best value per attribute marked."""
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    if not 1 <= len(wanted) <= COMPARE_MAX:
        raise SearchCriteriaError(f"ids: give 1–{COMPARE_MAX} site ids separated by commas; got {len(wanted)}", "ids")
    service = _service(request)
    rows = [service.site(i)[1] for i in wanted]
    return compare_answer(rows, service.portfolio().table.version)


@router.get("/{site_id}", summary="One site with every fact, its sources and layer versions")
def site(request: Request, site_id: str) -> dict:
    """The site's outline, facts grouped for a fact sheet, and the layers and versions behind each group."""
    service = _service(request)
    portfolio, row = service.site(site_id)
    layers = {r.id: {"title": r.title, "attribution": r.attribution} for r in service.store.list_layers()}
    return site_answer(row, portfolio.record.current.version, portfolio.record.current.provenance, layers)
