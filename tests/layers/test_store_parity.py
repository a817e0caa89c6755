"""The store contract, run against both stores (``store`` is parametrised: gpkg | postgis) and compared
side by side (``both_stores``): ingest of real agency data, features by bbox, filters and pages, versions
and rollback, atomic publish, and bad input that must leave the catalog as it was.

Real data is read in place from ``shared/data`` (GML with ``WRITE_GFS=NO``); nothing is copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from layers.errors import (
    FeatureNotFound,
    InvalidLayerId,
    InvalidQuery,
    LayerNotFound,
    MissingCRS,
    SourceNotFound,
    VersionNotFound,
)
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
KOMMUNER = DATA / "kommuner-kartverket-robhop" / "kongsbergregionen_kommuner_2024_epsg25832.gpkg"
AR5_GML = DATA / "ar5-fkb-sample-valdres-vegvesen" / "FKB_AR5_Fv251Hellefossen.gml"
AR5_FIELDS = {"gml_id": "str", "datafangstdato": "int", "opphav": "str", "produkt": "str", "versjon": "str",
              "verifiseringsdato": "int", "målemetode": "int", "synbarhet": "int", "arealtype": "int",
              "treslag": "int", "skogbonitet": "int", "grunnforhold": "int", "kartstandard": "str"}
# boxes inside the AR5 sample (EPSG:25832): a small one, one across the middle, one outside
BOXES = [(538_400.0, 6_747_300.0, 538_700.0, 6_747_600.0), (537_500.0, 6_747_000.0, 539_500.0, 6_749_000.0),
         (500_000.0, 6_600_000.0, 500_100.0, 6_600_100.0)]


@pytest.fixture(scope="module")
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real data folder {DATA} is missing (expected shared/data beside the repository)")
    return DATA


def _ingest_real(store: Store) -> None:
    ingest(store, KOMMUNER, "kommuner", LayerKind.municipality, attribution="© Kartverket (CC BY 4.0)")
    ingest(store, AR5_GML, "ar5", LayerKind.farmland, layer="ArealressursFlate", attribution="© NIBIO (CC BY 4.0)")


def _grid(n: int, code: int = 21, x0: float = 536_000.0, y0: float = 6_614_000.0) -> gpd.GeoDataFrame:
    """``n`` 100 m squares in a row with an attribute that tells the version apart."""
    return gpd.GeoDataFrame({"arealtype": [code] * n, "nr": list(range(n))},
                            geometry=[box(x0 + i * 100, y0, x0 + i * 100 + 90, y0 + 90) for i in range(n)],
                            crs=25832)


def _page_tuple(page: Any) -> tuple:
    return (page.ids.tolist(), page.number_matched, page.properties, shapely.to_wkb(page.geometries).tolist())


# -- each store on its own: real values ------------------------------------------------------------
def test_ingest_real_data(store: Store, data: Path) -> None:
    _ingest_real(store)
    layers = {layer.id: layer for layer in store.list_layers()}
    assert sorted(layers) == ["ar5", "kommuner"]
    kommuner, ar5 = layers["kommuner"].current, layers["ar5"].current
    assert (kommuner.version, kommuner.feature_count, kommuner.geometry_type) == (1, 9, "Polygon")
    assert kommuner.fields == {"id": "str", "kommunenummer": "str", "name": "str", "kommunenavn": "str",
                               "kbr_membership": "str", "division_year": "int", "area_km2": "float"}
    assert (ar5.version, ar5.feature_count, ar5.geometry_type) == (1, 271, "MultiPolygon")
    assert ar5.fields == AR5_FIELDS
    assert ar5.bbox == pytest.approx((536_928.64, 6_746_432.76, 540_675.82, 6_750_147.8))
    assert layers["ar5"].kind == LayerKind.farmland and layers["ar5"].attribution == "© NIBIO (CC BY 4.0)"
    assert ar5.provenance["source_layer"] == "ArealressursFlate" and ar5.provenance["report"]["repaired"] == 22
    assert store.current_versions() == {"ar5": 1, "kommuner": 1}

    frame = store.read_frame(kommuner)
    assert frame.index.name == "fid" and frame.index.tolist() == list(range(1, 10))
    assert frame.crs.to_epsg() == 25832
    assert sorted(frame["kommunenavn"]) == ["Flesberg", "Hjartdal", "Kongsberg", "Nore og Uvdal", "Notodden",
                                          "Rollag", "Sigdal", "Tinn", "Øvre Eiker"]
    kongsberg = frame[frame["kommunenummer"] == "3303"].iloc[0]
    assert kongsberg["area_km2"] == pytest.approx(792.3) and kongsberg.geometry.area / 1e6 == pytest.approx(
        792.3, rel=0.02)
    ar5_frame = store.read_frame(ar5)
    assert len(ar5_frame) == 271 and ar5_frame["arealtype"].value_counts()[21] == 28
    assert set(ar5_frame.geom_type) == {"MultiPolygon"}  # single parts promoted, as the column declares


def test_features_bbox_filters_and_pages(store: Store, data: Path) -> None:
    _ingest_real(store)
    record = store.get_layer("ar5").current
    truth = store.read_frame(record)

    everything = store.query(record, None, {}, 10, 0)
    assert everything.number_matched == 271 and everything.ids.tolist() == list(range(1, 11))
    assert list(everything.properties[0]) == list(AR5_FIELDS)
    last = store.query(record, None, {}, 10, 265)
    assert last.ids.tolist() == list(range(266, 272)) and last.number_matched == 271
    past = store.query(record, None, {}, 10, 500)
    assert len(past.ids) == 0 and past.number_matched == 271

    for bbox in BOXES:
        expected = truth.index[shapely.intersects(truth.geometry.to_numpy(), box(*bbox))].tolist()
        page = store.query(record, bbox, {}, 10_000, 0)
        assert page.ids.tolist() == expected and page.number_matched == len(expected)
        if len(expected) > 3:
            second = store.query(record, bbox, {}, 2, 2)
            assert second.ids.tolist() == expected[2:4] and second.number_matched == len(expected)
            beyond = store.query(record, bbox, {}, 2, len(expected) + 5)
            assert len(beyond.ids) == 0 and beyond.number_matched == len(expected)
    assert store.query(record, BOXES[1], {}, 10_000, 0).number_matched > 50  # the middle box is not trivial

    fulldyrka = store.query(record, None, {"arealtype": "21"}, 100, 0)
    assert fulldyrka.number_matched == 28 and {p["arealtype"] for p in fulldyrka.properties} == {21}
    both = store.query(record, BOXES[1], {"arealtype": 21, "opphav": "Skogoglandskap"}, 100, 0)
    expected = truth.index[shapely.intersects(truth.geometry.to_numpy(), box(*BOXES[1]))
                           & (truth["arealtype"] == 21).to_numpy()
                           & (truth["opphav"] == "Skogoglandskap").to_numpy()].tolist()
    assert both.ids.tolist() == expected
    assert store.query(record, None, {"arealtype": "99"}, 10, 0).number_matched == 0

    one = store.get_feature(record, 7)
    assert one.ids.tolist() == [7] and one.properties[0]["gml_id"] == truth.loc[7, "gml_id"]
    assert shapely.equals(one.geometries[0], truth.geometry.loc[7])
    with pytest.raises(FeatureNotFound, match="has no feature 999"):
        store.get_feature(record, 999)
    with pytest.raises(InvalidQuery) as bad:
        store.query(record, None, {"arealtype": "fulldyrka"}, 10, 0)
    assert bad.value.parameter == "arealtype" and "holds int values" in str(bad.value)
    with pytest.raises(InvalidQuery) as unknown:
        store.query(record, None, {"nope": "1"}, 10, 0)
    assert unknown.value.parameter == "nope"
    with pytest.raises(InvalidQuery) as props:
        store.scan(record, BOXES[0], ["arealtype", "nope"])
    assert props.value.parameter == "properties"


def test_types_and_nulls_round_trip(store: Store) -> None:
    frame = gpd.GeoDataFrame({
        "i": [1, 2, 3], "ni": pd.array([1, None, 3], dtype="Int64"), "f": [1.5, np.nan, -2.0],
        "s": ["Åsen", None, ""], "b": [True, False, True], "nb": pd.array([None, False, True], dtype="boolean"),
        "t": pd.to_datetime(["2024-01-01T10:00:00", "2024-02-01T00:00:00.250", None], format="ISO8601"),
        "tz": pd.to_datetime(["2024-01-01T10:00:00Z", "2024-02-01T00:00:00+01:00", None], utc=True),
        "o": [{"a": 1}, None, "x"]},
        geometry=[shapely.Point(0, 0), shapely.Point(1, 1), shapely.Point(2, 2)], crs=25832)
    record = store.publish("typer", frame, LayerMeta(LayerKind.other, provenance={"n": 3, "why": ["test"]}))
    assert record.fields == {"i": "int", "ni": "int", "f": "float", "s": "str", "b": "bool", "nb": "bool", "t": "datetime",
                             "tz": "datetime", "o": "str"}
    assert record.provenance == {"n": 3, "why": ["test"]}
    page = store.query(record, None, {}, 10, 0)
    assert page.properties == [
        {"i": 1, "ni": 1, "f": 1.5, "s": "Åsen", "b": True, "nb": None, "t": "2024-01-01T10:00:00",
         "tz": "2024-01-01T10:00:00Z", "o": "{'a': 1}"},
        {"i": 2, "ni": None, "f": None, "s": None, "b": False, "nb": False, "t": "2024-02-01T00:00:00.250",
         "tz": "2024-01-31T23:00:00Z", "o": None},
        {"i": 3, "ni": 3, "f": -2.0, "s": "", "b": True, "nb": True, "t": None, "tz": None, "o": "x"}]
    assert store.query(record, None, {"b": "false"}, 10, 0).ids.tolist() == [2]
    assert store.query(record, None, {"nb": "true"}, 10, 0).ids.tolist() == [3]
    assert store.query(record, None, {"s": "Åsen"}, 10, 0).ids.tolist() == [1]
    assert store.query(record, None, {"t": "2024-02-01T00:00:00.250"}, 10, 0).ids.tolist() == [2]
    assert store.query(record, None, {"tz": "2024-01-01T10:00:00Z"}, 10, 0).ids.tolist() == [1]
    assert store.query(record, None, {"t": "not a time"}, 10, 0).number_matched == 0
    back = store.read_frame(record)
    assert back["ni"].isna().tolist() == [False, True, False] and back["f"].isna().tolist() == [False, True, False]
    assert back["tz"].iloc[1] == pd.Timestamp("2024-01-31T23:00:00Z")


# -- versions -------------------------------------------------------------------------------------
def test_versions_and_rollback(store: Store) -> None:
    v1 = store.publish("jorder", _grid(3), LayerMeta(LayerKind.farmland, "Jorder"))
    v2 = store.publish("jorder", _grid(5, code=22), LayerMeta(LayerKind.farmland, "Jorder v2"))
    assert (v1.version, v2.version) == (1, 2)
    assert store.get_layer("jorder").current.feature_count == 5 and store.get_layer("jorder").title == "Jorder v2"
    assert [v.feature_count for v in store.versions("jorder")] == [3, 5]

    back = store.rollback("jorder", 1)
    assert back.current.version == 1 and back.current.feature_count == 3
    assert store.current_versions() == {"jorder": 1}
    # the old version is still whole and readable, nothing was deleted
    assert store.query(v2, None, {}, 100, 0).number_matched == 5
    assert [v.version for v in store.versions("jorder")] == [1, 2]
    assert store.publish("jorder", _grid(7), LayerMeta(LayerKind.farmland)).version == 3
    assert store.rollback("jorder", 2).current.version == 2

    with pytest.raises(VersionNotFound, match=r"layer 'jorder' has no version 9; versions: 1, 2, 3"):
        store.rollback("jorder", 9)
    with pytest.raises(LayerNotFound, match="no layer 'nope'"):
        store.rollback("nope", 1)
    with pytest.raises(LayerNotFound):
        store.get_layer("nope")
    with pytest.raises(LayerNotFound):
        store.versions("nope")
    assert store.current_versions() == {"jorder": 2}


def test_publish_is_invisible_until_committed_and_atomic(store: Store) -> None:
    store.publish("jorder", _grid(3), LayerMeta(LayerKind.farmland))
    seen: list[tuple[int, int]] = []

    class Watch:
        def stage(self, name: str, total: int | None = None) -> None:
            pass

        def advance(self, amount: int = 1) -> None:  # called while the new version is being written
            seen.append((store.get_layer("jorder").current.version, store.current_versions()["jorder"]))

    store.publish("jorder", _grid(4), LayerMeta(LayerKind.farmland), progress=Watch())
    assert seen and set(seen) == {(1, 1)}
    assert store.get_layer("jorder").current.version == 2

    class Fail(Watch):
        def advance(self, amount: int = 1) -> None:
            raise RuntimeError("disk full (simulated)")

    before = (store.list_layers(), store.versions("jorder"))
    with pytest.raises(RuntimeError, match="simulated"):
        store.publish("jorder", _grid(6), LayerMeta(LayerKind.farmland, "never"), progress=Fail())
    with pytest.raises(RuntimeError, match="simulated"):
        store.publish("neu", _grid(6), LayerMeta(LayerKind.farmland), progress=Fail())
    assert (store.list_layers(), store.versions("jorder")) == before
    assert store.publish("jorder", _grid(2), LayerMeta(LayerKind.farmland)).version == 3  # no version lost


def test_before_commit_sees_nothing_yet_and_can_refuse_the_version(store: Store) -> None:
    """``publish(before_commit=...)`` runs once the version is written, before anyone sees it; if it raises,
    nothing is published (the ingest's validity and kind checks use it)."""
    store.publish("jorder", _grid(3), LayerMeta(LayerKind.farmland))
    before = (store.list_layers(), store.versions("jorder"))
    seen: list[int] = []

    def refuse() -> None:
        seen.append(store.current_versions()["jorder"])
        raise ValueError("refused (simulated check)")

    with pytest.raises(ValueError, match="simulated check"):
        store.publish("jorder", _grid(5), LayerMeta(LayerKind.farmland, "never"), before_commit=refuse)
    with pytest.raises(ValueError, match="simulated check"):
        store.publish("ny", _grid(5), LayerMeta(LayerKind.farmland), before_commit=refuse)
    assert seen == [1, 1]
    assert (store.list_layers(), store.versions("jorder")) == before
    record = store.publish("jorder", _grid(4), LayerMeta(LayerKind.farmland), before_commit=lambda: seen.append(0))
    assert (record.version, record.feature_count, seen[-1]) == (2, 4, 0)


def test_handed_wkb_is_stored_as_the_geometries_are(store: Store) -> None:
    """``publish(wkb=...)``: the bytes stand for the geometries, so the stored layer is the one published
    without them, also for WKB with Z (not taken: both stores write versions 2D)."""
    flat = _grid(3)
    with_z = flat.set_geometry(shapely.force_3d(flat.geometry.values, 7.0), crs=25832)
    for frame in (flat, with_z):
        geoms = frame.geometry.values
        encoded = store.publish("jorder", frame, LayerMeta(LayerKind.farmland))
        handed = store.publish("jorder", frame, LayerMeta(LayerKind.farmland), wkb=shapely.to_wkb(geoms))
        stored = [shapely.to_wkb(store.read_frame(r).geometry.values).tolist() for r in (encoded, handed)]
        assert stored[0] == stored[1]
        assert shapely.get_parts(store.read_frame(handed).geometry.values).tolist() == flat.geometry.values.tolist()
        assert handed.geometry_type == "Polygon" and frame.geometry.values is geoms  # the caller's frame untouched


def test_bad_input_leaves_catalog_untouched(store: Store, tmp_path: Path) -> None:
    store.publish("plan", _grid(2), LayerMeta(LayerKind.zoning))
    before = (store.list_layers(), store.versions("plan"))
    no_crs = tmp_path / "no_crs.shp"  # a shapefile without its .prj
    _grid(2).set_crs(None, allow_override=True).to_file(no_crs)
    with pytest.raises(SourceNotFound):
        ingest(store, tmp_path / "missing.gpkg", "plan", LayerKind.zoning)
    with pytest.raises(MissingCRS):
        ingest(store, no_crs, "plan", LayerKind.zoning)
    with pytest.raises(InvalidLayerId):
        store.publish("Bad Id", _grid(2), LayerMeta(LayerKind.zoning))
    assert (store.list_layers(), store.versions("plan")) == before


# -- the two stores side by side ----------------------------------------------------------------
def test_both_stores_give_the_same_answers(both_stores: tuple[Store, Store], data: Path) -> None:
    gpkg, pg = both_stores
    for store in both_stores:
        _ingest_real(store)
    a, b = gpkg.get_layer("ar5"), pg.get_layer("ar5")
    assert (a.kind, a.title, a.attribution) == (b.kind, b.title, b.attribution)
    strip = {"location", "created"}
    assert {k: v for k, v in vars(a.current).items() if k not in strip} == \
        {k: v for k, v in vars(b.current).items() if k not in strip}

    for bbox in [None, *BOXES]:
        for filters in ({}, {"arealtype": "21"}, {"arealtype": "30", "grunnforhold": "44"}):
            for limit, offset in ((10, 0), (7, 3), (500, 0), (5, 400)):
                assert _page_tuple(gpkg.query(a.current, bbox, filters, limit, offset)) == \
                    _page_tuple(pg.query(b.current, bbox, filters, limit, offset)), (bbox, filters, limit, offset)
    for bbox in BOXES:
        sa, sb = gpkg.scan(a.current, bbox, ["arealtype", "gml_id"]), pg.scan(b.current, bbox, ["arealtype", "gml_id"])
        assert sa.ids.tolist() == sb.ids.tolist() and sa.columns == sb.columns
        assert shapely.to_wkb(sa.geometries).tolist() == shapely.to_wkb(sb.geometries).tolist()
        fa, fb = gpkg.read_frame(a.current, bbox).sort_index(), pg.read_frame(b.current, bbox).sort_index()
        assert fa.index.tolist() == fb.index.tolist()
        pd.testing.assert_frame_equal(pd.DataFrame(fa.drop(columns="geometry")),
                                      pd.DataFrame(fb.drop(columns="geometry")), check_dtype=False)
    ka, kb = gpkg.read_frame(gpkg.get_layer("kommuner").current), pg.read_frame(pg.get_layer("kommuner").current)
    assert shapely.equals_exact(ka.geometry.to_numpy(), kb.geometry.to_numpy(), tolerance=0).all()
    for fid in (1, 100, 271):
        assert _page_tuple(gpkg.get_feature(a.current, fid)) == _page_tuple(pg.get_feature(b.current, fid))

    errors = [_error_messages(store, record) for store, record in ((gpkg, a.current), (pg, b.current))]
    assert errors[0] == errors[1]


def _error_messages(store: Store, record: Any) -> list[tuple[str, str]]:
    messages = []
    for call in (lambda: store.get_feature(record, 999), lambda: store.get_layer("nope"),
                 lambda: store.rollback("ar5", 5), lambda: store.query(record, None, {"x": 1}, 1, 0),
                 lambda: store.query(record, None, {"arealtype": "x"}, 1, 0)):
        with pytest.raises(Exception) as info:
            call()
        messages.append((type(info.value).__name__, str(info.value)))
    return messages


def test_exclusive_lock_spans_store_instances(store: Store) -> None:
    """A named lock held through one store instance blocks another instance (another process, replica)."""
    import threading
    import time

    from layers.gpkg_store import GeoPackageStore

    if isinstance(store, GeoPackageStore):
        other: Any = GeoPackageStore(store.workspace)
    else:
        from layers.postgis_store import PostGISStore

        other = PostGISStore(store.url, pool_size=2)
    events: list[str] = []

    def contender() -> None:
        with other.exclusive("derived-layers"):
            events.append("second holder")

    try:
        with store.exclusive("derived-layers"):
            thread = threading.Thread(target=contender)
            thread.start()
            time.sleep(0.3)
            events.append("first released")
        thread.join(timeout=10)
        assert events == ["first released", "second holder"]
        with store.exclusive("another-name"), other.exclusive("derived-layers"):
            pass  # different names do not block each other
    finally:
        if hasattr(other, "close"):
            other.close()
