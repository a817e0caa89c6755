"""``layers add`` runs the kind checks: a municipality layer loaded as zoning is refused (nothing published);
``--force`` publishes a wrong geometry type / a layer outside the region with warnings."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import Point, box

from layers.gpkg_store import GeoPackageStore
from tests.geo_service.test_cli import error_line, run


def test_municipalities_as_zoning_refused_and_points_forced(tmp_path: Path) -> None:
    kommuner = tmp_path / "kommuner.geojson"
    gpd.GeoDataFrame({"kommunenummer": ["3303", "3334"], "kommunenavn": ["Kongsberg", "Flesberg"]},
                     geometry=[box(530_000, 6_610_000, 540_000, 6_620_000),
                               box(540_000, 6_610_000, 550_000, 6_620_000)], crs=25832).to_file(kommuner)
    line = error_line(run("layers", "add", kommuner, "--id", "plan", "--kind", "zoning", "-w", tmp_path / "ws",
                          cwd=tmp_path))
    assert line.startswith("error: kommuner.geojson: refused as zoning: a zoning layer needs the field 'arealformal'")
    assert GeoPackageStore(tmp_path / "ws").list_layers() == []

    guinea = tmp_path / "punkt.geojson"
    gpd.GeoDataFrame({"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"]}, geometry=[Point(2.0, 1.0)],
                     crs=4326).to_file(guinea)
    forced = run("layers", "add", guinea, "--id", "kommuner", "--kind", "municipality", "--force",
                 "-w", tmp_path / "ws", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "warning: a municipality layer must hold polygons (flater), but this one has 1 points (punkt) " \
           "(published anyway: forced)" in forced.stdout
    assert "warning: 1 of 1 features (100%) lie outside the region's extent" in forced.stdout
    store = GeoPackageStore(tmp_path / "ws")
    assert [(e.actor.startswith("cli:"), e.action, e.target, e.result, e.source_name) for e in store.audit_entries()] \
        == [(True, "publish", "kommuner", "ok", "punkt.geojson"), (True, "publish", "plan", "refused", "kommuner.geojson")]
