"""Ingest writes the new version while the validity and kind checks run, and commits only when both pass.

A valid layer in the working CRS takes that path; an invalid one is rolled back and done the long way
(repaired first); a refused one leaves nothing behind. Either way the published layer is the one ``normalise``
gives, on both stores, and nothing of a rolled-back write stays (no version, no table, no file).

SYNTHETIC data: the 3 000 irregular parcels of ``test_ingest_parity`` (EPSG:25832).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import pytest
import shapely

from layers.checks import CheckContext, KindCheckFailed, region_from_store
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.normalise import all_valid, normalise, normalise_assuming_valid, normalise_attributes
from layers.store import LayerMeta, Store, VersionRecord
from tests.layers.test_ingest_parity import municipalities, source_frame


def reopened_leftovers(store: Store) -> list[str]:
    """What opening the store again would clean up (tables or files of a write that was not committed)."""
    from layers.gpkg_store import GeoPackageStore

    if isinstance(store, GeoPackageStore):
        return GeoPackageStore(store.workspace).removed_leftovers
    return store.drop_orphan_tables()  # type: ignore[attr-defined]


def parts_wkb(geoms: np.ndarray) -> list[bytes]:
    """The WKB of every polygon part in order (a store may promote a layer's polygons to one-part multis)."""
    return shapely.to_wkb(shapely.get_parts(np.asarray(geoms, dtype=object))).tolist()


@pytest.mark.parametrize("kind", ["gpkg", "postgis"])
@pytest.mark.parametrize("drop", [[5, 9], [5], [9]], ids=["valid", "valid and one empty", "one bow tie"])
def test_published_layer_is_what_normalise_gives(kind: str, drop: list[int], make_store: Callable[[str], Store],
                                                 tmp_path: Path) -> None:
    valid = 5 in drop  # row 5 is the bow tie, row 9 the empty one
    source = tmp_path / "ar5.gpkg"
    pyogrio.write_dataframe(source_frame().drop(index=drop), source, layer="ar5")
    store = make_store(kind)
    store.publish("kommuner", municipalities(), LayerMeta(LayerKind.municipality, "Kommuner (syntetisk)"))
    checks = CheckContext(region_from_store(store, (0.0, 0.0, 1.0, 1.0)), None, False)
    writes: list[tuple[str, list[bytes] | None]] = []  # the writes ingest starts, with the WKB it hands over
    publish, begin_publish = store.publish, store.begin_publish

    def spy(*args: Any, wkb: np.ndarray | None = None, **kwargs: Any) -> VersionRecord:
        writes.append(("publish", None if wkb is None else list(wkb)))
        return publish(*args, wkb=wkb, **kwargs)

    def spy_stream(layer_id: str, attributes: pd.DataFrame, wkb: np.ndarray) -> Any:
        streamed = begin_publish(layer_id, attributes, wkb)
        if streamed is not None:
            writes.append(("stream", list(wkb)))
        return streamed

    store.publish = spy  # type: ignore[method-assign]
    store.begin_publish = spy_stream  # type: ignore[method-assign]

    report = ingest(store, source, "ar5", LayerKind.farmland, checks=checks)

    want, want_report = normalise(pyogrio.read_dataframe(source), LayerKind.farmland, str(source))
    assert asdict(report.normalised) == asdict(want_report)
    assert report.normalised.repaired == (0 if valid else 1)
    assert report.normalised.dropped_empty == (0 if 9 in drop else 1)
    # valid: one write, with the WKB as read (the empty row left out); a bow tie: the quick write is rolled
    # back, and the repaired layer is written from its geometries. PostGIS starts writing the rows as read
    # before they are decoded, and keeps that write when no row is dropped and all are valid.
    read_wkb = pyogrio.raw.read(source)[2].tolist()
    want_wkb = shapely.to_wkb(want.geometry.values).tolist()
    quick_wkb = shapely.to_wkb(normalise_assuming_valid(pyogrio.read_dataframe(source), LayerKind.farmland,
                                                        "x")[0].geometry.values).tolist()
    expected = {
        # the GeoPackage store writes from the geometries (``writes_wkb`` False): the WKB goes after the read
        ("gpkg", "valid"): [("publish", None)],
        ("gpkg", "valid and one empty"): [("publish", None)],
        ("gpkg", "one bow tie"): [("publish", None), ("publish", None)],
        ("postgis", "valid"): [("stream", want_wkb)],
        ("postgis", "valid and one empty"): [("stream", read_wkb), ("publish", want_wkb)],
        ("postgis", "one bow tie"): [("stream", quick_wkb), ("publish", None)],
    }
    assert writes == expected[kind, {(5, 9): "valid", (5,): "valid and one empty", (9,): "one bow tie"}[tuple(drop)]]
    published = store.read_frame(store.get_layer("ar5").current)
    assert len(published) == len(want)
    assert parts_wkb(published.geometry.values) == parts_wkb(want.geometry.values)  # the same coordinates
    assert published["arealtype"].tolist() == want["arealtype"].tolist()
    assert published["navn"].tolist() == want["navn"].tolist()
    assert report.checks is not None and sum(report.checks.municipalities.values()) == len(want)
    assert [v.version for v in store.versions("ar5")] == [1]  # a rolled-back first write used no version
    assert reopened_leftovers(store) == []


@pytest.mark.parametrize("kind", ["gpkg", "postgis"])
def test_a_refused_layer_leaves_nothing(kind: str, make_store: Callable[[str], Store], tmp_path: Path) -> None:
    source = tmp_path / "ar5.gpkg"
    pyogrio.write_dataframe(source_frame().drop(index=[5, 9]), source, layer="ar5")
    store = make_store(kind)
    store.publish("kommuner", municipalities(), LayerMeta(LayerKind.municipality, "Kommuner (syntetisk)"))
    before = (store.list_layers(), store.current_versions())
    checks = CheckContext(region_from_store(store, (0.0, 0.0, 1.0, 1.0)), None, False)
    with pytest.raises(KindCheckFailed, match="needs the field 'arealformal'"):  # farmland as zoning
        ingest(store, source, "plan", LayerKind.zoning, checks=checks)
    with pytest.raises(KindCheckFailed, match=r"outside your municipalities \(3303\): 3305 \("):
        _scoped(store, source, checks)
    assert (store.list_layers(), store.current_versions()) == before
    assert reopened_leftovers(store) == []


def _scoped(store: Store, source: Path, checks: CheckContext) -> None:
    """An editor of 3303 adding a zoning layer that reaches into 3305 (refused: municipality-scoped kind)."""
    frame = pyogrio.read_dataframe(source).rename(columns={"ARTYPE": "arealformal"})
    zoning = source.with_name("plan.gpkg")
    pyogrio.write_dataframe(frame, zoning, layer="plan")
    ingest(store, zoning, "plan", LayerKind.zoning, checks=CheckContext(checks.region, ("3303",), False))


def test_normalise_assuming_valid_is_normalise_for_valid_layers_only() -> None:
    frame = source_frame().drop(index=[9])
    quick = normalise_assuming_valid(frame.drop(index=[5]), LayerKind.farmland, "x.gpkg")
    full = normalise(frame.drop(index=[5]), LayerKind.farmland, "x.gpkg")
    assert quick is not None
    assert asdict(quick[1]) == asdict(full[1])
    assert quick[0].geom_equals_exact(full[0].geometry, 0).all() and all_valid(quick[0].geometry.values)
    with_bow_tie = normalise_assuming_valid(frame, LayerKind.farmland, "x.gpkg")
    assert with_bow_tie is not None and not all_valid(with_bow_tie[0].geometry.values)  # the caller's cue
    # what the output cannot tell: reprojection (repairs come first) and collections (parts are extracted)
    assert normalise_assuming_valid(frame.to_crs(4326), LayerKind.farmland, "x.gpkg") is None
    mixed = gpd.GeoDataFrame(geometry=[*frame.geometry.values[:3],
                                       shapely.GeometryCollection([frame.geometry.values[4]])], crs=25832)
    assert normalise_assuming_valid(mixed, LayerKind.farmland, "x.gpkg") is None


def test_attributes_normalised_ahead_are_those_normalise_publishes() -> None:
    """SYNTHETIC zoning attributes with nested values, names that clash (case, the store's own columns) and
    text codes: ``normalise_attributes`` before the geometries gives the frame and report ``normalise`` gives,
    row by row (any rows of it are those rows of the whole)."""
    n = 6
    frame = gpd.GeoDataFrame({
        "PlanID": [f"3303-{i}" for i in range(n)], "planid": ["x"] * n, "fid": list(range(n)),
        "arealformal": ["1300", " 1800", "2", None, "5110", "1001"],
        "meta": [{"kilde": "plan"}, None, [1, 2], "text", {"å": 1}, None],
    }, geometry=[shapely.box(600_000 + 100 * i, 6_600_000, 600_050 + 100 * i, 6_600_050) for i in range(n)],
        crs=25832)
    ahead = normalise_attributes(pd.DataFrame(frame.drop(columns="geometry")), LayerKind.zoning)
    out, report = normalise(frame, LayerKind.zoning, "plan.gpkg")
    quick = normalise_assuming_valid(frame, LayerKind.zoning, "plan.gpkg", attributes=ahead)
    assert quick is not None
    assert list(quick[0].columns) == list(out.columns)  # the geometry where normalise puts it
    pd.testing.assert_frame_equal(quick[0], out)
    assert asdict(quick[1]) == asdict(report)
    assert ahead.field_map == report.field_map and ahead.warnings == [
        "renamed clashing attribute names: planid -> planid_2, fid -> fid_2"]
    assert [out["meta"][i] for i in (0, 2, 4)] == ['{"kilde": "plan"}', "[1, 2]", '{"å": 1}']
    assert out["arealformal"].tolist()[:3] == [1300, 1800, 2]  # the canonical code, an integer
    rows = [1, 4, 5]
    some = normalise_attributes(pd.DataFrame(frame.drop(columns="geometry")).iloc[rows], LayerKind.zoning)
    pd.testing.assert_frame_equal(some.frame, ahead.frame.iloc[rows])
