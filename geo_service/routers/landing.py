"""Landing page and conformance (OGC API – Common / Features Part 1 core)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from geo_service.dependencies import SettingsDep
from geo_service.links import HTML, JSON, OPENAPI, base_url, link

router = APIRouter(tags=["Capabilities"])

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    # filtering: Features Part 3 with CQL2 (layers.cql2, layers.cql2_sql)
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
    # sorting: sortby=+a,-b (OGC API – Records; Features Part 5 drafts the same parameter)
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
]


@router.get("/", summary="Landing page")
def landing(request: Request, settings: SettingsDep) -> dict:
    """Title, description and links to the API definition, conformance and collections."""
    base = base_url(request)
    return {
        "title": settings.title,
        "description": settings.description,
        "links": [
            link(f"{base}/", "self", JSON, "this document"),
            link(f"{base}/openapi.json", "service-desc", OPENAPI, "API definition"),
            link(f"{base}/docs", "service-doc", HTML, "API documentation"),
            link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
            link(f"{base}/collections", "data", JSON, "collections"),
        ],
    }


@router.get("/conformance", summary="Conformance classes")
def conformance() -> dict:
    """The OGC conformance classes this service implements."""
    return {"conformsTo": CONFORMANCE}
