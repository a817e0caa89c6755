"""ASGI entry point for uvicorn workers: ``uvicorn --factory geo_service.main:app_factory``."""

from __future__ import annotations

from typing import Any

from geo_service.factory import create_app
from geo_service.settings import Settings
from geo_service.tile_asgi import with_tile_door


def app_factory() -> Any:
    """Build the app from environment settings (each worker process calls this once), behind the door that
    answers cached tiles before any other layer (``geo_service.tile_asgi.CachedTileDoor``)."""
    return with_tile_door(create_app(Settings()))
