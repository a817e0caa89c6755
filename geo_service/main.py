"""ASGI entry point for uvicorn workers: ``uvicorn --factory geo_service.main:app_factory``."""

from __future__ import annotations

from fastapi import FastAPI

from geo_service.factory import create_app
from geo_service.settings import Settings


def app_factory() -> FastAPI:
    """Build the app from environment settings (each worker process calls this once)."""
    return create_app(Settings())
