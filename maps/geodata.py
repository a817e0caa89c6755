"""Working-CRS geometries and plain properties to compact GeoJSON text for a page (CRS84, 6 decimals).

Simplification happens in metres before reprojection (never in degrees); 6 decimals of a degree are
about 0.1 m here, far below what a screen shows, and keep the pages a third smaller than full precision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import shapely

from layers.crs import CRS84, WORKING_EPSG, bounds_to_crs84, to_output

DECIMALS = 6


def _default(value: Any) -> Any:
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot put {type(value).__name__} in GeoJSON")


def plain(value: Any) -> Any:
    """A value ready for JSON: NaN and pandas NA become None, numpy scalars become Python numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts of plain values for the given columns (missing columns are skipped)."""
    cols = [c for c in columns if c in frame.columns]
    values = {c: [plain(v) for v in frame[c].tolist()] for c in cols}
    return [{c: values[c][i] for c in cols} for i in range(len(frame))]


def feature_collection(geoms: np.ndarray, properties: Iterable[Mapping[str, Any]], *,
                       ids: Sequence[int] | None = None, simplify_m: float = 0.0,
                       src_epsg: int = WORKING_EPSG, columns: Sequence[str] | None = None) -> str:
    """A GeoJSON FeatureCollection (text) of working-CRS geometries with their properties, in CRS84.

    Missing or empty geometries are dropped with their properties. With ``columns`` each feature's properties
    are the list of those values and the collection names them once (``"columns"``, a foreign member):
    thousands of features then do not repeat every key (``geo-maps.js`` expands them in the browser).
    """
    geoms = np.asarray(geoms, dtype=object)
    props = list(properties)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if simplify_m > 0:
        geoms = np.where(keep, shapely.simplify(geoms, simplify_m, preserve_topology=True), geoms)
    out = to_output(geoms[keep], CRS84, src_epsg)
    out = shapely.set_precision(out, 10 ** -DECIMALS, mode="pointwise")
    texts = shapely.to_geojson(out)
    kept = np.flatnonzero(keep)
    parts = []
    for n, (i, text) in enumerate(zip(kept.tolist(), texts.tolist(), strict=True)):
        row: Any = props[i] if columns is None else [props[i].get(c) for c in columns]
        p = orjson.dumps(row, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()
        fid = ids[i] if ids is not None else n
        parts.append(f'{{"type":"Feature","id":{int(fid)},"geometry":{text},"properties":{p}}}')
    head = '{"type":"FeatureCollection",'
    if columns is not None:
        head += '"columns":' + orjson.dumps(list(columns)).decode() + ","
    return head + '"features":[' + ",".join(parts) + "]}"


def leaflet_bounds(bounds: Sequence[float], src_epsg: int = WORKING_EPSG) -> list[list[float]]:
    """Working-CRS ``(minx, miny, maxx, maxy)`` as Leaflet ``[[south, west], [north, east]]``."""
    west, south, east, north = bounds_to_crs84(tuple(bounds), src_epsg)  # type: ignore[arg-type]
    return [[south, west], [north, east]]


def centre_latlon(bounds: Sequence[float]) -> list[float]:
    """The middle of working-CRS bounds as ``[lat, lon]``."""
    (south, west), (north, east) = leaflet_bounds(bounds)
    return [(south + north) / 2, (west + east) / 2]
