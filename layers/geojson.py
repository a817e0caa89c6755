"""GeoJSON encoding of feature pages, reprojected for output (CRS84 unless asked otherwise).

A page's coordinates are reprojected in one ``pyproj`` call and rounded with numpy; each geometry's JSON is
then written by orjson from views into that one coordinate array (``shapely.to_ragged_array`` gives the
offsets), with no shapely geometry built for the output. Geometry collections and empty geometries take the
GEOS writer (``shapely.to_geojson``) after the same reprojection and rounding. Both ways give the same
coordinates: rounded to 7 decimals in degrees, 3 in metres.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import shapely

from layers.crs import WORKING_EPSG, OutputCrs, to_output, transformer
from layers.store import FeaturePage, GeoJSONPage, GeoJSONWriter, LayerRecord, Store

if TYPE_CHECKING:
    from layers.cql2 import Cql2Filter, SortKey

_PRECISION = {True: 7, False: 3}  # decimals: degrees (~1 cm) and metres (1 mm)
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
# shapely type ids of one geometry family: single, multi, and its GeoJSON names
_FAMILIES = ((0, 4, "Point", "MultiPoint"), (1, 5, "LineString", "MultiLineString"),
             (3, 6, "Polygon", "MultiPolygon"))


def _default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError


def items_page(store: Store, layer: LayerRecord, bbox: tuple[float, float, float, float] | None,
               filters: dict[str, Any], limit: int, offset: int, *, cql: Cql2Filter | None = None,
               sortby: tuple[SortKey, ...] = (), target: OutputCrs) -> GeoJSONPage:
    """A page of ``layer``'s features as GeoJSON (``Store.query`` arguments), geometry in ``target``.

    A store that writes GeoJSON itself (``GeoJSONWriter``: PostGIS) does; otherwise the page is read with
    ``Store.query`` and encoded here. Both give the same features with the same JSON values.
    """
    if isinstance(store, GeoJSONWriter):
        written = store.geojson_page(layer, bbox, filters, limit, offset, cql=cql, sortby=sortby, target=target)
        if written is not None:
            return written
        layer = store.get_layer(layer.id)  # the record handed in may be a cached one
    page = store.query(layer.current, bbox, filters, limit, offset, cql=cql, sortby=sortby)
    return GeoJSONPage(layer, b",".join(encode_features(page, target)), len(page.ids), page.number_matched)


def encode_features(page: FeaturePage, target: OutputCrs) -> list[bytes]:
    """One GeoJSON Feature (bytes) per feature of ``page``, geometry in ``target``."""
    geometries = geometries_json(page.geometries, target)
    out = []
    for fid, geometry, props in zip(page.ids.tolist(), geometries, page.properties, strict=True):
        # orjson writes NaN and infinities as null, as GeoJSON needs
        props_json = orjson.dumps(props, default=_default, option=orjson.OPT_NON_STR_KEYS)
        out.append(b'{"type":"Feature","id":%d,"geometry":%s,"properties":%s}' % (fid, geometry, props_json))
    return out


def geometries_json(geoms: np.ndarray, target: OutputCrs) -> list[bytes]:
    """The GeoJSON geometry (bytes; ``null`` for a missing one) of each working-CRS geometry, in ``target``."""
    out = [b"null"] * len(geoms)
    if len(geoms) == 0:
        return out
    decimals = _PRECISION[target.epsg == 4326]
    types = shapely.get_type_id(geoms)
    plain = (types >= 0) & ~shapely.is_empty(geoms)
    done = types < 0
    for single, multi, single_name, multi_name in _FAMILIES:
        rows = np.flatnonzero(plain & ((types == single) | (types == multi)))
        if len(rows):
            _family_json(geoms[rows], types[rows] == single, single_name, multi_name, target, decimals, rows, out)
            done[rows] = True
    rest = np.flatnonzero(~done)  # collections and empty geometries
    if len(rest):
        shaped = shapely.set_precision(to_output(geoms[rest], target), 10.0 ** -decimals, mode="pointwise")
        for i, text in zip(rest.tolist(), shapely.to_geojson(shaped).tolist(), strict=True):
            out[i] = text.encode()
    return out


def _family_json(geoms: np.ndarray, single: np.ndarray, single_name: str, multi_name: str, target: OutputCrs,
                 decimals: int, rows: np.ndarray, out: list[bytes]) -> None:
    """Write the JSON of non-empty geometries of one family (single and multi parts) into ``out[rows]``."""
    kind, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    coords = _output_coordinates(coords, target, decimals)
    if kind == shapely.GeometryType.POINT:
        parts: list[Any] = list(coords)
    else:
        bounds = offsets[0].tolist()
        parts = [coords[a:b] for a, b in pairwise(bounds)]  # coordinate runs: lines or rings
        for level in offsets[1:]:  # rings -> polygons -> multipolygons, lines -> multilines, points -> multipoints
            parts = [parts[a:b] for a, b in pairwise(level.tolist())]
    promoted = kind.name.startswith("MULTI")  # a mixed family comes back as multis: unwrap the single ones
    for i, geom_parts, is_single in zip(rows.tolist(), parts, single.tolist(), strict=True):
        if is_single:
            out[i] = orjson.dumps({"type": single_name, "coordinates": geom_parts[0] if promoted else geom_parts},
                                  option=_NUMPY)
        else:
            out[i] = orjson.dumps({"type": multi_name, "coordinates": geom_parts}, option=_NUMPY)


def _output_coordinates(coords: np.ndarray, target: OutputCrs, decimals: int) -> np.ndarray:
    """Working-CRS x/y reprojected to ``target`` (lat/lon order for EPSG:4326), rounded to ``decimals``."""
    if target.epsg != WORKING_EPSG:
        x, y = transformer(WORKING_EPSG, target.epsg).transform(coords[:, 0], coords[:, 1])
        coords = np.column_stack([y, x] if target.lat_lon else [x, y])
    return np.ascontiguousarray(np.round(coords, decimals))


def feature_collection(features: bytes, members: dict[str, Any]) -> bytes:
    """A FeatureCollection around comma-joined encoded features, with extra top-level ``members``."""
    head = orjson.dumps({"type": "FeatureCollection", **members}, default=_default)
    return b"".join((head[:-1], b',"features":[', features, b"]}"))


def feature(feature_bytes: bytes, members: dict[str, Any]) -> bytes:
    """A single Feature with extra top-level ``members`` (links)."""
    return feature_bytes[:-1] + b"," + orjson.dumps(members, default=_default)[1:]
