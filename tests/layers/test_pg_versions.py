"""The PostGIS store's in-memory map of current versions (``layers.pg_versions``): told of other processes'
publishes by LISTEN/NOTIFY, never used past its age bound, reading its own writes at once, and recovering
from a dropped listener connection. Two store instances on one database stand for two service processes.
Runs on the throwaway cluster of ``tests/conftest.py`` (synthetic 15 m squares)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import pytest
from shapely.geometry import box

from layers.kinds import LayerKind
from layers.store import LayerMeta

X0, Y0 = 536_000.0, 6_614_000.0  # near Kongsberg, EPSG:25832
WAIT = 15.0  # seconds a test waits for a listener to connect or a notification to land (not a speed claim)


def _grid(n: int, tag: int) -> gpd.GeoDataFrame:
    cells = [box(X0 + i * 20, Y0, X0 + i * 20 + 15, Y0 + 15) for i in range(n)]
    return gpd.GeoDataFrame({"tag": [tag] * n}, geometry=cells, crs=25832)


@pytest.fixture
def two_stores(postgis_url: str) -> Iterator[tuple[Any, Any]]:
    from layers.postgis_store import PostGISStore

    first, second = PostGISStore(postgis_url, pool_size=2), PostGISStore(postgis_url, pool_size=2)
    yield first, second
    first.close()
    second.close()


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"not within {WAIT} s: {what}")


def _live_map(store: Any) -> dict[str, int] | None:
    store.current_versions()  # starts the listener on first use
    return store._versions.get()


def _no_queries(store: Any) -> None:
    def refuse() -> Any:
        raise AssertionError("current_versions asked the database")
    store._connection = refuse


def test_a_publish_in_one_store_changes_the_others_tiles_without_a_version_query(two_stores: tuple[Any, Any]
                                                                                  ) -> None:
    from layers.crs import transformer
    from maps.tile_cache import TileCache
    from maps.tiles import TMS, TileService

    publisher, reader = two_stores
    publisher.publish("jorder", _grid(5, tag=1), LayerMeta(LayerKind.farmland))
    assert _until(lambda: _live_map(reader), "the reader's listener has a map") == {"jorder": 1}
    tiles = TileService(reader, TileCache(16 * 2**20))
    lon, lat = transformer(25832, 4326).transform(X0 + 40, Y0 + 7)
    t = TMS.tile(lon, lat, 15)

    def tags() -> list[int]:
        _, entry = tiles.layer_tile(tiles.current_layer("jorder"), t.z, t.x, t.y)
        return sorted(f["properties"]["tag"] for f in mapbox_vector_tile.decode(entry.data)["jorder"]["features"])

    assert tags() == [1] * 5
    query = reader._connection
    _no_queries(reader)  # from here the reader learns versions only from its listener
    assert reader.current_versions() == {"jorder": 1}
    publisher.publish("jorder", _grid(7, tag=2), LayerMeta(LayerKind.farmland))
    _until(lambda: reader.current_versions().get("jorder") == 2, "the notification reached the reader")
    reader._connection = query  # the new version's tile is read from the database, as any miss is
    assert tags() == [2] * 7


def test_own_writes_are_seen_at_once(two_stores: tuple[Any, Any]) -> None:
    store, _ = two_stores
    store.publish("jorder", _grid(3, tag=1), LayerMeta(LayerKind.farmland))
    _until(lambda: _live_map(store), "the listener has a map")
    store.publish("jorder", _grid(4, tag=2), LayerMeta(LayerKind.farmland))
    assert store._versions.get() is None  # the map read before the publish is not used any more
    assert store.current_versions() == {"jorder": 2}
    store.rollback("jorder", 1)
    assert store.current_versions() == {"jorder": 1}
    store.remove_layer("jorder")
    assert store.current_versions() == {}


def test_a_map_older_than_its_bound_is_not_used(postgis_url: str, two_stores: tuple[Any, Any]) -> None:
    from layers.pg_versions import MAX_AGE_SECONDS, VersionWatch

    publisher, reader = two_stores
    publisher.publish("jorder", _grid(3, tag=1), LayerMeta(LayerKind.farmland))
    now = [100.0]
    reader._versions.close()
    reader._versions = watch = VersionWatch(postgis_url, clock=lambda: now[0])  # time stands still for it
    _until(lambda: _live_map(reader), "the listener has a map")
    assert watch._state is not None and watch._state[0] == 100.0
    now[0] += MAX_AGE_SECONDS - 0.01
    assert watch.get() == {"jorder": 1}
    now[0] += 0.02  # past the bound: the map is refused and the store asks the database
    assert watch.get() is None
    reader._versions.close()  # the listener stops: only queries answer now
    publisher.publish("jorder", _grid(4, tag=2), LayerMeta(LayerKind.farmland))
    assert reader.current_versions() == {"jorder": 2}


def test_a_dropped_listener_connection_is_replaced(postgis_url: str, two_stores: tuple[Any, Any]) -> None:
    import psycopg

    publisher, reader = two_stores
    publisher.publish("jorder", _grid(3, tag=1), LayerMeta(LayerKind.farmland))
    _until(lambda: _live_map(reader), "the listener has a map")
    with psycopg.connect(postgis_url, autocommit=True) as admin:
        (killed,) = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                  "application_name = 'geo-service versions' AND datname = current_database()"
                                  ).fetchone()
    assert killed == 1
    publisher.publish("jorder", _grid(4, tag=2), LayerMeta(LayerKind.farmland))
    assert _until(lambda: reader._versions.get(), "a new listener has a map") == {"jorder": 2}
