"""Ingest of the real agency files in ``shared/data`` (read in place), plus synthetic format round trips.

The real files live beside the repository (``<repo>/../shared/data``); the tests that need them skip
when that folder is absent. Everything written goes to ``tmp_path``.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

import layers.gpkg_store
from layers.errors import LayerChoiceRequired
from layers.gpkg_store import GeoPackageStore
from layers.ingest import IngestReport, ingest
from layers.kinds import LayerKind

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

KOMMUNER = "kommuner-kartverket-robhop/kongsbergregionen_kommuner_2024_epsg25832.gpkg"
N1000 = "n1000-kartverket-hmalmedal/n1000_kongsbergregionen_epsg25833.gpkg"
AR5_GML = "ar5-fkb-sample-valdres-vegvesen/FKB_AR5_Fv251Hellefossen.gml"
AR5_GPKG = "ar5-fkb-sample-valdres-vegvesen/ar5_flate_Fv251Hellefossen_epsg25832.gpkg"
KULTURMINNER_GML = (
    "kulturminner-riksantikvaren-wfs-sample-drammen/wfs_kulturminner_Lokalitet_drammen_sample.gml"
)
RP_GPKG = "reguleringsplan-stemtjonn-kristiansand-dibk/4204_1536_stemtjonn_skytebane_epsg25832.gpkg"
RP_GEOJSON = "reguleringsplan-stemtjonn-kristiansand-dibk/4204_1536_stemtjonn_skytebane_epsg25832.geojson"


@pytest.fixture
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real data folder {DATA} is missing (expected shared/data beside the repository)")
    return DATA


@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    return GeoPackageStore(tmp_path / "workspace")


def _gfs_files(folder: Path) -> set[Path]:
    return set(folder.glob("*.gfs")) | set(folder.glob("*.GFS"))


@pytest.fixture
def no_gfs_written() -> Iterator:
    """Check (after the test) that no GML ingest left a ``.gfs`` sidecar beside its source.

    We may run as root, so GDAL could write into the read-only ``shared/`` folder; a sidecar found
    there that was not there before is removed again (it is ours) and the test fails.
    """
    watched: dict[Path, set[Path]] = {}

    def watch(source: Path) -> Path:
        watched.setdefault(source.parent, _gfs_files(source.parent))
        return source

    yield watch
    created = {folder: _gfs_files(folder) - before for folder, before in watched.items()}
    for files in created.values():
        for f in files:
            f.unlink(missing_ok=True)
    assert not any(created.values()), f"GML ingest wrote .gfs sidecars next to its sources: {created}"
    for folder in watched:
        assert not _gfs_files(folder), f"{folder} holds .gfs files"


def _frame(store: GeoPackageStore, layer_id: str) -> gpd.GeoDataFrame:
    return store.read_frame(store.get_layer(layer_id).current)


# -- municipalities ------------------------------------------------------------------------------
def test_municipalities_gpkg(store: GeoPackageStore, data: Path) -> None:
    report = ingest(store, data / KOMMUNER, "kommuner", LayerKind.municipality)

    n = report.normalised
    assert (n.features_in, n.features_out, n.repaired, n.dropped_empty, n.dropped_collapsed) == (
        9,
        9,
        0,
        0,
        0,
    )
    assert (n.crs_in, n.crs_out) == ("EPSG:25832", "EPSG:25832")
    assert n.field_map == {"kommunenummer": "kommunenummer", "kommunenavn": "kommunenavn"}
    record = store.get_layer("kommuner").current
    assert record.feature_count == 9
    frame = _frame(store, "kommuner")
    assert frame.crs.to_epsg() == 25832
    assert len(frame) == 9
    assert {"3303", "4026"} <= set(frame["kommunenummer"])
    assert frame["kommunenummer"].str.fullmatch(r"\d{4}").all()
    by_name = dict(zip(frame["kommunenummer"], frame["kommunenavn"], strict=True))
    assert by_name["3303"] == "Kongsberg"
    assert by_name["4026"] == "Tinn"
    assert by_name["3314"] == "Øvre Eiker"  # æøå intact
    area_km2 = frame.geometry.area / 1e6
    relative = (area_km2 - frame["area_km2"]).abs() / frame["area_km2"]
    assert (relative < 0.001).all(), relative.to_dict()
    assert record.bbox == pytest.approx(report.bbox)


# -- N1000 (EPSG:25833 source, 31 layers) -------------------------------------------------------
def test_n1000_lakes_reprojected_from_25833(store: GeoPackageStore, data: Path) -> None:
    source = data / N1000
    report = ingest(store, source, "innsjo", LayerKind.watercourse, layer="Innsjo")

    n = report.normalised
    assert (n.features_in, n.features_out, n.repaired) == (267, 267, 0)
    assert (n.crs_in, n.crs_out) == ("EPSG:25833", "EPSG:25832")
    assert report.source_layer == "Innsjo"
    minx, miny, maxx, maxy = report.bbox
    assert 413_000 < minx < maxx < 563_000
    assert 6_583_000 < miny < maxy < 6_711_000

    published = _frame(store, "innsjo")
    assert published.crs.to_epsg() == 25832
    raw = pyogrio.read_dataframe(source, layer="Innsjo")
    assert raw.crs.to_epsg() == 25833
    biggest = int(np.argmax(raw.geometry.area.to_numpy()))
    to_32 = Transformer.from_crs(25833, 25832, always_xy=True)
    expected = shapely.transform(
        raw.geometry.iloc[biggest], lambda xy: np.column_stack(to_32.transform(*xy.T))
    )
    lake = published.iloc[biggest]
    assert lake["høyde"] == raw["høyde"].iloc[biggest]
    assert lake.geometry.area == pytest.approx(expected.area, rel=1e-4)
    assert expected.area > 10e6  # the biggest lake really is a lake (Tinnsjøen is ~50 km²)
    # the coordinates really moved: one UTM zone west means larger eastings
    assert lake.geometry.centroid.x > raw.geometry.iloc[biggest].centroid.x + 100_000


def test_n1000_rivers(store: GeoPackageStore, data: Path) -> None:
    report = ingest(store, data / N1000, "elvbekk", LayerKind.watercourse, layer="ElvBekk")

    n = report.normalised
    assert (n.features_in, n.features_out) == (632, 632)
    assert (n.crs_in, n.crs_out) == ("EPSG:25833", "EPSG:25832")
    assert set(n.geometry_types) <= {"LineString", "MultiLineString"}
    minx, miny, maxx, maxy = report.bbox
    assert 413_000 < minx < maxx < 563_000
    assert 6_583_000 < miny < maxy < 6_711_000
    assert store.get_layer("elvbekk").current.feature_count == 632


def test_n1000_without_layer_lists_the_layers(store: GeoPackageStore, data: Path) -> None:
    with pytest.raises(LayerChoiceRequired) as info:
        ingest(store, data / N1000, "n1000", LayerKind.watercourse)
    message = str(info.value)
    assert "n1000_kongsbergregionen_epsg25833.gpkg" in message
    assert "--layer" in message
    assert "Innsjo" in message and "ElvBekk" in message
    assert "31 layers" in message
    assert store.list_layers() == []


# -- AR5 GML (FKB, invalid polygons) ------------------------------------------------------------
AR5_FARMLAND = {21: (28, 480_128), 22: (2, 1_246), 23: (7, 13_375)}  # arealtype: (polygons, m²)


def _check_ar5(store: GeoPackageStore, report: IngestReport, layer_id: str) -> None:
    n = report.normalised
    assert n.features_in == 272
    assert n.repaired == 22
    assert n.dropped_empty == 0
    assert n.dropped_collapsed == 1  # a 3-point ring (A, B, A) of zero area
    assert n.features_out == 271
    assert any("collapsed" in w for w in n.warnings)
    assert n.field_map == {"arealtype": "arealtype"}
    assert (n.crs_in, n.crs_out) == ("EPSG:25832", "EPSG:25832")
    frame = _frame(store, layer_id)
    assert len(frame) == 271 == store.get_layer(layer_id).current.feature_count
    assert frame.geometry.is_valid.all()
    assert set(frame.geom_type) <= {"Polygon", "MultiPolygon"}
    areas = frame.geometry.area.groupby(frame["arealtype"]).agg(["count", "sum"])
    for arealtype, (count, m2) in AR5_FARMLAND.items():
        assert areas.loc[arealtype, "count"] == count, arealtype
        assert areas.loc[arealtype, "sum"] == pytest.approx(m2, abs=1.0), arealtype
    assert frame["arealtype"].notna().all()


def test_ar5_gml(store: GeoPackageStore, data: Path, no_gfs_written) -> None:
    source = no_gfs_written(data / AR5_GML)
    report = ingest(store, source, "ar5", LayerKind.farmland, layer="ArealressursFlate")

    assert report.driver == "GML"
    _check_ar5(store, report, "ar5")


def test_ar5_gml_layer_choice_lists_gml_layers(store: GeoPackageStore, data: Path, no_gfs_written) -> None:
    source = no_gfs_written(data / AR5_GML)
    with pytest.raises(LayerChoiceRequired) as info:
        ingest(store, source, "ar5", LayerKind.farmland)
    assert "ArealressursFlate" in str(info.value)
    assert "ArealressursGrense" in str(info.value)


def test_ar5_gpkg_copy(store: GeoPackageStore, data: Path) -> None:
    report = ingest(store, data / AR5_GPKG, "ar5-gpkg", LayerKind.farmland)

    assert report.source_layer == "ArealressursFlate"
    _check_ar5(store, report, "ar5-gpkg")


# -- Kulturminner WFS GML (EPSG:4326, lat/lon axis order) ---------------------------------------
def test_kulturminner_gml_lat_lon(store: GeoPackageStore, data: Path, no_gfs_written) -> None:
    source = no_gfs_written(data / KULTURMINNER_GML)
    report = ingest(store, source, "kulturminner", LayerKind.heritage)

    n = report.normalised
    assert (n.features_in, n.features_out) == (10, 10)
    assert (n.crs_in, n.crs_out) == ("EPSG:4326", "EPSG:25832")
    assert n.field_map == {"vernetype": "vernetype", "kulturminne_id": "kulturminneId"}
    frame = _frame(store, "kulturminner")
    centroids = frame.geometry.centroid
    # Drammen, ~59.74 N 10.2 E; swapped axes would land in the Indian Ocean or fail to project
    assert centroids.x.between(566_000, 569_000).all(), centroids.x.tolist()
    assert centroids.y.between(6_622_000, 6_624_000).all(), centroids.y.tolist()
    assert set(frame["vernetype"]) == {"LIST", "VED", "FJE", "UAV", "STAT"}
    assert (frame["vernetype"] == frame["vernetype"].str.upper()).all()
    assert "Strømsgodset kirkested" in set(frame["navn"])
    assert "Øvre Sund bru" in set(frame["navn"])
    assert "84987-1" in set(frame["kulturminne_id"])


def test_gml_in_writable_folder_gets_no_gfs(tmp_path: Path, data: Path) -> None:
    """Where GDAL *can* write (a user's own folder, or any folder for root), it still must not."""
    source = tmp_path / "kulturminner.gml"
    shutil.copyfile(data / KULTURMINNER_GML, source)
    store = GeoPackageStore(tmp_path / "workspace")

    report = ingest(store, source, "kulturminner", LayerKind.heritage)

    assert report.normalised.features_out == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kulturminner.gml", "workspace"]


# -- Reguleringsplan (DiBK) ---------------------------------------------------------------------
def test_reguleringsplan_gpkg_arealformal(store: GeoPackageStore, data: Path) -> None:
    report = ingest(store, data / RP_GPKG, "stemtjonn", LayerKind.zoning, layer="RpArealformålOmråde")

    n = report.normalised
    assert (n.features_in, n.features_out) == (10, 10)
    assert n.field_map == {"arealformal": "arealformål"}
    frame = _frame(store, "stemtjonn")
    assert "arealformål" in frame.columns  # the original column is kept
    assert frame["arealformal"].dtype.kind == "i" or str(frame["arealformal"].dtype) == "Int64"
    counts = frame["arealformal"].value_counts().to_dict()
    assert set(counts) == {1470, 5100, 5130, 2010, 6001}
    assert (counts[1470], counts[5100], counts[6001], counts[5130], counts[2010]) == (4, 2, 2, 1, 1)
    assert (frame["arealformal"].astype(str) == frame["arealformål"].str.strip()).all()
    assert store.get_layer("stemtjonn").current.fields["arealformal"] == "int"


def test_reguleringsplan_geojson_mixed_and_case_clash(store: GeoPackageStore, data: Path) -> None:
    report = ingest(store, data / RP_GEOJSON, "stemtjonn-json", LayerKind.zoning)

    n = report.normalised
    assert (n.features_in, n.features_out) == (99, 99)
    assert n.geometry_types == {"LineString": 79, "MultiPolygon": 20}
    assert any(w.startswith("mixed geometry types") for w in n.warnings), n.warnings
    assert any(
        "renamed clashing attribute names" in w and "juridiskLinje -> juridiskLinje_2" in w
        for w in n.warnings
    ), n.warnings
    frame = _frame(store, "stemtjonn-json")
    assert len(frame) == 99
    assert {"juridisklinje", "juridiskLinje_2"} <= set(frame.columns)
    assert frame["arealformal"].value_counts().to_dict() == {1470: 4, 5100: 2, 6001: 2, 5130: 1, 2010: 1}
    assert frame["arealformal"].isna().sum() == 89
    assert set(frame.geom_type) == {"LineString", "MultiPolygon"}


# -- versions -----------------------------------------------------------------------------------
def test_versions_and_rollback(store: GeoPackageStore, data: Path) -> None:
    first = ingest(store, data / KOMMUNER, "kommuner", LayerKind.municipality)
    second = ingest(store, data / RP_GPKG, "kommuner", LayerKind.municipality, layer="RpArealformålOmråde")

    assert (first.version, second.version) == (1, 2)
    versions = store.versions("kommuner")
    assert [v.version for v in versions] == [1, 2]
    assert [v.feature_count for v in versions] == [9, 10]
    assert store.get_layer("kommuner").current.version == 2

    layer = store.rollback("kommuner", 1)
    assert layer.current.version == 1
    assert store.get_layer("kommuner").current.version == 1
    assert len(store.read_frame(store.get_layer("kommuner").current)) == 9
    assert [v.version for v in store.versions("kommuner")] == [1, 2]
    for v in versions:
        assert Path(v.location).is_file()
    assert versions[0].location != versions[1].location


# -- synthetic format round trip -----------------------------------------------------------------
NAMES = ["Kåla", "Østre Æsval", "Bråten"]
CODES = [1470, 5100, 2010]


def _synthetic_plan() -> gpd.GeoDataFrame:
    """Three zoning polygons near Kongsberg in EPSG:25833, SOSI-style upper-case column name."""
    boxes = [shapely.box(200_000 + i * 100, 6_620_000, 200_050 + i * 100, 6_620_050) for i in range(3)]
    return gpd.GeoDataFrame(
        {"navn": NAMES, "RPAREALFORMÅL": [str(c) for c in CODES]}, geometry=boxes, crs="EPSG:25833"
    )


def _zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, prefix + f.name)
    return target


def _write_format(fmt: str, frame: gpd.GeoDataFrame, d: Path) -> Path:
    if fmt == "geojson":
        pyogrio.write_dataframe(frame, d / "plan.geojson")
        return d / "plan.geojson"
    if fmt in ("shp-file", "shp-folder", "shp-zip"):
        (d / "shp").mkdir()
        pyogrio.write_dataframe(frame, d / "shp" / "plan.shp", encoding="UTF-8")
        if fmt == "shp-file":
            return d / "shp" / "plan.shp"
        if fmt == "shp-folder":
            return d / "shp"
        return _zip_folder(d / "shp", d / "plan.zip")
    if fmt == "fgb":
        pyogrio.write_dataframe(frame, d / "plan.fgb")
        return d / "plan.fgb"
    if fmt == "gml":
        pyogrio.write_dataframe(frame, d / "plan.gml", driver="GML")
        return d / "plan.gml"
    if fmt in ("gdb", "gdb-zip"):
        pyogrio.write_dataframe(frame, d / "x.gdb", driver="OpenFileGDB", layer="plan")
        if fmt == "gdb":
            return d / "x.gdb"
        zipped = _zip_folder(d / "x.gdb", d / "x.gdb.zip", prefix="x.gdb/")
        shutil.rmtree(d / "x.gdb")
        return zipped
    raise AssertionError(fmt)


FORMATS = ["geojson", "shp-file", "shp-folder", "shp-zip", "fgb", "gml", "gdb", "gdb-zip"]


@pytest.mark.filterwarnings("ignore:Normalized/laundered field name")
@pytest.mark.parametrize("fmt", FORMATS)
def test_format_round_trip(fmt: str, tmp_path: Path) -> None:
    """Synthetic data (labelled so): each format GIS staff deliver comes out the same."""
    src = tmp_path / "src"
    src.mkdir()
    path = _write_format(fmt, _synthetic_plan(), src)
    store = GeoPackageStore(tmp_path / "workspace")

    report = ingest(store, path, "plan", LayerKind.zoning)

    n = report.normalised
    assert (n.features_in, n.features_out) == (3, 3)
    assert (n.crs_in, n.crs_out) == ("EPSG:25833", "EPSG:25832")
    assert "arealformal" in n.field_map, (fmt, n.field_map)
    frame = _frame(store, "plan")
    assert frame.crs.to_epsg() == 25832
    assert len(frame) == 3
    by_name = dict(zip(frame["navn"], frame["arealformal"], strict=True))
    assert by_name == dict(zip(NAMES, CODES, strict=True))  # æøå intact, codes as ints (any row order)
    assert all(isinstance(v, (int, np.integer)) for v in by_name.values())
    assert store.get_layer("plan").current.fields["arealformal"] == "int"
    # 50 m x 50 m squares in zone 33 are ~0.2 % smaller in zone 32 (scale factor), as pyproj says
    to_32 = Transformer.from_crs(25833, 25832, always_xy=True)
    expected = shapely.transform(
        _synthetic_plan().geometry.values, lambda xy: np.column_stack(to_32.transform(*xy.T))
    )
    by_name_area = dict(zip(frame["navn"], frame.geometry.area, strict=True))
    assert [by_name_area[name] for name in NAMES] == pytest.approx(shapely.area(expected), rel=1e-9)
    assert by_name_area["Kåla"] == pytest.approx(2494.58, abs=0.01)
    assert not list(src.rglob("*.gfs"))


# -- failure half-way through a publish ----------------------------------------------------------
def _publish_v1(tmp_path: Path) -> tuple[GeoPackageStore, Path]:
    source = tmp_path / "plan.geojson"
    pyogrio.write_dataframe(_synthetic_plan(), source)
    store = GeoPackageStore(tmp_path / "workspace")
    assert ingest(store, source, "plan", LayerKind.zoning).version == 1
    bigger = gpd.GeoDataFrame(
        {"navn": [f"teig {i}" for i in range(50)], "RPAREALFORMÅL": ["1470"] * 50},
        geometry=[shapely.box(200_000 + i * 10, 6_620_000, 200_005 + i * 10, 6_620_005) for i in range(50)],
        crs="EPSG:25833",
    )
    source2 = tmp_path / "plan2.geojson"
    pyogrio.write_dataframe(bigger, source2)
    return store, source2


def _assert_untouched(store: GeoPackageStore, workspace: Path) -> None:
    assert [v.version for v in store.versions("plan")] == [1]
    record = store.get_layer("plan").current
    assert record.version == 1
    assert record.feature_count == 3
    assert len(store.read_frame(record)) == 3
    assert not list(workspace.rglob("*.tmp.gpkg"))
    assert [p.name for p in (workspace / "layers" / "plan").glob("*.gpkg")] == [Path(record.location).name]


def test_failed_write_mid_way_leaves_workspace_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, source2 = _publish_v1(tmp_path)
    real_write = pyogrio.write_dataframe

    def write_half_then_fail(df, path, *args, **kwargs):
        real_write(df.iloc[: len(df) // 2], path, *args, **kwargs)
        assert Path(path).exists()
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(layers.gpkg_store.pyogrio, "write_dataframe", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        ingest(store, source2, "plan", LayerKind.zoning)
    monkeypatch.undo()

    _assert_untouched(store, tmp_path / "workspace")
    # and a later, healthy publish still works and becomes version 2
    assert ingest(store, source2, "plan", LayerKind.zoning).version == 2
    assert store.get_layer("plan").current.feature_count == 50


def test_failure_after_rename_leaves_workspace_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GeoPackage is already renamed into place when the catalog step fails."""
    store, source2 = _publish_v1(tmp_path)

    def boom(frame):
        raise RuntimeError("catalog step failed (simulated)")

    monkeypatch.setattr(layers.gpkg_store, "frame_field_types", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        ingest(store, source2, "plan", LayerKind.zoning)
    monkeypatch.undo()

    _assert_untouched(store, tmp_path / "workspace")
