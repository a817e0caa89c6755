"""Polygons from an uploaded file (a site drawn elsewhere): GeoJSON, zipped Shapefile, GeoPackage, GML,
FlatGeobuf or a zipped File Geodatabase, read with the same readers as ``layers add``.

The bytes are written to a private temporary folder (deleted afterwards), every layer is read, and the
polygon features come back in the working CRS with their index, a label and the layer they came from.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from layers.crs import WORKING_EPSG
from layers.errors import CorruptSource, MissingCRS, NoFeatures, UnknownFormat
from layers.readers import read_layer, resolve_source

MAX_UPLOAD_BYTES = 5 * 2**20  # the same as the HTTP body limit (GEO_SERVICE_MAX_BODY_BYTES) by default
_SUFFIXES = (".geojson", ".json", ".zip", ".gpkg", ".gml", ".xml", ".fgb", ".shp")
_NAME_FIELDS = ("navn", "name", "Navn", "NAME", "tomt", "plannavn", "områdenavn", "id", "ID")


@dataclass(frozen=True)
class UploadedPolygon:
    """One polygon of an upload: its position, a label for the chooser, its layer and geometry (EPSG:25832)."""

    index: int
    label: str
    layer: str
    geometry: BaseGeometry


def read_upload(filename: str, data: bytes) -> list[UploadedPolygon]:
    """The polygons of an uploaded file, in file order (layer by layer); raises a ``LayerError`` naming the fix."""
    name = PurePath(filename or "upload").name
    suffix = PurePath(name).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UnknownFormat(f"{name}: upload a GeoJSON (.geojson), zipped Shapefile (.zip), GeoPackage (.gpkg), "
                            "GML (.gml) or FlatGeobuf (.fgb) file")
    if suffix == ".shp":
        raise UnknownFormat(f"{name}: a Shapefile needs its .shx, .dbf and .prj: zip them together and upload the .zip")
    if len(data) > MAX_UPLOAD_BYTES:
        raise CorruptSource(f"{name}: {len(data) / 1e6:.0f} MB is more than the "
                            f"{MAX_UPLOAD_BYTES // 1_000_000} MB a site upload may be; upload only the site")
    if not data:
        raise NoFeatures(f"{name}: the file is empty; choose the file again")
    with tempfile.TemporaryDirectory(prefix="geo-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        source = resolve_source(path)
        out: list[UploadedPolygon] = []
        for layer in source.layers:
            frame = read_layer(source, layer)
            out.extend(_polygons(frame, name, layer, start=len(out)))
    if not out:
        raise NoFeatures(f"{name}: holds no polygons; a site must be a polygon (draw it in the map instead)")
    return out


def _polygons(frame: gpd.GeoDataFrame, name: str, layer: str, start: int) -> list[UploadedPolygon]:
    if frame.crs is None:
        raise MissingCRS(f"{name}: layer {layer!r} has no coordinate system; export it with one (e.g. EPSG:25832)")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    frame = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(frame) == 0:
        return []
    frame = frame.to_crs(WORKING_EPSG)
    label_col = next((c for c in _NAME_FIELDS if c in frame.columns), None)
    out = []
    for i, (row_label, geom) in enumerate(zip(frame[label_col] if label_col else [None] * len(frame),
                                              frame.geometry.values, strict=True)):
        geom = shapely.force_2d(geom)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        text = str(row_label) if row_label is not None and not pd.isna(row_label) else f"{layer} #{i + 1}"
        out.append(UploadedPolygon(index=start + i, label=text, layer=layer, geometry=geom))
    return out
