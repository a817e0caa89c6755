"""Vector tiles (MVT) on the WebMercatorQuad grid, and their TileJSON documents.

Plain tile requests never reach these handlers: ``geo_service.tile_asgi.TileFastPath`` answers them below
the router. These handlers answer the rest — errors (with the API's JSON bodies) and requests with other
query parameters — through the same ``TileService`` cache and with the same headers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from geo_service.dependencies import LayerDep, StoreDep
from geo_service.links import base_url
from geo_service.openapi import error_responses
from geo_service.tile_asgi import tile_response_parts
from maps.tile_cache import TileEntry, TileKey
from maps.tiles import MVT, TMS_ID, TileService, parse_collections, parse_properties, tilejson

router = APIRouter(tags=["Tiles"])

TILE_RESPONSES: dict[int | str, dict] = {
    200: {"content": {MVT: {}}, "description": "Mapbox Vector Tile, one layer per collection"},
    204: {"description": "no feature in this tile"},
    304: {"description": "not modified (If-None-Match matched the ETag)"},
}


def get_tiles(request: Request) -> TileService:
    """The tile service made in the lifespan."""
    return request.app.state.tiles


TilesDep = Annotated[TileService, Depends(get_tiles)]


def _respond(request: Request, tiles: TileService, key: TileKey, entry: TileEntry, source: str) -> Response:
    status, headers, body = tile_response_parts(
        tiles.cache, key, entry, request.headers.get("accept-encoding"), request.headers.get("if-none-match"),
        request.app.state.settings.tile_cache_control, source)
    response = Response(body, status_code=status)
    response.raw_headers = headers
    return response


@router.get(f"/collections/{{collectionId}}/tiles/{TMS_ID}/{{z}}/{{x}}/{{y}}", summary="A vector tile of a collection",
            response_class=Response, responses=TILE_RESPONSES)
def collection_tile(
    request: Request,
    layer: LayerDep,
    tiles: TilesDep,
    z: int,
    x: int,
    y: int,
    properties: Annotated[str | None, Query(description="attributes to include, comma-separated "
                                                         "(default all; empty: none)")] = None,
) -> Response:
    """The collection's current version as MVT: one layer named after the collection, feature ids kept."""
    selected = parse_properties(properties)
    cached = tiles.cached([layer.id], z, x, y, selected, {layer.id: layer.current.version})
    key, entry = tiles.layer_tile(layer, z, x, y, selected)
    return _respond(request, tiles, key, entry, "miss" if cached is None else "hit")


@router.get(f"/tiles/{TMS_ID}/{{z}}/{{x}}/{{y}}", summary="A vector tile of several collections",
            response_class=Response, responses={**TILE_RESPONSES, **error_responses(404)})
def tile(
    request: Request,
    store: StoreDep,
    tiles: TilesDep,
    z: int,
    x: int,
    y: int,
    collections: Annotated[str | None, Query(description="collection ids, comma-separated")] = None,
) -> Response:
    """One tile with a layer per collection (all attributes), in the order given."""
    layers = [store.get_layer(layer_id) for layer_id in parse_collections(collections)]
    cached = tiles.cached([layer.id for layer in layers], z, x, y, None,
                          {layer.id: layer.current.version for layer in layers})
    key, entry = tiles.tile(layers, z, x, y)
    return _respond(request, tiles, key, entry, "miss" if cached is None else "hit")


@router.get(f"/collections/{{collectionId}}/tiles/{TMS_ID}/tilejson.json", summary="TileJSON of a collection")
def collection_tilejson(request: Request, layer: LayerDep) -> dict:
    """TileJSON 3.0.0: tile URL template, bounds, zoom range and the layer's fields."""
    url = f"{base_url(request)}/collections/{layer.id}/tiles/{TMS_ID}/{{z}}/{{x}}/{{y}}"
    return tilejson([layer], url, layer.title)


@router.get(f"/tiles/{TMS_ID}/tilejson.json", summary="TileJSON of several collections",
            responses=error_responses(404))
def multi_tilejson(
    request: Request,
    store: StoreDep,
    collections: Annotated[str | None, Query(description="collection ids, comma-separated")] = None,
) -> dict:
    """TileJSON 3.0.0 for ``/tiles/WebMercatorQuad/{z}/{x}/{y}?collections=…``."""
    ids = parse_collections(collections)
    layers = [store.get_layer(layer_id) for layer_id in ids]
    url = f"{base_url(request)}/tiles/{TMS_ID}/{{z}}/{{x}}/{{y}}?collections={','.join(ids)}"
    return tilejson(layers, url)
