"""What changed between two versions of a layer: features added, removed and changed, by feature identity.

Identity is a key column when the layer has one (``key``, else the first of :data:`KEY_COLUMNS` present in
both versions), otherwise the geometry itself, as a short fingerprint of its normalised WKB (then a moved feature is one
removed and one added). A feature
whose key is in both versions has changed when its geometry (beyond ``tolerance`` metres) or any attribute
differs; the names of what differs are listed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

KEY_COLUMNS: tuple[str, ...] = ("zone_id", "lokalid", "localId", "objid", "objektid", "id")
GEOMETRY = "geometry"


@dataclass(frozen=True)
class FeatureChange:
    """One feature present in both versions with what differs (attribute names, and ``geometry``)."""

    key: object
    fields: list[str]


@dataclass(frozen=True)
class LayerDiff:
    """The difference between two versions (keys of added/removed features, changes, the key used)."""

    key: str  # the key column, or "geometry"
    added: list[object] = field(default_factory=list)
    removed: list[object] = field(default_factory=list)
    changed: list[FeatureChange] = field(default_factory=list)
    unchanged: int = 0


def identity_column(old: pd.DataFrame, new: pd.DataFrame, key: str | None = None) -> str:
    """The column that identifies a feature in both versions (``geometry`` when none is unique)."""
    for name in ([key] if key else []) + list(KEY_COLUMNS):
        if name in old.columns and name in new.columns and old[name].is_unique and new[name].is_unique:
            return name
    return GEOMETRY


def diff_versions(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, *, key: str | None = None,
                  tolerance: float = 0.01, ignore: tuple[str, ...] = ()) -> LayerDiff:
    """Compare two versions of a layer (same CRS) feature by feature."""
    column = identity_column(old, new, key)
    a, b = _keyed(old, column), _keyed(new, column)
    added = [k for k in b.index if k not in a.index]
    removed = [k for k in a.index if k not in b.index]
    both = a.index.intersection(b.index)
    fields = [c for c in a.columns if c in b.columns and c not in (GEOMETRY, column, *ignore)]
    changes: list[FeatureChange] = []
    if len(both):
        ga = np.asarray(a.loc[both, GEOMETRY].values, dtype=object)
        gb = np.asarray(b.loc[both, GEOMETRY].values, dtype=object)
        moved = ~shapely.equals_exact(ga, gb, tolerance=tolerance) if column != GEOMETRY else np.zeros(len(both), bool)
        diffs = {c: ~_same(a.loc[both, c], b.loc[both, c]) for c in fields}
        for i, k in enumerate(both):
            what = [c for c in fields if diffs[c][i]] + (["geometry"] if moved[i] else [])
            if what:
                changes.append(FeatureChange(key=_plain(k), fields=what))
    return LayerDiff(key=column, added=[_plain(k) for k in added], removed=[_plain(k) for k in removed],
                     changed=changes, unchanged=len(both) - len(changes))


def _keyed(frame: gpd.GeoDataFrame, column: str) -> pd.DataFrame:
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out[GEOMETRY] = np.asarray(frame.geometry.values, dtype=object)
    if column == GEOMETRY:
        wkb = shapely.to_wkb(shapely.normalize(out[GEOMETRY].to_numpy()))
        out.index = pd.Index([hashlib.sha1(w).hexdigest()[:12] for w in wkb])  # a short geometry fingerprint
        out = out[~out.index.duplicated()]
    else:
        out.index = pd.Index(out[column])
    return out


def _same(x: pd.Series, y: pd.Series) -> np.ndarray:
    xs, ys = x.to_numpy(dtype=object), y.to_numpy(dtype=object)
    return np.array([(pd.isna(p) and pd.isna(q)) if _scalar_na(p) and _scalar_na(q) else str(p) == str(q)
                     for p, q in zip(xs, ys, strict=True)], dtype=bool)


def _scalar_na(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
