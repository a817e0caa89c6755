"""Open the configured store: the GeoPackage workspace by default, PostGIS when a database URL is set."""

from __future__ import annotations

from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.seed import is_empty, publish_demo
from layers.store import Store


def open_store(settings: Settings) -> Store:
    """The store named by the settings."""
    if settings.database_url:
        from layers.postgis_store import PostGISStore  # psycopg is the optional ``postgis`` extra

        return PostGISStore(settings.database_url, pool_size=settings.database_pool_size)
    return GeoPackageStore(settings.workspace)


def seed_if_empty(store: Store) -> bool:
    """Publish the demo layers into an empty store; True if it did."""
    if not is_empty(store):
        return False
    publish_demo(store)
    return True
