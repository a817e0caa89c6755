"""A malformed-input corpus, generated in ``tmp_path``: each case gives its own typed error whose one-line
message names the file and the fix, and leaves the workspace catalog exactly as it was."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest
import shapely

from layers.errors import (
    CorruptSource,
    InvalidLayerId,
    LayerChoiceRequired,
    LayerError,
    MissingCRS,
    NoFeatures,
    SourceNotFound,
    UnknownFormat,
)
from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind

# Shapefiles cut "arealformal" to "arealforma" (10 bytes); GDAL says so in a warning
pytestmark = pytest.mark.filterwarnings("ignore:Normalized/laundered field name")

EPSG_25832 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25832"}}


def _plan(n: int = 2) -> gpd.GeoDataFrame:
    names = ["Kåla", "Bråten", "Østre Æsval", "Lia", "Moen"]
    return gpd.GeoDataFrame(
        {"navn": [names[i % len(names)] for i in range(n)], "arealformal": ["1470"] * n},
        geometry=[shapely.box(540_000 + 20 * i, 6_600_000, 540_010 + 20 * i, 6_600_010) for i in range(n)],
        crs="EPSG:25832",
    )


def _write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _shapefile(folder: Path, name: str = "plan", frame: gpd.GeoDataFrame | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame if frame is not None else _plan(), folder / f"{name}.shp", encoding="UTF-8")
    return folder / f"{name}.shp"


def _zip(target: Path, files: list[Path]) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for f in files:
            zf.write(f, f.name)
    return target


# -- the workspace that must stay untouched ------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    """A workspace with one published layer, ``plan`` version 1 (2 features)."""
    workspace = tmp_path / "workspace"
    store = GeoPackageStore(workspace)
    source = tmp_path / "published.geojson"
    pyogrio.write_dataframe(_plan(2), source)
    assert ingest(store, source, "plan", LayerKind.zoning).version == 1
    return store


def _snapshot(store: GeoPackageStore) -> tuple:
    layers = [(r.id, r.current.version, r.current.feature_count) for r in store.list_layers()]
    versions = [[v.version for v in store.versions(r.id)] for r in store.list_layers()]
    files = sorted(str(p.relative_to(store.workspace)) for p in (store.workspace / "layers").rglob("*"))
    return layers, versions, files


def _assert_untouched(store: GeoPackageStore, before: tuple) -> None:
    assert _snapshot(store) == before
    assert before[0] == [("plan", 1, 2)]
    assert len(store.read_frame(store.get_layer("plan").current)) == 2
    assert not list(store.workspace.rglob("*.tmp.gpkg"))


# -- the corpus ----------------------------------------------------------------------------------
@dataclass
class Case:
    """A malformed source: how to make it, what ingest raises and what the message must say."""

    make: Callable[[Path], Path]
    error: type[LayerError]
    says: tuple[str, ...]  # the fix (and details) the message must mention
    kwargs: dict[str, Any] = field(default_factory=dict)
    layer_id: str = "plan"  # publishing over the existing layer is what must not happen
    names_file: bool = True


def _missing(d: Path) -> Path:
    return d / "reguleringsplan_3303.gpkg"


def _xyz(d: Path) -> Path:
    (d / "plan.xyz").write_text("1 2 3\n")
    return d / "plan.xyz"


def _sosi(d: Path) -> Path:
    (d / "plan.sos").write_text(".HODE\n..TEGNSETT UTF-8\n.SLUTT\n", encoding="utf-8")
    return d / "plan.sos"


def _empty(suffix: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / f"plan{suffix}").write_bytes(b"")
        return d / f"plan{suffix}"

    return make


def _truncated_gpkg(d: Path) -> Path:
    pyogrio.write_dataframe(_plan(200), d / "full.gpkg", layer="plan")
    data = (d / "full.gpkg").read_bytes()
    (d / "plan.gpkg").write_bytes(data[: int(len(data) * 0.4)])
    return d / "plan.gpkg"


def _truncated_geojson(d: Path) -> Path:
    pyogrio.write_dataframe(_plan(5), d / "full.geojson")
    text = (d / "full.geojson").read_text(encoding="utf-8")
    (d / "plan.geojson").write_text(text[: len(text) // 2], encoding="utf-8")
    return d / "plan.geojson"


def _not_json(d: Path) -> Path:
    (d / "plan.geojson").write_text("<html><body>502 Bad Gateway</body></html>\n")
    return d / "plan.geojson"


def _not_a_zip(d: Path) -> Path:
    (d / "plan.zip").write_bytes(b"PK? no, this is an HTML error page saved as .zip\n")
    return d / "plan.zip"


def _zip_crc(d: Path) -> Path:
    shp = _shapefile(d / "shp")
    target = d / "plan.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zf:
        for f in sorted(shp.parent.iterdir()):
            zf.write(f, f.name)
    data = bytearray(target.read_bytes())
    at = data.find("Bråten".encode())  # inside the stored .dbf
    data[at] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def _zip_without_layers(d: Path) -> Path:
    with zipfile.ZipFile(d / "plan.zip", "w") as zf:
        zf.writestr("LESMEG.txt", "Planen kommer senere.")
    return d / "plan.zip"


def _folder_without_shapefiles(d: Path) -> Path:
    (d / "levering").mkdir()
    (d / "levering" / "plan.pdf").write_bytes(b"%PDF-1.4")
    return d / "levering"


def _shp_without(suffix: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        shp = _shapefile(d / "shp")
        shp.with_suffix(suffix).unlink()
        return shp

    return make


def _shp_folder_without_shx(d: Path) -> Path:
    _shapefile(d / "levering").with_suffix(".shx").unlink()
    return d / "levering"


def _zip_without_shx(d: Path) -> Path:
    shp = _shapefile(d / "shp")
    return _zip(d / "plan.zip", [f for f in sorted(shp.parent.iterdir()) if f.suffix != ".shx"])


def _shp_custom_prj(d: Path) -> Path:
    shp = _shapefile(d / "shp")
    shp.with_suffix(".prj").write_text('LOCAL_CS["anleggsnett Kåla",UNIT["metre",1]]')
    return shp


def _two_shapefiles_zip(d: Path) -> Path:
    a = _shapefile(d / "shp", "plan_a")
    _shapefile(d / "shp", "plan_b", _plan(1))
    return _zip(d / "plan.zip", sorted(a.parent.iterdir()))


def _latin1_geojson(d: Path) -> Path:
    doc = {
        "type": "FeatureCollection",
        "crs": EPSG_25832,
        "features": [
            {
                "type": "Feature",
                "properties": {"navn": "Kåla", "arealformal": "1470"},
                "geometry": {"type": "Point", "coordinates": [540_000, 6_600_000]},
            }
        ],
    }
    (d / "plan.geojson").write_bytes(json.dumps(doc, ensure_ascii=False).encode("latin-1"))
    return d / "plan.geojson"


def _null_geometries(d: Path) -> Path:
    return _write_json(
        d / "plan.geojson",
        {
            "type": "FeatureCollection",
            "crs": EPSG_25832,
            "features": [
                {"type": "Feature", "properties": {"navn": f"teig {i}"}, "geometry": None} for i in range(3)
            ],
        },
    )


def _empty_collection(d: Path) -> Path:
    return _write_json(d / "plan.geojson", {"type": "FeatureCollection", "crs": EPSG_25832, "features": []})


def _all_collapse(d: Path) -> Path:
    return _write_json(
        d / "plan.geojson",
        {
            "type": "FeatureCollection",
            "crs": EPSG_25832,
            "features": [
                {
                    "type": "Feature",
                    "properties": {"navn": "strek"},
                    "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [20, 0], [0, 0]]]},
                }
            ],
        },
    )


def _gpkg(d: Path) -> Path:
    pyogrio.write_dataframe(_plan(), d / "plan.gpkg", layer="RpArealformalOmrade")
    pyogrio.write_dataframe(_plan(1), d / "plan.gpkg", layer="RpGrense", append=False)
    return d / "plan.gpkg"


def _empty_wfs_response(d: Path) -> Path:
    (d / "plan.gml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        'xmlns:gml="http://www.opengis.net/gml/3.2" numberMatched="0" numberReturned="0"></wfs:FeatureCollection>\n'
    )
    return d / "plan.gml"


def _truncated_gml(d: Path) -> Path:
    """An aborted WFS download: GML without .xsd, cut at 70 %; GDAL's reader stops silently at the cut."""
    pyogrio.write_dataframe(_plan(20), d / "full.gml", driver="GML", layer="RpArealformalOmrade")
    text = (d / "full.gml").read_text(encoding="utf-8")
    (d / "plan.gml").write_text(text[: int(len(text) * 0.7)], encoding="utf-8")
    return d / "plan.gml"


def _truncated_shp(d: Path) -> Path:
    shp = _shapefile(d / "shp", frame=_plan(50))
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    return shp


def _truncated_shp_zip(d: Path) -> Path:
    shp = _truncated_shp(d)
    return _zip(d / "plan.zip", sorted(shp.parent.iterdir()))


def _valid_geojson(d: Path) -> Path:
    pyogrio.write_dataframe(_plan(), d / "plan.geojson")
    return d / "plan.geojson"


CASES = {
    "missing file": Case(_missing, SourceNotFound, ("file not found", "check the path")),
    "unknown extension": Case(_xyz, UnknownFormat, ("'.xyz'", "supported", ".gpkg")),
    "sosi header only": Case(_sosi, NoFeatures, ("SOSI file holds no features", "only a header",
                                                 "check that the export")),
    "empty gpkg": Case(_empty(".gpkg"), CorruptSource, ("empty (0 bytes)", "again")),
    "empty geojson": Case(_empty(".geojson"), CorruptSource, ("empty (0 bytes)", "again")),
    "truncated gpkg": Case(_truncated_gpkg, CorruptSource, ("truncated or corrupt", "export it again")),
    "truncated geojson": Case(_truncated_geojson, CorruptSource, ("truncated or corrupt", "export it again")),
    "html saved as geojson": Case(_not_json, CorruptSource, ("cannot be opened", "export it again")),
    "truncated gml": Case(
        _truncated_gml, CorruptSource, ("cut off or malformed", "download or export it again")
    ),
    "empty wfs response": Case(_empty_wfs_response, NoFeatures, ("holds no layers", "check that the export")),
    "truncated shp": Case(_truncated_shp, CorruptSource, (".shp is truncated", "copy the complete file")),
    "truncated shp in zip": Case(_truncated_shp_zip, CorruptSource, ("plan.shp", ".shp is truncated")),
    "not a zip": Case(_not_a_zip, CorruptSource, ("not a readable zip", "zip it again")),
    "zip with bad crc": Case(_zip_crc, CorruptSource, ("CRC", "zip it again")),
    "zip without layers": Case(_zip_without_layers, UnknownFormat, ("no readable layer", "supported")),
    "folder without shapefiles": Case(_folder_without_shapefiles, UnknownFormat, ("no .shp", "supported")),
    "shp without shx": Case(_shp_without(".shx"), CorruptSource, (".shx", "plan.shx")),
    "shp folder without shx": Case(_shp_folder_without_shx, CorruptSource, (".shx", "plan.shx")),
    "zip without shx": Case(_zip_without_shx, CorruptSource, (".shx", "plan.shp")),
    "shp without dbf": Case(_shp_without(".dbf"), CorruptSource, (".dbf", "plan.dbf")),
    "shp without prj": Case(_shp_without(".prj"), MissingCRS, (".prj", "--crs")),
    "prj without epsg code": Case(_shp_custom_prj, MissingCRS, ("no EPSG code", "--crs")),
    "garbage --crs": Case(
        _valid_geojson, MissingCRS, ("--crs 'EUREF89'", "25832"), kwargs={"crs": "EUREF89"}, names_file=False
    ),
    "two shapefiles in zip": Case(_two_shapefiles_zip, LayerChoiceRequired, ("--layer", "plan_a", "plan_b")),
    "latin-1 geojson": Case(_latin1_geojson, CorruptSource, ("not UTF-8", "--encoding latin1")),
    "only null geometries": Case(_null_geometries, NoFeatures, ("no features with geometry",)),
    "empty feature collection": Case(_empty_collection, NoFeatures, ("no features with geometry",)),
    "every polygon collapses": Case(_all_collapse, NoFeatures, ("collapsed",)),
    "wrong --layer": Case(
        _gpkg,
        LayerChoiceRequired,
        ("no layer 'RpOmrade'", "available layers", "RpArealformalOmrade", "RpGrense"),
        kwargs={"layer": "RpOmrade"},
    ),
    "no --layer on two layers": Case(
        _gpkg, LayerChoiceRequired, ("2 layers", "--layer", "RpArealformalOmrade", "RpGrense")
    ),
    "bad layer id": Case(
        _valid_geojson,
        InvalidLayerId,
        ("'Bad Id!'", "lower-case letters"),
        layer_id="Bad Id!",
        names_file=False,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_typed_one_line_error(name: str, store: GeoPackageStore, tmp_path: Path) -> None:
    case = CASES[name]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    source = case.make(corpus)
    before = _snapshot(store)

    with pytest.raises(case.error) as info:
        ingest(store, source, case.layer_id, LayerKind.zoning, **case.kwargs)

    assert type(info.value) is case.error  # its own type, not just some LayerError
    message = str(info.value)
    assert "\n" not in message
    if case.names_file:
        assert str(source) in message
    for text in case.says:
        assert text in message, (text, message)
    assert "Traceback" not in message
    _assert_untouched(store, before)


# -- ...and the fix the message names works ------------------------------------------------------
def test_missing_prj_then_crs_works(store: GeoPackageStore, tmp_path: Path) -> None:
    source = _shp_without(".prj")(tmp_path)
    with pytest.raises(MissingCRS):
        ingest(store, source, "plan", LayerKind.zoning)

    report = ingest(store, source, "plan", LayerKind.zoning, crs="25832")

    assert report.version == 2
    assert report.normalised.crs_in == "EPSG:25832"
    assert report.normalised.crs_overridden
    frame = store.read_frame(store.get_layer("plan").current)
    assert frame.crs.to_epsg() == 25832
    assert sorted(frame["navn"]) == ["Bråten", "Kåla"]
    assert frame.total_bounds.tolist() == [540_000, 6_600_000, 540_030, 6_600_010]
    # the dBASE-truncated column name is still recognised
    assert report.normalised.field_map == {"arealformal": "arealforma"}
    assert frame["arealformal"].tolist() == [1470, 1470]


def test_crs_override_of_declared_crs_warns(store: GeoPackageStore, tmp_path: Path) -> None:
    source = _valid_geojson(tmp_path)
    report = ingest(store, source, "plan", LayerKind.zoning, crs="EPSG:25833")
    assert report.normalised.crs_in == "EPSG:25833"
    assert any("overridden by --crs" in w for w in report.normalised.warnings)


def test_two_shapefiles_then_layer_works(store: GeoPackageStore, tmp_path: Path) -> None:
    source = _two_shapefiles_zip(tmp_path)
    with pytest.raises(LayerChoiceRequired, match="plan_a, plan_b"):
        ingest(store, source, "plan", LayerKind.zoning)

    report = ingest(store, source, "plan", LayerKind.zoning, layer="plan_b")

    assert report.source_layer == "plan_b"
    assert report.driver == "ESRI Shapefile"
    assert report.normalised.features_out == 1
    assert store.get_layer("plan").current.feature_count == 1


def test_latin1_then_encoding_works(store: GeoPackageStore, tmp_path: Path) -> None:
    source = _latin1_geojson(tmp_path)
    with pytest.raises(CorruptSource, match="--encoding"):
        ingest(store, source, "plan", LayerKind.zoning)

    ingest(store, source, "plan", LayerKind.zoning, encoding="latin1")

    frame = store.read_frame(store.get_layer("plan").current)
    assert frame["navn"].tolist() == ["Kåla"]
    assert frame["arealformal"].tolist() == [1470]


def test_bow_tie_is_repaired(store: GeoPackageStore, tmp_path: Path) -> None:
    """(0,0) (10,10) (10,0) (0,10): two triangles of 25 m² meeting at (5,5); the naive area is 0."""
    bow_tie = [[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]
    assert shapely.Polygon(bow_tie).area == 0  # why repair matters: the lobes cancel out
    source = _write_json(
        tmp_path / "sloyfe.geojson",
        {
            "type": "FeatureCollection",
            "crs": EPSG_25832,
            "features": [
                {
                    "type": "Feature",
                    "properties": {"navn": "sløyfe"},
                    "geometry": {"type": "Polygon", "coordinates": [bow_tie]},
                },
                {
                    "type": "Feature",
                    "properties": {"navn": "kvadrat"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[20, 0], [30, 0], [30, 10], [20, 10], [20, 0]]],
                    },
                },
            ],
        },
    )

    report = ingest(store, source, "sloyfe", LayerKind.zoning)

    n = report.normalised
    assert (n.features_in, n.features_out, n.repaired, n.dropped_collapsed) == (2, 2, 1, 0)
    frame = store.read_frame(store.get_layer("sloyfe").current).set_index("navn")
    assert frame.geometry.is_valid.all()
    repaired = frame.geometry["sløyfe"]
    assert repaired.geom_type == "MultiPolygon"
    assert len(repaired.geoms) == 2
    assert repaired.area == pytest.approx(50.0)
    assert sorted(g.area for g in repaired.geoms) == pytest.approx([25.0, 25.0])
    assert repaired.bounds == (0.0, 0.0, 10.0, 10.0)
    assert frame.geometry["kvadrat"].area == pytest.approx(100.0)


def test_empty_geometries_are_dropped_and_counted(store: GeoPackageStore, tmp_path: Path) -> None:
    source = _write_json(
        tmp_path / "blandet.geojson",
        {
            "type": "FeatureCollection",
            "crs": EPSG_25832,
            "features": [
                {"type": "Feature", "properties": {"navn": "tom"}, "geometry": None},
                {
                    "type": "Feature",
                    "properties": {"navn": "strek"},
                    "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [20, 0], [0, 0]]]},
                },
                {
                    "type": "Feature",
                    "properties": {"navn": "Kåla"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]],
                    },
                },
            ],
        },
    )

    report = ingest(store, source, "blandet", LayerKind.zoning)

    n = report.normalised
    assert (n.features_in, n.dropped_empty, n.repaired, n.dropped_collapsed, n.features_out) == (
        3,
        1,
        1,
        1,
        1,
    )
    frame = store.read_frame(store.get_layer("blandet").current)
    assert frame["navn"].tolist() == ["Kåla"]
