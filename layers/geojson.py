"""GeoJSON encoding of feature pages, reprojected for output (CRS84 unless asked otherwise)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import orjson
import shapely

from layers.crs import OutputCrs, to_output
from layers.store import FeaturePage

_PRECISION = {True: 7, False: 3}  # decimals: degrees (~1 cm) and metres (1 mm)


def _default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def encode_features(page: FeaturePage, target: OutputCrs) -> list[bytes]:
    """One GeoJSON Feature (bytes) per feature of ``page``, geometry in ``target``."""
    geoms = to_output(page.geometries, target)
    degrees = target.epsg == 4326
    geoms = shapely.set_precision(geoms, 10 ** -_PRECISION[degrees], mode="pointwise")
    geojson = shapely.to_geojson(geoms)
    out = []
    for fid, geometry, props in zip(page.ids.tolist(), geojson, page.properties, strict=True):
        props_json = orjson.dumps({k: _clean(v) for k, v in props.items()}, default=_default,
                                  option=orjson.OPT_NON_STR_KEYS)
        out.append(b'{"type":"Feature","id":%d,"geometry":%s,"properties":%s}'
                   % (fid, geometry.encode() if geometry is not None else b"null", props_json))
    return out


def feature_collection(features: list[bytes], members: dict[str, Any]) -> bytes:
    """A FeatureCollection around pre-encoded features, with extra top-level ``members``."""
    head = orjson.dumps({"type": "FeatureCollection", **members}, default=_default)
    return head[:-1] + b',"features":[' + b",".join(features) + b"]}"


def feature(feature_bytes: bytes, members: dict[str, Any]) -> bytes:
    """A single Feature with extra top-level ``members`` (links)."""
    return feature_bytes[:-1] + b"," + orjson.dumps(members, default=_default)[1:]
