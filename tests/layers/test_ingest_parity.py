"""Ingest through the ``layers add`` path (kind checks included) publishes the same layer on both stores as a
plain geopandas reading of the file: the same count, areas, attributes and CRS, with invalid geometries repaired
and empty ones dropped; coordinates that are NaN or infinite are refused wherever they hide.

SYNTHETIC data: 3 000 irregular parcels near Kongsberg in EPSG:25832, two municipalities split at a vertical line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from layers.checks import CheckContext, region_from_store
from layers.errors import CorruptSource
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store

X0, Y0 = 530_000.0, 6_610_000.0
N = 3_000
SPLIT = X0 + 3_000.0


def source_frame() -> gpd.GeoDataFrame:
    """SYNTHETIC farmland: 20-vertex parcels on a jittered grid; row 5 is a bow tie, row 9 empty."""
    rng = np.random.default_rng(11)
    side = int(np.ceil(np.sqrt(N)))
    centres = np.array([(X0 + (i % side) * 110.0, Y0 + (i // side) * 110.0) for i in range(N)])
    angles = np.sort(rng.uniform(0, 2 * np.pi, (N, 20)), axis=1)
    radii = rng.uniform(30, 50, (N, 20))
    rings = np.stack([centres[:, :1] + radii * np.cos(angles), centres[:, 1:] + radii * np.sin(angles)], axis=-1)
    geoms = list(shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1)))
    x, y = centres[5]
    geoms[5] = shapely.Polygon([(x, y), (x + 40, y + 40), (x + 40, y), (x, y + 40), (x, y)])  # bow tie
    geoms[9] = shapely.Polygon()
    return gpd.GeoDataFrame({"ARTYPE": rng.choice([21, 22, 23, 30], N), "navn": [f"Teig {i} – Åsen" for i in range(N)]},
                            geometry=geoms, crs=25832)


def municipalities() -> gpd.GeoDataFrame:
    """Two SYNTHETIC municipalities sharing the boundary x = SPLIT."""
    return gpd.GeoDataFrame({"kommunenummer": ["3303", "3305"], "kommunenavn": ["Vest", "Øst"]},
                            geometry=[shapely.box(X0 - 1_000, Y0 - 1_000, SPLIT, Y0 + 8_000),
                                      shapely.box(SPLIT, Y0 - 1_000, X0 + 8_000, Y0 + 8_000)], crs=25832)


@pytest.mark.parametrize("kind", ["gpkg", "postgis"])
def test_ingest_publishes_what_geopandas_reads(kind: str, make_store: Callable[[str], Store], tmp_path: Path) -> None:
    source = tmp_path / "ar5.gpkg"
    pyogrio.write_dataframe(source_frame(), source, layer="ar5")
    store = make_store(kind)
    store.publish("kommuner", municipalities(), LayerMeta(LayerKind.municipality, "Kommuner (syntetisk)"))
    checks = CheckContext(region_from_store(store, (0.0, 0.0, 1.0, 1.0)), None, False)
    report = ingest(store, source, "ar5", LayerKind.farmland, checks=checks)

    plain = pyogrio.read_dataframe(source)
    plain = plain[~plain.geometry.is_empty]
    repaired = shapely.make_valid(np.asarray(plain.geometry.values, dtype=object), method="structure",
                                  keep_collapsed=False)
    assert report.normalised.features_in == N
    n = report.normalised
    assert (n.features_out, n.dropped_empty, n.repaired) == (N - 1, 1, 1)
    assert report.normalised.geometry_types == {"Polygon": N - 2, "MultiPolygon": 1}
    inside_x = shapely.get_x(shapely.point_on_surface(repaired))  # the municipality is where this point lies
    assert report.checks is not None
    assert report.checks.municipalities == {"3303": int((inside_x < SPLIT).sum()), "3305": int((inside_x > SPLIT).sum())}
    record = store.get_layer("ar5").current
    published = store.read_frame(record)
    assert record.feature_count == len(published) == N - 1
    assert published.crs.to_epsg() == 25832
    assert record.fields == {"ARTYPE": "int", "navn": "str", "arealtype": "int"}
    np.testing.assert_allclose(published.geometry.area.to_numpy(), shapely.area(repaired), rtol=1e-12)
    assert published["navn"].tolist() == plain["navn"].tolist()
    assert published["arealtype"].tolist() == plain["ARTYPE"].tolist()
    assert shapely.is_valid(published.geometry.values).all()
    # the spatial index answers: a bbox query finds what shapely finds
    box = (X0 + 500, Y0 + 500, X0 + 1_500, Y0 + 1_200)
    page = store.query(record, box, {}, 10_000, 0)
    want = np.flatnonzero(shapely.intersects(published.geometry.values, shapely.box(*box)))
    assert page.ids.tolist() == published.index[want].tolist()


@pytest.mark.parametrize("where", ["a polygon vertex", "the second point of a multipoint", "a line end"])
def test_nan_or_infinite_coordinates_are_refused_wherever_they_are(where: str, tmp_path: Path,
                                                                    make_store: Callable[[str], Store]) -> None:
    x, y = X0, Y0
    good = {"type": "Feature", "properties": {"navn": "ok"},
            "geometry": {"type": "Point", "coordinates": [x, y]}}
    bad_geometry = {
        "a polygon vertex": {"type": "Polygon", "coordinates": [[[x, y], [x + 10, y], [x + 10, "NaN"], [x, y]]]},
        "the second point of a multipoint": {"type": "MultiPoint", "coordinates": [[x, y], [x + 5, "NaN"]]},
        "a line end": {"type": "LineString", "coordinates": [[x, y], [x + 5, "Infinity"]]},
    }[where]
    text = json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::25832"}}, "features": [good, good, {**good, "geometry": bad_geometry}]})
    source = tmp_path / "bad.geojson"
    source.write_text(text.replace('"NaN"', "NaN").replace('"Infinity"', "Infinity"))
    store = make_store("gpkg")
    with pytest.raises(CorruptSource, match=r"1 feature has NaN or infinite coordinates \(source rows 2\)"):
        ingest(store, source, "punkter", LayerKind.other)
    assert store.list_layers() == []
