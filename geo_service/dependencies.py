"""FastAPI dependencies: path ids become domain objects, app state becomes typed parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from geo_service.settings import Settings
from layers.store import LayerRecord, Store


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with (async: an attribute read needs no worker thread)."""
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    """The store made in the lifespan (async: an attribute read needs no worker thread)."""
    return request.app.state.store


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]


def get_layer(store: StoreDep, collectionId: Annotated[str, Path(description="collection id")]) -> LayerRecord:
    """Resolve ``{collectionId}`` to the layer's current version, or raise ``LayerNotFound`` (404)."""
    return store.get_layer(collectionId)


LayerDep = Annotated[LayerRecord, Depends(get_layer)]


async def get_layer_for_page(store: StoreDep,
                             collectionId: Annotated[str, Path(description="collection id")]) -> LayerRecord:
    """Like ``get_layer``, for routes that read a page with ``layers.geojson.items_page``: a store that checks
    its cached record while reading the page (PostGIS) hands that record out here, without a round trip or a
    worker thread; any other read runs in a worker thread."""
    peek = getattr(store, "peek_layer", None)
    found = peek(collectionId) if peek is not None else None
    return found if found is not None else await run_in_threadpool(store.get_layer, collectionId)


PageLayerDep = Annotated[LayerRecord, Depends(get_layer_for_page)]
