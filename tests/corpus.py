"""A malformed-file corpus, generated on demand: every file a user might hand to ``layers add`` (or an upload) that
must be refused with one clear line naming the problem and the fix, never a traceback, never a changed layer.

``malformed_files(folder)`` writes the files into ``folder`` and returns ``[(name, path, expected)]`` where
``expected`` is a substring the one-line message must contain. ``malformed_options(folder)`` adds the cases that
need a command option (``--encoding``, ``--layer``). All data is synthetic (near Kongsberg, EPSG:25832).
Reused by the CLI tests (``tests/layers/test_malformed_corpus.py``) and the upload API tests.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

X, Y = 540_000.0, 6_600_000.0
EPSG_25832 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25832"}}
GML_NS = ('xmlns:ogr="http://ogr.maptools.org/" xmlns:gml="http://www.opengis.net/gml"')


def plan(n: int = 3) -> gpd.GeoDataFrame:
    """A small valid synthetic zoning layer."""
    return gpd.GeoDataFrame({"navn": [f"Felt {i} Kåla" for i in range(n)], "arealformal": [1300] * n},
                            geometry=[shapely.box(X + 20 * i, Y, X + 20 * i + 10, Y + 10) for i in range(n)],
                            crs="EPSG:25832")


def _fc(features: list[dict[str, Any]], crs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "FeatureCollection", "crs": crs or EPSG_25832, "features": features}


def _feature(geometry: dict[str, Any] | None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props or {"navn": "Kåla"}, "geometry": geometry}


def _polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


SQUARE = [[X, Y], [X + 10, Y], [X + 10, Y + 10], [X, Y + 10], [X, Y]]


def _gml(body_features: str, doctype: str = "") -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}<ogr:FeatureCollection {GML_NS}>\n'
            f"{body_features}</ogr:FeatureCollection>\n")


def _gml_feature(i: int, name: str = "Kåla", srs: str = "EPSG:25832") -> str:
    return (f'<gml:featureMember><ogr:plan fid="plan.{i}"><ogr:geometryProperty><gml:Point srsName="{srs}">'
            f"<gml:coordinates>{X + i},{Y}</gml:coordinates></gml:Point></ogr:geometryProperty>"
            f"<ogr:navn>{name}</ogr:navn></ogr:plan></gml:featureMember>\n")


# ------------------------------------------------------------------------------------------ makers
def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _json(path: Path, doc: Any) -> Path:
    return _write(path, json.dumps(doc, ensure_ascii=False))


def _shapefile(folder: Path, name: str = "plan", frame: gpd.GeoDataFrame | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame if frame is not None else plan(), folder / f"{name}.shp", encoding="UTF-8")
    return folder / f"{name}.shp"


def _zip(target: Path, files: list[Path], stored: bool = False) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f.name)
    return target


def _valid_geojson_text() -> str:
    return json.dumps(_fc([_feature(_polygon(SQUARE))]))


def _truncated(d: Path, name: str, driver: str, share: float, n: int = 200) -> Path:
    full = d / f"full-{name}"
    pyogrio.write_dataframe(plan(n), full, driver=driver, layer="plan")
    data = full.read_bytes()
    return _write(d / name, data[: int(len(data) * share)])


def _shp_without(d: Path, suffix: str, name: str) -> Path:
    shp = _shapefile(d / name)
    shp.with_suffix(suffix).unlink()
    return shp


def _columns(d: Path, n: int) -> Path:
    props = {f"felt_{i}": i for i in range(n)}
    return _json(d / f"columns-{n}.geojson", _fc([_feature({"type": "Point", "coordinates": [X, Y]}, **props)]))


def _no_geometry_gpkg(d: Path) -> Path:
    import pandas as pd

    pyogrio.write_dataframe(pd.DataFrame({"navn": ["Kåla"], "arealformal": [1300]}), d / "no-geometry.gpkg",
                            layer="tabell", driver="GPKG")
    return d / "no-geometry.gpkg"


def _long_text_gpkg(d: Path) -> Path:
    frame = plan(1)
    frame["beskrivelse"] = ["x" * 2_000_000]
    pyogrio.write_dataframe(frame, d / "long-text.gpkg", layer="plan")
    return d / "long-text.gpkg"


def _laughs() -> str:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
    return _gml(_gml_feature(0, "&lol9;"), f"<!DOCTYPE lolz [{entities}]>\n")


def _zip_crc(d: Path) -> Path:
    shp = _shapefile(d / "crc")
    target = _zip(d / "crc.zip", sorted(shp.parent.iterdir()), stored=True)
    data = bytearray(target.read_bytes())
    at = data.find("Kåla".encode())
    data[at] ^= 0xFF
    return _write(target, bytes(data))


def _two_layers_gpkg(d: Path) -> Path:
    pyogrio.write_dataframe(plan(), d / "two-layers.gpkg", layer="RpArealformalOmrade")
    pyogrio.write_dataframe(plan(1), d / "two-layers.gpkg", layer="RpGrense", append=False)
    return d / "two-layers.gpkg"


def _two_shapefiles_zip(d: Path) -> Path:
    a = _shapefile(d / "two", "plan_a")
    _shapefile(d / "two", "plan_b", plan(1))
    return _zip(d / "two-shapefiles.zip", sorted(a.parent.iterdir()))


def _cut_shapefile(d: Path) -> Path:
    shp = _shapefile(d / "cutshp", frame=plan(50))
    return _write(shp, shp.read_bytes()[:900])


def _random_bytes(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


# name -> (maker, expected substring of the one-line message)
MAKERS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty geojson": (lambda d: _write(d / "empty.geojson", b""), "empty (0 bytes)"),
    "empty gpkg": (lambda d: _write(d / "empty.gpkg", b""), "empty (0 bytes)"),
    "zero-byte zip": (lambda d: _write(d / "empty.zip", b""), "empty (0 bytes)"),
    "empty gml": (lambda d: _write(d / "empty.gml", b""), "empty (0 bytes)"),
    "binary garbage named .geojson": (lambda d: _write(d / "garbage.geojson", _random_bytes(4096, 1)),
                                      "cannot be opened as GeoJSON"),
    "binary garbage named .gpkg": (lambda d: _write(d / "garbage.gpkg", _random_bytes(8192, 2)),
                                   "cannot be opened as GPKG"),
    "html error page named .geojson": (lambda d: _write(d / "page.geojson", "<html><body>502 Bad Gateway</body>"
                                                                           "</html>\n"), "cannot be opened"),
    "json array named .geojson": (lambda d: _write(d / "array.geojson", "[1, 2, 3]"), "cannot be opened"),
    "truncated geojson": (lambda d: _write(d / "cut.geojson", _valid_geojson_text()[:60]), "truncated or corrupt"),
    "truncated gpkg": (lambda d: _truncated(d, "cut.gpkg", "GPKG", 0.4), "truncated or corrupt"),
    "wrong extension .txt": (lambda d: _write(d / "plan.txt", _valid_geojson_text()), "unknown format '.txt'"),
    "no extension": (lambda d: _write(d / "plan", _valid_geojson_text()), "(no extension)"),
    "geopackage named .geojson": (lambda d: _write(d / "disguised.geojson", _truncated(
        d, "real.gpkg", "GPKG", 1.0, 5).read_bytes()), "is a GeoPackage (.gpkg) but named as a GeoJSON"),
    "sosi file": (lambda d: _write(d / "plan.sos", ".HODE\n..TEGNSETT UTF-8\n.SLUTT\n"), "SOSI"),
    "not a zip": (lambda d: _write(d / "fake.zip", b"PK? no, an HTML page saved as .zip\n"), "not a readable zip"),
    "zip with no layer": (lambda d: _zip(d / "readme.zip", [_write(d / "LESMEG.txt", "Planen kommer senere.")]),
                          "no readable layer"),
    "zip with bad crc": (_zip_crc, "CRC"),
    "zip of a shapefile without .shx": (lambda d: _zip(d / "noshx.zip", [
        f for f in sorted(_shapefile(d / "zipshx").parent.iterdir()) if f.suffix != ".shx"]), ".shx"),
    "folder without shapefiles": (lambda d: _write(d / "levering" / "plan.pdf", b"%PDF-1.4").parent, "no .shp"),
    "shapefile without .shx": (lambda d: _shp_without(d, ".shx", "noshx"), ".shx index file is missing"),
    "shapefile without .dbf": (lambda d: _shp_without(d, ".dbf", "nodbf"), ".dbf attribute file is missing"),
    "shapefile without .prj": (lambda d: _shp_without(d, ".prj", "noprj"), "no coordinate reference system"),
    "shapefile .prj without EPSG code": (lambda d: _write(_shapefile(d / "localprj").with_suffix(".prj"),
                                                          'LOCAL_CS["anleggsnett",UNIT["metre",1]]').with_suffix(
        ".shp"), "no EPSG code"),
    "truncated shapefile": (lambda d: _cut_shapefile(d), ".shp is truncated"),
    "shapefile with a garbage header": (lambda d: _write(_shapefile(d / "badhdr"), _random_bytes(400, 3)),
                                        "bad .shp header"),
    "geopackage with no geometry column": (_no_geometry_gpkg, "has no geometry column"),
    "two layers, no --layer": (_two_layers_gpkg, "choose one with --layer"),
    "two shapefiles in a zip": (_two_shapefiles_zip, "choose one with --layer"),
    "empty feature collection": (lambda d: _json(d / "none.geojson", _fc([])), "no features with geometry"),
    "only null geometries": (lambda d: _json(d / "nulls.geojson", _fc([_feature(None) for _ in range(3)])),
                             "no features with geometry"),
    "polygon folding onto itself (self-intersection, zero area)": (lambda d: _json(d / "fold.geojson", _fc([
        _feature(_polygon([[X, Y], [X + 10, Y], [X + 20, Y], [X, Y]]))])), "collapsed"),
    "1-vertex polygon": (lambda d: _json(d / "one-vertex.geojson", _fc([_feature(_polygon([[X, Y]]))])),
                         "cannot be built"),
    "ring not closed [[0,0],[1,1]]": (lambda d: _json(d / "unclosed.geojson", _fc([
        _feature(_polygon([[0, 0], [1, 1]]))])), "cannot be built"),
    "NaN coordinates": (lambda d: _write(d / "nan.geojson", json.dumps(_fc([_feature(_polygon(
        [[X, Y], [float("nan"), Y + 10], [X + 10, Y + 10], [X, Y]]))]))), "NaN or infinite coordinates"),
    "huge coordinates": (lambda d: _json(d / "huge.geojson", _fc([_feature(_polygon(
        [[1e300, Y], [1e300, Y + 10], [1e300 + 1e290, Y + 10], [1e300, Y]]))])), "far off the earth"),
    "unknown CRS urn:ogc:def:crs:EPSG::999999": (lambda d: _json(d / "crs999999.geojson", _fc(
        [_feature(_polygon(SQUARE))], {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}})),
        "unknown (not in the EPSG registry)"),
    "latin-1 text in a UTF-8 format": (lambda d: _write(d / "latin1.geojson", json.dumps(_fc([_feature(
        {"type": "Point", "coordinates": [X, Y]}, navn="Kåla")]), ensure_ascii=False).encode("latin-1")),
        "not UTF-8"),
    "2 500 columns": (lambda d: _columns(d, 2_500), "2 500 attribute fields"),
    "10 000 columns": (lambda d: _columns(d, 10_000), "10 000 attribute fields"),
    "50 MB attribute in GeoJSON": (lambda d: _json(d / "big-value.geojson", _fc([_feature(
        {"type": "Point", "coordinates": [X, Y]}, navn="x" * 50_000_000)])), "longer than the reader accepts"),
    "2 MB attribute in a GeoPackage": (_long_text_gpkg, "characters in row 0"),
    "billion laughs GML": (lambda d: _write(d / "laughs.gml", _laughs()), "XML entities are refused"),
    "XXE GML (external entity)": (lambda d: _write(d / "xxe.gml", _gml(_gml_feature(0, "&xxe;"),
                                  '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n')),
                                  "external entity 'xxe' (file:///etc/passwd)"),
    "GML with an undeclared entity": (lambda d: _write(d / "entity.gml", _gml(_gml_feature(0, "Berg &ukjent; gård"))),
                                      "undeclared XML entity at line 3"),
    "truncated GML": (lambda d: _write(d / "cut.gml", _gml("".join(_gml_feature(i) for i in range(30)))[:2500]),
                      "cut off or malformed"),
    "GML with mismatched tags": (lambda d: _write(d / "tags.gml", _gml(_gml_feature(0).replace(
        "</ogr:navn>", "</ogr:name>"))), "not well-formed XML (mismatched tag"),
    "GML mixing CRSs": (lambda d: _write(d / "mixed-crs.gml", _gml(_gml_feature(0) + _gml_feature(
        1, srs="urn:ogc:def:crs:EPSG::25833"))), "mixes coordinate reference systems"),
    "GML inside a zip with entities": (lambda d: _zip(d / "laughs.zip", [_write(d / "z" / "laughs.gml", _laughs())]),
                                       "XML entities are refused"),
    "empty WFS response": (lambda d: _write(d / "wfs.gml", '<?xml version="1.0" encoding="UTF-8"?>\n'
                                            '<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs/2.0" '
                                            'numberMatched="0" numberReturned="0"></wfs:FeatureCollection>\n'),
                           "holds no layers"),
    "rich markup in the file name": (lambda d: _write(d / "plan [bold red]gammel.gpkg", b""),
                                     "plan [bold red]gammel.gpkg"),
    "missing file": (lambda d: d / "finnes-ikke.gpkg", "file not found"),
}


def malformed_files(folder: Path) -> list[tuple[str, Path, str]]:
    """Write every malformed file into ``folder``: ``[(name, path, expected message substring)]``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (name, (make, expected)) in enumerate(MAKERS.items()):
        case_dir = folder / f"{i:02d}"
        case_dir.mkdir()
        out.append((name, make(case_dir), expected))
    return out


def malformed_options(folder: Path) -> list[tuple[str, Path, dict[str, str], str]]:
    """Cases that need an option: ``[(name, path, ingest keyword arguments, expected substring)]``."""
    folder.mkdir(parents=True, exist_ok=True)
    valid = _write(folder / "plan.geojson", _valid_geojson_text())
    return [
        ("unknown --encoding", valid, {"encoding": "klingon-8"}, "--encoding 'klingon-8' is not a known"),
        ("wrong --layer", _two_layers_gpkg(folder), {"layer": "RpOmrade"}, "no layer 'RpOmrade'"),
        ("garbage --crs", valid, {"crs": "EUREF89"}, "--crs 'EUREF89' is not a CRS"),
    ]
