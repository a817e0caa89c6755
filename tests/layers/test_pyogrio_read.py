"""``layers.pyogrio_read``: the same frame as ``pyogrio.read_dataframe``, and the WKB GDAL gave beside it.

Real files from ``shared/data`` (read in place, GML with ``WRITE_GFS=NO``), every layer of each; and
SYNTHETIC files for what the real ones lack (dates, times with and without offsets, JSON, empty rows).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from layers.pyogrio_read import BLOCK, read_with_wkb, unchanged_rows
from layers.readers import resolve_source
from tests.layers.test_ingest_real_data import (
    AR5_GML,
    AR5_GPKG,
    DATA,
    KOMMUNER,
    KULTURMINNER_GML,
    N1000,
    RP_GEOJSON,
    RP_GPKG,
)

REAL = [KOMMUNER, N1000, AR5_GML, AR5_GPKG, KULTURMINNER_GML, RP_GPKG, RP_GEOJSON,
        "kommuner-kartverket-robhop/Kommuner-2024-S.geojson"]


def same_as_read_dataframe(path: Path, layer: str | None = None, **options: str) -> tuple[gpd.GeoDataFrame,
                                                                                            np.ndarray]:
    """Read ``path`` both ways, check the frames are equal and the WKB is the geometries' own; return ours."""
    ours, wkb = read_with_wkb(path, layer=layer, **options)
    theirs = pyogrio.read_dataframe(path, layer=layer, **options)
    assert isinstance(ours, gpd.GeoDataFrame) and ours.crs == theirs.crs
    # geometries by their bytes (an invalid one is not "equal" even to itself), the rest as pandas compares
    assert shapely.to_wkb(ours.geometry.values).tolist() == shapely.to_wkb(theirs.geometry.values).tolist()
    pd.testing.assert_frame_equal(pd.DataFrame(ours.drop(columns="geometry")),
                                  pd.DataFrame(theirs.drop(columns="geometry")))
    assert wkb is not None and len(wkb) == len(ours)
    flat = ~shapely.has_z(ours.geometry.values) & ~shapely.is_missing(ours.geometry.values)
    assert shapely.to_wkb(ours.geometry.values[flat]).tolist() == list(wkb[flat])  # what a store would encode
    return ours, wkb


@pytest.mark.parametrize("name", REAL)
def test_every_real_layer_reads_as_read_dataframe_reads_it(name: str) -> None:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"real data file {path} is missing (expected shared/data beside the repository)")
    source = resolve_source(path)
    options = {"WRITE_GFS": "NO"} if source.driver == "GML" else {}
    rows = 0
    for layer in source.layers:
        frame, _ = same_as_read_dataframe(path, layer, **options)
        rows += len(frame)
    assert rows > 0
    assert not list(path.parent.glob("*.gfs"))


def test_dates_times_json_and_missing_values_read_as_read_dataframe_reads_them(tmp_path: Path) -> None:
    """SYNTHETIC: a GeoPackage with a date, naive and UTC times, JSON text and NULLs; a GeoJSON with mixed
    UTC offsets (read_dataframe gives those in UTC)."""
    frame = gpd.GeoDataFrame({
        "dato": pd.to_datetime(["2024-01-31", None, "1999-12-01"]).date,
        "naiv": pd.to_datetime(["2024-01-31 12:30:00.123", "2001-02-03 04:05:06.000", None]),
        "utc": pd.to_datetime(["2024-01-31 12:30", None, "2001-02-03 04:05"]).tz_localize("UTC"),
        "tall": [1.5, None, 3.0], "navn": ["Åsen", None, "Bø"]},
        geometry=[shapely.box(0, 0, 1, 1), None, shapely.Point(5, 5)], crs=25832)
    gpkg = tmp_path / "tider.gpkg"
    pyogrio.write_dataframe(frame, gpkg, layer="tider")
    ours, wkb = same_as_read_dataframe(gpkg)
    assert ours["naiv"].dtype == "datetime64[ms]" and str(ours["utc"].dtype) == "datetime64[ms, UTC]"
    assert ours["naiv"].iloc[0] == pd.Timestamp("2024-01-31 12:30:00.123")
    assert wkb[1] is None and ours.geometry.values[1] is None

    geojson = tmp_path / "blandet.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [10.0, 59.6]},
         "properties": {"tid": "2024-06-01T12:00:00+02:00", "data": {"a": [1, 2]}}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [10.1, 59.7]},
         "properties": {"tid": "2024-12-01T12:00:00+01:00", "data": {"b": None}}}]}))
    ours, _ = same_as_read_dataframe(geojson)
    assert ours["tid"].tolist() == [pd.Timestamp("2024-06-01T10:00:00Z"), pd.Timestamp("2024-12-01T11:00:00Z")]
    assert ours["data"].tolist() == [{"a": [1, 2]}, {"b": None}]


def test_blocks_are_handed_over_in_order_as_they_are_decoded(tmp_path: Path) -> None:
    """SYNTHETIC: 2.5 blocks of points; the blocks seen are the frame's own geometry objects, in order."""
    n = BLOCK * 2 + BLOCK // 2
    path = tmp_path / "punkter.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"i": np.arange(n)}, geometry=shapely.points(np.arange(n), 0),
                                             crs=25832), path)
    seen: list[np.ndarray] = []
    frame, _ = read_with_wkb(path, decoded=seen.append)
    assert [len(b) for b in seen] == [BLOCK, BLOCK, BLOCK // 2]
    assert all(a is b for a, b in zip(np.concatenate(seen), frame.geometry.values, strict=True))


def test_unchanged_rows_only_for_the_geometries_as_read() -> None:
    """SYNTHETIC geometries: kept as they were (some missing or empty ones dropped) -> their rows; a changed
    one or a reordering -> None."""
    read = np.array([shapely.box(0, 0, 1, 1), None, shapely.Polygon(), shapely.box(2, 2, 3, 3)], dtype=object)
    assert unchanged_rows(read, read.copy()).tolist() == [0, 1, 2, 3]
    assert unchanged_rows(read, read[[0, 3]]).tolist() == [0, 3]
    assert unchanged_rows(read, read[[3, 0]]) is None  # another order
    assert unchanged_rows(read, read[[0]]) is None  # a row dropped that was not empty
    assert unchanged_rows(read, np.array([read[0], shapely.box(2, 2, 3, 3)], dtype=object)) is None  # a copy
