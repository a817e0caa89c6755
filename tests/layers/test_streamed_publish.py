"""``Store.begin_publish``: the PostGIS store writes a version from the source's WKB and the published attributes
before the geometries are decoded, and commits it only at ``finish``. All data here is SYNTHETIC."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from psycopg import errors

from layers import ingest as ingest_module
from layers.checks import CheckContext, region_from_store
from layers.ingest import IngestReport, ingest
from layers.kinds import LayerKind
from layers.postgis_store import PostGISStore
from layers.store import LayerMeta, Store, StreamedWrite
from tests.layers.test_ingest_overlap import reopened_leftovers
from tests.layers.test_ingest_parity import municipalities, source_frame

META = LayerMeta(LayerKind.farmland, "Jorder (syntetisk)")


def farmland(n: int = 6, shift: float = 0.0) -> gpd.GeoDataFrame:
    """SYNTHETIC: polygons and one-part multipolygons (a MultiPolygon layer), with a text, a nullable integer,
    a float and a time column."""
    geoms = [shapely.box(600_000 + 100 * i + shift, 6_600_000, 600_050 + 100 * i + shift, 6_600_050)
             for i in range(n)]
    geoms[1] = shapely.MultiPolygon([geoms[1]])
    return gpd.GeoDataFrame({
        "navn": [f"Teig {i} – Åsen" if i != 2 else None for i in range(n)],
        "arealtype": pd.array([21, None, 30, 22, 23, 21][:n], dtype="Int64"),
        "daa": [1.5 * i for i in range(n)],
        "registrert": pd.to_datetime([datetime(2024, 5, i + 1, 12, tzinfo=UTC) for i in range(n)]),
    }, geometry=geoms, crs=25832)


def begin(store: Store, layer_id: str, frame: gpd.GeoDataFrame) -> StreamedWrite:
    streamed = store.begin_publish(layer_id, pd.DataFrame(frame.drop(columns="geometry")),
                                   shapely.to_wkb(frame.geometry.values))
    assert streamed is not None
    return streamed


@pytest.fixture
def pg(make_store: Callable[[str], Store]) -> PostGISStore:
    store = make_store("postgis")
    assert isinstance(store, PostGISStore)
    return store


def test_a_finished_stream_is_the_version_publish_writes(pg: PostGISStore) -> None:
    frame = farmland()
    pg.publish("ordinary", frame, META)
    record = begin(pg, "streamed", frame).finish(frame, META)
    ordinary = pg.get_layer("ordinary").current
    assert (record.version, record.feature_count, record.geometry_type) == (1, 6, "MultiPolygon")
    assert (record.bbox, record.fields) == (ordinary.bbox, ordinary.fields)
    assert record.fields == {"navn": "str", "arealtype": "int", "daa": "float", "registrert": "datetime"}
    assert pg.current_versions()["streamed"] == 1
    streamed, written = pg.read_frame(record), pg.read_frame(ordinary)
    pd.testing.assert_frame_equal(streamed.drop(columns="geometry"), written.drop(columns="geometry"))
    assert shapely.to_wkb(streamed.geometry.values).tolist() == shapely.to_wkb(written.geometry.values).tolist()
    assert streamed["arealtype"].isna().tolist() == [False, True, False, False, False, False]
    assert shapely.get_type_id(streamed.geometry.values).tolist() == [6] * 6  # promoted as publish promotes


def test_nothing_is_seen_until_finish_and_nothing_is_left_by_abandon(pg: PostGISStore) -> None:
    pg.publish("jorder", farmland(), META)
    newer = farmland(4, shift=5_000.0)
    streamed = begin(pg, "jorder", newer)
    assert pg.current_versions()["jorder"] == 1  # written, not committed: readers see version 1
    assert pg.get_layer("jorder").current.feature_count == 6
    streamed.abandon()
    streamed.abandon()  # twice is harmless
    assert [v.version for v in pg.versions("jorder")] == [1]
    assert reopened_leftovers(pg) == []
    again = begin(pg, "jorder", newer).finish(newer, META)
    assert (again.version, again.feature_count) == (2, 4)  # the abandoned write used no version number
    assert again.bbox[0] == pytest.approx(605_000.0)
    with pytest.raises(RuntimeError, match="already ended"):
        streamed.finish(newer, META)


def test_a_refusal_before_the_commit_publishes_nothing(pg: PostGISStore) -> None:
    frame = farmland()

    def refuse() -> None:
        raise ValueError("the kind checks refused it")

    with pytest.raises(ValueError, match="kind checks refused"):
        begin(pg, "jorder", frame).finish(frame, META, before_commit=refuse)
    assert pg.list_layers() == [] and reopened_leftovers(pg) == []


def test_a_frame_that_is_not_the_streamed_one_is_refused(pg: PostGISStore) -> None:
    frame = farmland()
    with pytest.raises(ValueError, match="not the one streamed"):
        begin(pg, "jorder", frame).finish(frame.iloc[:5], META)
    with pytest.raises(ValueError, match="not the one streamed"):
        begin(pg, "jorder", frame).finish(frame.assign(daa=frame["daa"].astype(str)), META)
    assert pg.list_layers() == [] and reopened_leftovers(pg) == []


def test_the_writes_own_error_is_raised_by_finish_and_the_last_version_keeps_serving(pg: PostGISStore) -> None:
    pg.publish("jorder", farmland(), META)
    bad = farmland()
    bad.loc[3, "navn"] = "NUL \x00 in text"  # PostgreSQL text cannot hold it: the COPY fails in the database
    streamed = begin(pg, "jorder", bad)
    with pytest.raises(errors.CharacterNotInRepertoire):
        streamed.finish(bad, META)
    assert [v.version for v in pg.versions("jorder")] == [1]
    assert pg.get_layer("jorder").current.feature_count == 6
    assert reopened_leftovers(pg) == []


def test_wkb_that_must_be_decoded_first_is_not_streamed(make_store: Callable[[str], Store]) -> None:
    frame = farmland(2)
    attributes = pd.DataFrame(frame.drop(columns="geometry"))
    pg, gpkg = make_store("postgis"), make_store("gpkg")
    with_z = shapely.to_wkb(shapely.force_3d(frame.geometry.values, 7.0))
    missing = np.array([shapely.to_wkb(frame.geometry.values[0]), None], dtype=object)
    assert pg.begin_publish("jorder", attributes, with_z) is None  # the store writes 2D: decode, drop Z
    assert pg.begin_publish("jorder", attributes, missing) is None
    assert gpkg.begin_publish("jorder", attributes, shapely.to_wkb(frame.geometry.values)) is None  # GDAL writes
    assert pg.list_layers() == [] and reopened_leftovers(pg) == []


@pytest.mark.parametrize("drop", [[5, 9], [9]], ids=["streamed", "bow tie: abandoned, then published"])
def test_ingest_on_one_connection_does_not_wait_for_itself(drop: list[int], postgis_url: str, tmp_path: Path) -> None:
    """The streamed write holds its connection (and the layer's lock) until it ends: with a pool of one, the
    ingest still ends, whether it keeps the stream or drops it for the repaired layer."""
    source = tmp_path / "ar5.gpkg"
    pyogrio.write_dataframe(source_frame().drop(index=drop), source, layer="ar5")
    with PostGISStore(postgis_url, pool_size=1) as store:
        store.publish("kommuner", municipalities(), LayerMeta(LayerKind.municipality, "Kommuner (syntetisk)"))
        checks = CheckContext(region_from_store(store, (0.0, 0.0, 1.0, 1.0)), None, False)
        done: list[IngestReport] = []
        worker = threading.Thread(target=lambda: done.append(ingest(store, source, "ar5", LayerKind.farmland,
                                                                    checks=checks)), daemon=True)
        worker.start()
        worker.join(timeout=120)
        assert done, "the ingest did not end"
        assert (done[0].version, done[0].normalised.repaired) == (1, 0 if 5 in drop else 1)
        assert store.get_layer("ar5").current.feature_count == len(source_frame()) - len(drop)  # the bow tie repaired


def test_a_failure_between_the_stream_and_its_finish_holds_nothing(postgis_url: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingest fails after the stream started and before anyone finished it: the write is dropped, so its
    connection (the only one here) and the layer's lock are free for the next publish."""
    source = tmp_path / "ar5.gpkg"
    pyogrio.write_dataframe(source_frame().drop(index=[5, 9]), source, layer="ar5")

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lost on the way to the commit")

    monkeypatch.setattr(ingest_module._Write, "publish", fail)
    with PostGISStore(postgis_url, pool_size=1) as store:
        with pytest.raises(RuntimeError, match="lost on the way"):
            ingest(store, source, "ar5", LayerKind.farmland)
        done: list[int] = []
        worker = threading.Thread(target=lambda: done.append(store.publish("ar5", farmland(), META).version),
                                  daemon=True)
        worker.start()
        worker.join(timeout=60)
        assert done == [1]
        assert reopened_leftovers(store) == []
