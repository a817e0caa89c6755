"""The application factory: ``create_app(settings)`` builds the FastAPI app; nothing happens at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from geo_service.analysis_service import AnalysisService
from geo_service.auth.deps import Authenticator
from geo_service.auth.gate import ReaderGate
from geo_service.errors import install_error_handlers
from geo_service.limits import site_gate
from geo_service.middleware import EdgeGuard
from geo_service.openapi import install_openapi
from geo_service.routers import (
    admin_api,
    admin_pages,
    analyses,
    changes,
    collections,
    docs,
    drive_time,
    factsheets,
    items,
    items_write,
    landing,
    maps,
    programme,
    programme_pages,
    sites,
    tiles,
    uploads,
)
from geo_service.routers.maps import start_warming, warm_planner
from geo_service.settings import Settings
from geo_service.shutdown import arm_watchdog_on_sigterm, run_bounded
from geo_service.sites_service import SitesService
from geo_service.source_scheduler import SourceScheduler
from geo_service.stores import open_store, seed_if_empty
from geo_service.tile_asgi import TileFastPath, open_tiles
from geo_service.uploads import UploadSizeGuard, open_staging, purge_removed_layers
from layers.store import VersionRecord
from maps.pages import PageCache

log = logging.getLogger("geo_service")
from programme.db import open_database
from programme.demo import seed_programme_demo
from programme.register import EnquiryRegister


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; the store is opened (and seeded with the demo when empty) in the lifespan."""
    settings = settings or Settings()

    def rewarm_maps() -> list[VersionRecord]:
        """After each refresh pass (in the refresh thread): the planner map for the new versions."""
        if settings.warm_maps:
            try:
                warm_planner(app)
            except Exception:
                log.exception("warming the planner map failed")
        return []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        seeded = settings.seed_demo and seed_if_empty(store)
        app.state.store = store
        app.state.auth = Authenticator(settings, store)
        app.state.staging = open_staging(settings)
        purge_removed_layers(store, settings)
        app.state.tiles = open_tiles(settings, store)
        app.state.sites = SitesService(store, settings)
        app.state.map_pages = PageCache()
        app.state.analysis = AnalysisService(store, settings, also=[app.state.sites.refresh, rewarm_maps])
        app.state.site_gate = site_gate(settings)
        app.state.programme = EnquiryRegister(open_database(store))
        if seeded:  # a new demo workspace also gets the programme's synthetic enquiries and capacity
            seed_programme_demo(store, app.state.programme, None, land_history=False)
        app.state.analysis.start()
        start_warming(app)  # the planner map's data and pages, in the background
        app.state.sources = SourceScheduler(store, settings).start()  # national sources (0 hours: off)
        arm_watchdog_on_sigterm(settings.shutdown_deadline_seconds)
        yield
        # every step bounded: a database that went away must not hold the process (see shutdown.py)
        run_bounded(lambda: app.state.sources.stop(timeout=1.0), 1.5, "sources-sync")
        run_bounded(lambda: app.state.analysis.stop(timeout=1.0), 1.5, "refresh-loop")
        app.state.programme.db.close()
        close = getattr(store, "close", None)  # PostGIS: the connection pool
        if close is not None:
            run_bounded(close, 2.0, "store")

    app = FastAPI(title=settings.title, description=settings.description, version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # /docs is served with local assets (routers/docs.py)
    app.state.settings = settings
    install_error_handlers(app)
    install_openapi(app)
    for module in (landing, collections, changes, items, tiles, analyses, drive_time, factsheets, sites, maps, docs, admin_api,
                   admin_pages, uploads, items_write, programme, programme_pages):
        app.include_router(module.router)
    app.add_middleware(TileFastPath)  # cached tiles are answered before routing
    app.add_middleware(UploadSizeGuard)
    app.add_middleware(ReaderGate)  # sign-in for reading, when required, covers the fast path too
    if settings.cors_origins:  # off by default; write methods only when cors_allow_writes
        methods = ["GET", "HEAD", "OPTIONS"] + (["POST", "PUT", "PATCH", "DELETE"] if settings.cors_allow_writes else [])
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=methods,
                           allow_headers=["Authorization", "Content-Type", "X-API-Key", "If-Match", "Accept"],
                           expose_headers=["Content-Crs", "ETag", "Location"], allow_credentials=False, max_age=600)
    app.add_middleware(EdgeGuard, settings=settings)  # outermost: limits, Host check, security headers
    return app
