"""Features: ``/collections/{id}/items`` and ``/items/{featureId}`` as GeoJSON (Parts 1 and 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from geo_service.dependencies import LayerDep, PageLayerDep, SettingsDep, StoreDep
from geo_service.filters import PARAMETERS as FILTER_PARAMETERS
from geo_service.filters import items_selection
from geo_service.links import GEOJSON, JSON, base_url, link, with_query
from geo_service.params import MAX_OFFSET, feature_id, parse_bbox, property_filters, repeated_reserved
from layers.crs import CRS84, bbox_to_working, parse_crs_uri
from layers.geojson import encode_features, feature, feature_collection, items_page

router = APIRouter(tags=["Features"])

RESERVED = {"bbox", "bbox-crs", "crs", "limit", "offset", "f", "datetime", "properties", *FILTER_PARAMETERS}


@router.get("/collections/{collectionId}/items", summary="Features of a collection",
            response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def items(
    request: Request,
    layer: PageLayerDep,
    store: StoreDep,
    settings: SettingsDep,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (default CRS84)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS URI of bbox")] = None,
    crs: Annotated[str | None, Query(description="CRS URI of the response geometries")] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_OFFSET, description="page size (default 100, max 10 000)")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    filter: Annotated[str | None, Query(description="CQL2 filter, e.g. arealtype IN (21,22) AND "
                                                     "S_INTERSECTS(geometry, POLYGON((…)))")] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang", description="cql2-text (default) or cql2-json")] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", description="CRS URI of filter geometries "
                                                                            "(default CRS84)")] = None,
    sortby: Annotated[str | None, Query(description="sort keys, e.g. -area_daa,navn (- descending)")] = None,
) -> Response:
    """A page of features; other query parameters are equality filters on properties (ANDed with the rest)."""
    pairs = request.query_params.multi_items()
    repeated_reserved(pairs, RESERVED)
    target = parse_crs_uri(crs, "crs")
    box = parse_bbox(bbox)
    working_box = bbox_to_working(box, parse_crs_uri(bbox_crs, "bbox-crs")) if box else None
    size = min(limit or settings.default_limit, settings.max_limit)
    filters = property_filters(pairs, RESERVED)
    selection = items_selection(request.query_params)  # filter, filter-lang, filter-crs, sortby
    page = items_page(store, layer, working_box, filters, size, offset, cql=selection.cql, sortby=selection.sortby,
                      target=target)
    layer = page.layer  # the version that answered (the record handed in may be a cached one)
    links = [link(with_query(request), "self", GEOJSON, "this page"),
             link(f"{base_url(request)}/collections/{layer.id}", "collection", JSON, layer.title)]
    if offset + page.number_returned < page.number_matched:
        links.append(link(with_query(request, offset=offset + size, limit=size), "next", GEOJSON, "next page"))
    if offset > 0:
        links.append(link(with_query(request, offset=max(0, offset - size) or None, limit=size), "prev",
                          GEOJSON, "previous page"))
    body = feature_collection(page.features, {
        "numberMatched": page.number_matched,
        "numberReturned": page.number_returned,
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "links": links,
    })
    return Response(body, media_type=GEOJSON, headers=_headers(target.uri, layer.current.version))


@router.get("/collections/{collectionId}/items/{featureId}", summary="One feature",
            response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def item(
    request: Request,
    layer: LayerDep,
    store: StoreDep,
    featureId: str,
    crs: Annotated[str | None, Query(description="CRS URI of the response geometry")] = None,
) -> Response:
    """One feature by its id (stable within a layer version)."""
    target = parse_crs_uri(crs, "crs") if crs else CRS84
    page = store.get_feature(layer.current, feature_id(featureId, layer.id))
    base = f"{base_url(request)}/collections/{layer.id}"
    body = feature(encode_features(page, target)[0], {"links": [
        link(with_query(request), "self", GEOJSON, "this feature"),
        link(base, "collection", JSON, layer.title)]})
    return Response(body, media_type=GEOJSON, headers=_headers(target.uri, layer.current.version))


def _headers(crs_uri: str, version: int) -> dict[str, str]:
    return {"Content-Crs": f"<{crs_uri}>", "X-Layer-Version": str(version)}
