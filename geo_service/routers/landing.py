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
