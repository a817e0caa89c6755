"""What only the PostGIS store has: migrations, the table layout (declared SRID and type, GiST index, fid
key), the bbox pushed to the index, several store instances (as several processes) on one database, and
concurrent publishes. Runs on the throwaway cluster of ``tests/conftest.py``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import LineString, MultiLineString, Point, box

from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.store import LayerMeta

X0, Y0 = 536_000.0, 6_614_000.0


@pytest.fixture
def pg(postgis_url: str) -> Iterator[Any]:
    from layers.postgis_store import PostGISStore

    store = PostGISStore(postgis_url, pool_size=4)
    yield store
    store.close()


def _sql(url: str, query: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _grid(n: int, tag: int = 0) -> gpd.GeoDataFrame:
    side = int(n ** 0.5) + 1
    cells = [box(X0 + (i % side) * 20, Y0 + (i // side) * 20, X0 + (i % side) * 20 + 15,
                 Y0 + (i // side) * 20 + 15) for i in range(n)]
    return gpd.GeoDataFrame({"tag": [tag] * n, "nr": list(range(n))}, geometry=cells, crs=25832)


def test_migrations_run_once_and_refuse_a_newer_schema(postgis_url: str) -> None:
    from layers.migrations import SchemaTooNew, available, migrate
    from layers.postgis_store import PostGISStore

    assert [m.version for m in available()] == [1, 2, 3]
    errors: list[BaseException] = []

    def open_store() -> None:  # several service processes starting at once
        try:
            PostGISStore(postgis_url, pool_size=1).close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _sql(postgis_url, "SELECT version, name FROM geo_catalog.schema_migrations ORDER BY version") == [
        (1, "catalog"), (2, "access"), (3, "version_notify")]
    tables = {r[0] for r in _sql(postgis_url, "SELECT table_name FROM information_schema.tables "
                                              "WHERE table_schema = 'geo_catalog'")}
    assert tables == {"layers", "versions", "schema_migrations", "api_keys", "audit_log"}
    import psycopg

    with psycopg.connect(postgis_url, autocommit=True) as conn:
        assert migrate(conn) == []
        conn.execute("INSERT INTO geo_catalog.schema_migrations (version, name) VALUES (42, 'from_the_future')")
    with pytest.raises(SchemaTooNew, match="migration 42, newer than this release knows"):
        PostGISStore(postgis_url, pool_size=1)


def test_version_tables_declare_type_srid_index_and_key(pg: Any, postgis_url: str) -> None:
    record = pg.publish("jorder", _grid(2_000), LayerMeta(LayerKind.farmland))
    assert record.location == "geo_layers.jorder_v1"
    assert _sql(postgis_url, "SELECT type, srid, coord_dimension FROM geometry_columns "
                             "WHERE f_table_schema = 'geo_layers' AND f_table_name = 'jorder_v1'") == [("POLYGON", 25832, 2)]
    indexes = " ".join(r[0] for r in _sql(postgis_url, "SELECT indexdef FROM pg_indexes "
                                                       "WHERE schemaname = 'geo_layers' AND tablename = 'jorder_v1'"))
    assert "USING gist (geom)" in indexes and "(fid)" in indexes
    assert _sql(postgis_url, "SELECT count(*), min(fid), max(fid) FROM geo_layers.jorder_v1") == [(2_000, 1, 2_000)]
    # the bbox goes to the GiST index (the query the store sends for a 100 m box)
    plan = "\n".join(r[0] for r in _sql(postgis_url, (
        "EXPLAIN SELECT t.fid FROM geo_layers.jorder_v1 t WHERE t.geom && ST_MakeEnvelope(%s, %s, %s, %s, 25832) "
        "AND ST_Intersects(t.geom, ST_MakeEnvelope(%s, %s, %s, %s, 25832))"),
        (X0, Y0, X0 + 100, Y0 + 100) * 2))
    assert "jorder_v1_geom_idx" in plan
    page = pg.query(record, (X0, Y0, X0 + 100, Y0 + 100), {}, 100, 0)
    assert page.number_matched == 36  # 6 x 6 cells of a 20 m grid touch a 100 m box from its corner
    # mixed single and multi parts are stored as multi, as the GeoPackage does
    mixed = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[box(0, 0, 1, 1), box(2, 2, 3, 3).union(box(5, 5, 6, 6))],
                             crs=25832)
    assert pg.publish("blandet", mixed, LayerMeta(LayerKind.other)).geometry_type == "MultiPolygon"
    assert set(pg.read_frame(pg.get_layer("blandet").current).geom_type) == {"MultiPolygon"}
    lines = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[
        LineString([(0, 0), (1, 1)]), MultiLineString([[(2, 2), (3, 3)], [(4, 4), (5, 5)]])], crs=25832)
    record = pg.publish("linjer", lines, LayerMeta(LayerKind.watercourse))
    back = pg.read_frame(record)
    assert record.geometry_type == "MultiLineString" and back.geometry.iloc[0].equals(
        MultiLineString([[(0, 0), (1, 1)]]))


def test_awkward_names_and_empty_layers(pg: Any) -> None:
    long_id = "a" * 63
    frame = gpd.GeoDataFrame({"fid": [7], "geom": ["x"], "Navn med mellomrom": ["Å"]},
                             geometry=[Point(X0, Y0)], crs=25832)
    first = pg.publish(long_id, frame, LayerMeta(LayerKind.other))
    second = pg.publish(long_id, frame, LayerMeta(LayerKind.other))
    assert first.location != second.location and all(len(r.location.split(".")[1]) <= 63 for r in (first, second))
    page = pg.query(second, None, {"fid": "7", "geom": "x"}, 10, 0)
    assert page.ids.tolist() == [1] and page.properties == [{"fid": 7, "geom": "x", "Navn med mellomrom": "Å"}]
    empty = pg.publish("tom", frame.iloc[:0], LayerMeta(LayerKind.other))
    assert empty.feature_count == 0 and pg.query(empty, None, {}, 10, 0).number_matched == 0
    assert len(pg.read_frame(empty)) == 0


def test_two_processes_see_each_others_publishes(pg: Any, postgis_url: str) -> None:
    from layers.postgis_store import PostGISStore

    other = PostGISStore(postgis_url, pool_size=2)  # as a second service process on the same database
    try:
        with pytest.raises(LayerNotFound):
            other.get_layer("jorder")
        pg.publish("jorder", _grid(10, tag=1), LayerMeta(LayerKind.farmland))
        assert other.get_layer("jorder").current.feature_count == 10
        assert other.current_versions() == {"jorder": 1}
        other.publish("jorder", _grid(20, tag=2), LayerMeta(LayerKind.farmland))
        assert pg.current_versions() == {"jorder": 2}
        pg.rollback("jorder", 1)
        record = other.get_layer("jorder").current
        assert record.version == 1 and other.query(record, None, {}, 100, 0).properties[0]["tag"] == 1
    finally:
        other.close()


def test_event_loop_reads_share_queries_and_are_never_stale(pg: Any) -> None:
    pg.publish("jorder", _grid(3, tag=1), LayerMeta(LayerKind.farmland))
    pg._versions.close()  # no listener: every read is a query (what the gate shares)
    started: list[int] = []

    async def main() -> None:
        first = await pg.current_versions_async()  # opens the loop's connection
        gate = pg._gate
        start = gate._start
        gate._start = lambda future: (started.append(1), start(future))
        answers = await asyncio.gather(*(pg.current_versions_async() for _ in range(50)))
        assert first == {"jorder": 1} and all(a == {"jorder": 1} for a in answers)
        assert len(started) == 2  # one query for the first caller, one for the 49 that came while it ran
        pg.publish("jorder", _grid(4, tag=2), LayerMeta(LayerKind.farmland))  # committed before the next read
        assert await pg.current_versions_async() == {"jorder": 2}
        pg.rollback("jorder", 1)
        assert (await asyncio.gather(pg.current_versions_async(), pg.current_versions_async())) == [{"jorder": 1}] * 2

    asyncio.run(main())


def test_concurrent_publishes_get_distinct_versions(pg: Any) -> None:
    errors: list[BaseException] = []

    def publish(tag: int) -> None:
        try:
            pg.publish("jorder", _grid(50 + tag, tag=tag), LayerMeta(LayerKind.farmland))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = pg.versions("jorder")
    assert [v.version for v in versions] == [1, 2, 3, 4, 5, 6]
    assert sorted(v.feature_count for v in versions) == [50, 51, 52, 53, 54, 55]
    for v in versions:  # each version's table holds exactly what was published with it
        page = pg.query(v, None, {}, 1_000, 0)
        assert {p["tag"] for p in page.properties} == {v.feature_count - 50}


def test_open_store_switches_on_the_database_url(postgis_url: str, tmp_path: Any) -> None:
    from geo_service.settings import Settings
    from geo_service.stores import open_store
    from layers.postgis_store import PostGISStore

    store = open_store(Settings(database_url=postgis_url, workspace=tmp_path / "unused", database_pool_size=2))
    try:
        assert isinstance(store, PostGISStore) and store.list_layers() == []
        assert not (tmp_path / "unused").exists()
    finally:
        store.close()
