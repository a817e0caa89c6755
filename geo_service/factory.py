"""The application factory: ``create_app(settings)`` builds the FastAPI app; nothing happens at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from geo_service.analysis_service import AnalysisService
from geo_service.errors import install_error_handlers
from geo_service.routers import analyses, collections, drive_time, factsheets, items, landing, maps, sites, tiles
from geo_service.settings import Settings
from geo_service.sites_service import SitesService
from geo_service.stores import open_store, seed_if_empty
from geo_service.tile_asgi import TileFastPath, open_tiles
from maps.pages import PageCache


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the store is opened (and seeded with the demo when empty) in the lifespan."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        if settings.seed_demo:
            seed_if_empty(store)
        app.state.store = store
        app.state.tiles = open_tiles(settings, store)
        app.state.sites = SitesService(store, settings)
        app.state.analysis = AnalysisService(store, settings, also=[app.state.sites.refresh])
        app.state.map_pages = PageCache()
        app.state.analysis.start()
        yield
        app.state.analysis.stop()
        close = getattr(store, "close", None)  # PostGIS: the connection pool
        if close is not None:
            close()

    app = FastAPI(title=settings.title, description=settings.description, version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    for module in (landing, collections, items, tiles, analyses, drive_time, factsheets, sites, maps):
        app.include_router(module.router)
    app.add_middleware(TileFastPath)  # cached tiles are answered before routing
    return app
