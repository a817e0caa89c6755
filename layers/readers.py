"""Open the vector formats Norwegian agencies publish and read one layer into a GeoDataFrame.

GeoPackage, GeoJSON, ESRI Shapefile (file, folder or .zip), FlatGeobuf, GML and File Geodatabase
(.gdb folder or zipped) are read through pyogrio. GML is always opened with ``WRITE_GFS=NO`` (and
its layers listed through fiona with the same option) so that no ``.gfs`` sidecar is ever written
next to a source, which may be read-only or somebody else's.
"""

from __future__ import annotations

import codecs
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import fiona
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely.errors

from layers import sosi
from layers.errors import (
    CorruptSource,
    InvalidOption,
    LayerChoiceRequired,
    NoFeatures,
    SourceNotFound,
    SourceTooLarge,
    UnknownFormat,
)
from layers.pyogrio_read import read_with_wkb
from layers.sniff import check_geojson_crs, check_xml

_DRIVER_BY_SUFFIX = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".fgb": "FlatGeobuf",
    ".gml": "GML",
    ".xml": "GML",
}
_FORMATS_HINT = "GeoPackage (.gpkg), GeoJSON, Shapefile (.shp/.zip), FlatGeobuf (.fgb), GML (.gml), File Geodatabase (.gdb)"


@dataclass(frozen=True)
class Source:
    """A resolved source: the GDAL path, the driver, its layers and open options."""

    path: Path
    gdal_path: str
    driver: str
    layers: tuple[str, ...]
    open_options: dict[str, str] = field(default_factory=dict)
    # For a zip/folder of shapefiles each "layer" is a file: layer name -> GDAL path of that file.
    layer_paths: dict[str, str] = field(default_factory=dict)
    layer_counts: dict[str, int] = field(default_factory=dict)  # features per layer where known cheaply (SOSI)


def resolve_source(path: str | Path) -> Source:
    """Work out the format and layers of ``path`` without reading features."""
    p = Path(path)
    if not p.exists():
        raise SourceNotFound(f"{p}: file not found; check the path (relative paths start in {Path.cwd()})")
    if p.is_dir():
        return _resolve_folder(p)
    if p.stat().st_size == 0:
        raise CorruptSource(f"{p}: the file is empty (0 bytes); export or download it again")
    suffix = p.suffix.lower()
    if suffix == ".zip":
        return _resolve_zip(p)
    if suffix in (".sos", ".sosi"):
        return _resolve_sosi(p)
    driver = _DRIVER_BY_SUFFIX.get(suffix)
    if driver is None:
        raise UnknownFormat(f"{p}: unknown format {suffix or '(no extension)'!r}; supported: {_FORMATS_HINT}")
    if driver == "ESRI Shapefile":
        _check_shapefile_parts(p)
    if driver == "GML":
        with p.open("rb") as fh:
            check_xml(fh, str(p))
    options = {"WRITE_GFS": "NO"} if driver == "GML" else {}
    return Source(p, str(p), driver, _list_layers(str(p), driver, p), options)


def _resolve_sosi(p: Path) -> Source:
    """SOSI is read by our own streaming reader (``layers.sosi``): one layer per OBJTYPE."""
    try:
        info = sosi.scan(p)
    except CorruptSource:  # a file that lies about its TEGNSETT: list its layers; reading it needs --encoding
        info = sosi.scan(p, encoding="iso8859-10")
    if not info.layers:
        sosi.choose(info, None)  # the SOSI-specific "holds no features" error
    return Source(p, str(p), "SOSI", tuple(info.layers), layer_counts=info.layers)


def _resolve_folder(p: Path) -> Source:
    if p.suffix.lower() == ".gdb":
        return Source(p, str(p), "OpenFileGDB", _list_layers(str(p), "OpenFileGDB", p))
    shapefiles = sorted(p.glob("*.shp"))
    if not shapefiles:
        raise UnknownFormat(f"{p}: folder holds no .shp files and is not a .gdb; supported: {_FORMATS_HINT}")
    for shp in shapefiles:
        _check_shapefile_parts(shp)
    paths = {shp.stem: str(shp) for shp in shapefiles}
    return Source(p, str(p), "ESRI Shapefile", tuple(paths), layer_paths=paths)


def _resolve_zip(p: Path) -> Source:
    try:
        with zipfile.ZipFile(p) as zf:
            names = [n for n in zf.namelist() if not n.startswith("__MACOSX")]
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptSource(f"{p}: not a readable zip archive ({exc}); download or zip it again") from None
    if bad is not None:
        raise CorruptSource(f"{p}: zip member {bad!r} is corrupt (CRC mismatch); download or zip it again")
    base = f"/vsizip/{p.resolve()}"
    gdb_dirs = sorted({_gdb_root(n) for n in names if _gdb_root(n)})
    if gdb_dirs:
        gdal_path = f"{base}/{gdb_dirs[0]}"
        return Source(p, gdal_path, "OpenFileGDB", _list_layers(gdal_path, "OpenFileGDB", p))
    shapefiles = sorted(n for n in names if n.lower().endswith(".shp"))
    if shapefiles:
        lower = {n.lower() for n in names}
        for shp in shapefiles:
            if shp[:-4].lower() + ".shx" not in lower:
                raise CorruptSource(f"{p}: {shp} has no .shx index in the zip; add the .shx file that came with it")
        with zipfile.ZipFile(p) as zf:
            for shp in shapefiles:
                with zf.open(shp) as fh:
                    _check_shp_length(f"{p}: {shp}", fh.read(100), zf.getinfo(shp).file_size)
        paths = {PurePosixPath(s).stem: f"{base}/{s}" for s in shapefiles}
        return Source(p, base, "ESRI Shapefile", tuple(paths), layer_paths=paths)
    for name in names:
        driver = _DRIVER_BY_SUFFIX.get(PurePosixPath(name).suffix.lower())
        if driver and driver != "ESRI Shapefile":
            gdal_path = f"{base}/{name}"
            if driver == "GML":
                with zipfile.ZipFile(p) as zf, zf.open(name) as fh:
                    check_xml(fh, f"{p}: {name}")
            options = {"WRITE_GFS": "NO"} if driver == "GML" else {}
            return Source(p, gdal_path, driver, _list_layers(gdal_path, driver, p), options)
    raise UnknownFormat(f"{p}: the zip holds no readable layer ({len(names)} entries); supported: {_FORMATS_HINT}")


def _gdb_root(name: str) -> str:
    parts = PurePosixPath(name).parts
    for i, part in enumerate(parts):
        if part.lower().endswith(".gdb"):
            return "/".join(parts[: i + 1])
    return ""


def _check_shapefile_parts(shp: Path) -> None:
    if not any(shp.with_suffix(s).exists() for s in (".shx", ".SHX")):
        raise CorruptSource(f"{shp}: the .shx index file is missing; copy {shp.stem}.shx from the original delivery")
    if not any(shp.with_suffix(s).exists() for s in (".dbf", ".DBF")):
        raise CorruptSource(f"{shp}: the .dbf attribute file is missing; copy {shp.stem}.dbf from the original delivery")
    with shp.open("rb") as fh:
        _check_shp_length(str(shp), fh.read(100), shp.stat().st_size)


def _check_shp_length(shown: str, header: bytes, size: int) -> None:
    """A cut-off .shp reads as features without geometry (GDAL only logs it), so check its header."""
    if len(header) < 100 or header[:4] != b"\x00\x00\x27\x0a":
        raise CorruptSource(f"{shown}: not a shapefile (bad .shp header); copy the .shp from the original delivery")
    declared = struct.unpack(">i", header[24:28])[0] * 2
    if size < declared:
        raise CorruptSource(f"{shown}: the .shp is truncated ({size} of {declared} bytes); "
                            "copy the complete file from the original delivery")


def _list_layers(gdal_path: str, driver: str, shown: Path) -> tuple[str, ...]:
    try:
        if driver == "GML":
            return tuple(fiona.listlayers(gdal_path, WRITE_GFS="NO"))
        listed = pyogrio.list_layers(gdal_path)
    except (pyogrio.errors.DataSourceError, fiona.errors.DriverError, OSError) as exc:
        _refuse_too_long(shown, exc)
        raise CorruptSource(f"{shown}: cannot be opened as {driver} ({_first_line(exc)}); "
                            "the file may be truncated or corrupt: export it again") from None
    if len(listed):
        _check_driver(gdal_path, str(listed[0][0]), driver, shown)
    spatial = tuple(str(name) for name, geom_type in listed if geom_type is not None)
    return spatial or tuple(str(name) for name, _ in listed)


_FORMAT_NAMES = {"GPKG": "a GeoPackage (.gpkg)", "GeoJSON": "a GeoJSON file (.geojson)", "GML": "a GML file (.gml)",
                 "FlatGeobuf": "a FlatGeobuf file (.fgb)", "ESRI Shapefile": "a Shapefile (.shp)"}


def _check_driver(gdal_path: str, layer: str, expected: str, shown: Path) -> None:
    """The file must be what its name says: GDAL would open a GeoPackage named .geojson (or a GML named .json,
    skipping the XML checks), so a mismatch is refused with the right name."""
    try:
        found = str(pyogrio.read_info(gdal_path, layer=layer)["driver"])
    except Exception:  # noqa: BLE001 - unreadable: the read names the problem
        return
    if found != expected:
        raise UnknownFormat(f"{shown}: is {_FORMAT_NAMES.get(found, found + ' data')} but named as "
                            f"{_FORMAT_NAMES.get(expected, expected)}; rename it to its real extension and add it "
                            "again")


def choose_layer(source: Source, layer: str | None) -> str:
    """The layer to read: ``layer`` if given and present, the only layer otherwise."""
    if layer is not None:
        if layer not in source.layers:
            raise LayerChoiceRequired(
                f"{source.path}: no layer {layer!r}; available layers: {_listed(source)}"
            )
        return layer
    if len(source.layers) == 1:
        return source.layers[0]
    if not source.layers:
        raise NoFeatures(f"{source.path}: holds no layers; check that the export contains data")
    raise LayerChoiceRequired(
        f"{source.path}: holds {len(source.layers)} layers; choose one with --layer NAME from: "
        f"{_listed(source)}"
    )


def _listed(source: Source) -> str:
    counts = source.layer_counts
    return ", ".join(f"{name} ({counts[name]})" if name in counts else name for name in source.layers)


def count_features(source: Source, layer: str) -> int | None:
    """Feature count from the format's header where it is cheap, else ``None``."""
    if layer in source.layer_counts:
        return source.layer_counts[layer]
    gdal_path, gdal_layer = _layer_address(source, layer)
    try:
        return int(pyogrio.read_info(gdal_path, layer=gdal_layer, **source.open_options)["features"])
    except Exception:  # noqa: BLE001 - a count is only a progress hint
        return None


def read_layer(source: Source, layer: str, encoding: str | None = None,
               expected: int | None = None) -> gpd.GeoDataFrame:
    """Read one layer with pyogrio; errors name the file and the fix.

    ``expected`` is the layer's feature count from ``count_features``: GDAL's GML reader stops
    silently at malformed or cut-off XML, so a GML read that yields fewer features is an error.
    """
    return read_layer_wkb(source, layer, encoding, expected)[0]


def read_layer_wkb(source: Source, layer: str, encoding: str | None = None, expected: int | None = None,
                   decoded: Callable[[np.ndarray], object] | None = None,
                   before_decode: Callable[[pd.DataFrame, np.ndarray, Any], object] | None = None,
                   ) -> tuple[gpd.GeoDataFrame, np.ndarray | None]:
    """``read_layer``, and the WKB GDAL gave for each geometry (None for SOSI, which is parsed here);
    ``decoded`` sees the geometries a block at a time as they are built, ``before_decode`` the attributes and
    WKB before that (``pyogrio_read.read_with_wkb``)."""
    if source.driver == "SOSI":
        return sosi.read(source.gdal_path, layer, encoding=encoding, shown=source.path)[0], None
    gdal_path, gdal_layer = _layer_address(source, layer)
    try:
        with warnings.catch_warnings():  # shapely warns on NaN coordinates; normalise names them
            warnings.simplefilter("ignore", RuntimeWarning)
            frame, wkb = read_with_wkb(gdal_path, layer=gdal_layer, encoding=encoding, decoded=decoded,
                                       before_decode=before_decode, **source.open_options)
    except shapely.errors.GEOSException as exc:
        raise CorruptSource(f"{source.path}: layer {layer!r} holds a geometry that cannot be built "
                            f"({_first_line(exc)}); a polygon ring needs at least 4 points and must end where it "
                            "starts: fix the geometry in the source or export it again") from None
    except UnicodeDecodeError as exc:
        raise CorruptSource(
            f"{source.path}: attribute text is not UTF-8 ({exc.reason} at byte {exc.start}); "
            "pass --encoding latin1 (or the file's real encoding, e.g. iso-8859-10 for SOSI exports)"
        ) from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, pyogrio.errors.CRSError, RuntimeError, OSError) as exc:
        _refuse_too_long(source.path, exc)
        raise CorruptSource(f"{source.path}: cannot read layer {layer!r} ({_first_line(exc)}); "
                            "the file may be truncated or corrupt: export it again") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise NoFeatures(f"{source.path}: layer {layer!r} has no geometry column; add a spatial layer")
    if source.driver == "GML" and expected is not None and len(frame) < expected:
        raise CorruptSource(f"{source.path}: layer {layer!r} gave {len(frame)} of its {expected} features (the XML "
                            "is cut off or malformed); download or export it again")
    return frame, wkb


def check_declared_crs(source: Source) -> None:
    """Refuse a GeoJSON declaring a CRS nobody knows (GDAL would read it as EPSG:4326); skip it under ``--crs``."""
    if source.driver != "GeoJSON":
        return
    with _open_raw(source) as fh:
        check_geojson_crs(fh.read(1 << 20), str(source.path))


def check_encoding(encoding: str | None) -> None:
    """``--encoding`` must name a codec Python and GDAL know."""
    if encoding is None or encoding.strip().upper() in sosi.CHARSETS:  # SOSI's own names: ND7, DOSN8, ANSI …
        return
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InvalidOption(f"--encoding {encoding!r} is not a known text encoding; use the file's encoding, e.g. "
                            "utf-8, latin1 (iso-8859-1), cp1252 or iso-8859-10") from None


@contextmanager
def _open_raw(source: Source) -> Iterator[BinaryIO]:
    """The source file's bytes (a member of a zip, too)."""
    prefix = f"/vsizip/{source.path.resolve()}/"
    if source.gdal_path.startswith(prefix):
        with zipfile.ZipFile(source.path) as zf, zf.open(source.gdal_path[len(prefix):]) as fh:
            yield fh
    else:
        with open(source.gdal_path, "rb") as fh:
            yield fh


def _layer_address(source: Source, layer: str) -> tuple[str, str | None]:
    if source.layer_paths:
        return source.layer_paths[layer], None
    return source.gdal_path, layer


def _refuse_too_long(shown: object, exc: BaseException) -> None:
    """GDAL's JSON parser stops at a ~10 MB token and calls it "Too many characters in number": say what it is."""
    if "Too many characters" in str(exc):
        raise SourceTooLarge(f"{shown}: holds a value longer than the reader accepts (about 10 MB; "
                             f"{_first_line(exc)}); attributes this large (embedded files, images) are not map "
                             "data: remove them and export again") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
