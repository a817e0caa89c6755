"""The chosen layer's features as a GeoDataFrame: geometries built by shapely's vectorised constructors in
batches (bounded temporary memory), attribute columns tidied to one type each."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.sosi import geometry as geo


class Collector:
    """Geometries of the chosen layer, built at the end with vectorised constructors."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.attrs: list[dict[str, Any]] = []
        self.coords: list[np.ndarray] = []  # points and lines, one array per feature
        self.rings: list[list[np.ndarray] | None] = []  # polygons: rings (shell first), None otherwise


def build_frame(c: Collector, crs: str | None, transform: geo.Transform) -> gpd.GeoDataFrame:
    """Features in file order; a feature whose geometry could not be built (a dropped FLATE) is left out."""
    n = len(c.kinds)
    geoms = np.empty(n, dtype=object)
    kinds = np.array(c.kinds, dtype=object)
    for kind, build in (("point", _points), ("line", _lines)):
        idx = np.flatnonzero(kinds == kind)
        if len(idx):
            geoms[idx] = build([c.coords[i] for i in idx], transform)
    c.coords.clear()
    poly_idx = [i for i in np.flatnonzero(kinds == "polygon") if c.rings[i] is not None]
    if poly_idx:
        geoms[poly_idx] = _polygons([c.rings[i] for i in poly_idx], transform)  # type: ignore[misc]
    c.rings.clear()
    keep = np.array([g is not None for g in geoms], dtype=bool)
    attrs = pd.DataFrame([a for a, k in zip(c.attrs, keep, strict=True) if k])
    attrs = _tidy_columns(attrs)
    frame = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms[keep], crs=crs), crs=crs)
    return frame


def _by_dim(arrays: list[np.ndarray]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, a in enumerate(arrays):
        out.setdefault(a.shape[1], []).append(i)
    return out


def _points(arrays: list[np.ndarray], transform: geo.Transform) -> np.ndarray:
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        xy = transform.to_xy(a)
        out[i] = shapely.points(xy[0]) if len(xy) == 1 else (shapely.multipoints(xy) if len(xy) else None)
    return out


def _lines(arrays: list[np.ndarray], transform: geo.Transform) -> np.ndarray:
    out = np.empty(len(arrays), dtype=object)
    for members in _by_dim(arrays).values():
        ok = [i for i in members if len(arrays[i]) >= 2]
        for start in range(0, len(ok), _BATCH):
            batch = ok[start:start + _BATCH]
            lengths = np.array([len(arrays[i]) for i in batch])
            coords = transform.to_xy(np.concatenate([arrays[i] for i in batch]))
            out[batch] = shapely.linestrings(coords, indices=np.repeat(np.arange(len(batch)), lengths))
    return out


_BATCH = 10_000  # features per vectorised constructor call: bounds the temporary coordinate arrays


def _polygons(ring_lists: list[list[np.ndarray]], transform: geo.Transform) -> np.ndarray:
    out = np.empty(len(ring_lists), dtype=object)
    for start in range(0, len(ring_lists), _BATCH):
        batch = ring_lists[start:start + _BATCH]
        rings = [r for rings in batch for r in rings]
        ring_of = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
        linear = shapely.linearrings(transform.to_xy(np.concatenate(rings)), indices=ring_of)
        poly_of = np.repeat(np.arange(len(batch)), [len(r) for r in batch])
        out[start:start + len(batch)] = shapely.polygons(linear, indices=poly_of)
    return out


def _tidy_columns(attrs: pd.DataFrame) -> pd.DataFrame:
    """Columns mixing numbers and text become text (a code column must not be half int, half str)."""
    for col in attrs.columns:
        values = attrs[col]
        if values.dtype != object:
            continue
        kinds = {type(v) for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))}
        if kinds and kinds <= {int}:
            attrs[col] = values.astype("Int64")
        elif kinds and kinds <= {int, float}:
            attrs[col] = values.astype("float64")
        elif len(kinds) > 1 and list not in kinds:
            attrs[col] = values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return attrs


