"""The plan of a partitioned run: which zones go together, from their envelopes and ``kommunenummer`` alone.

A partition is the zones of one municipality: their ``kommunenummer``, else the municipality polygon holding
the centre of their envelope; zones outside every municipality are grouped by 20 km squares, a municipality of
more than :data:`MAX_ZONES` zones is cut in west–east stripes, a zone far from the rest of its municipality is
partitioned apart. Which partition a zone lands in never changes its result (:mod:`constraints.partition`
makes every partition exact), only how the work is split.

On a GeoPackage store no zone geometry is read: the envelopes come from the layer's R-tree (a second for
300 000 zones, where reading the layer took ~20 s and grouping it another 25 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from constraints.partition import Partition, normalised_knr
from layers.store import Store, VersionRecord

UNKNOWN_MUNICIPALITY = "unknown"
MAX_ZONES = 20_000  # a municipality with more zones is cut in stripes of at most this many
UNKNOWN_CELL_M = 20_000.0  # zones outside every municipality are grouped in squares this wide
STRAY_M = 150_000.0  # a zone this far from its municipality's median zone is partitioned apart


@dataclass(frozen=True)
class ZoneOutlines:
    """One zoning layer as the plan needs it: fids, envelopes (NaN: no geometry) and kommunenummer."""

    fids: np.ndarray
    bounds: np.ndarray  # (n, 4): minx, miny, maxx, maxy
    knr: np.ndarray  # normalised (four digits) or None

    @classmethod
    def of_frame(cls, frame: gpd.GeoDataFrame) -> ZoneOutlines:
        """The outlines of a frame as read (index: fid)."""
        n = len(frame)
        knr = normalised_knr(frame["kommunenummer"]) if "kommunenummer" in frame.columns else np.full(n, None)
        bounds = shapely.bounds(np.asarray(frame.geometry.array, dtype=object)) if n else np.empty((0, 4))
        return cls(frame.index.to_numpy(), bounds, knr)


def read_outlines(store: Store, record: VersionRecord) -> ZoneOutlines:
    """A zoning layer's outlines: from the R-tree where the store has one, else from the whole layer."""
    envelopes = getattr(store, "envelopes", None)
    if envelopes is None:
        return ZoneOutlines.of_frame(store.read_frame(record))
    wanted = ["kommunenummer"] if "kommunenummer" in record.fields else []
    fids, bounds, columns = envelopes(record, wanted)
    knr = normalised_knr(pd.Series(columns["kommunenummer"], dtype=object)) if wanted else np.full(len(fids), None)
    return ZoneOutlines(fids, bounds, knr)


def plan_partitions(zoning: Sequence[ZoneOutlines], municipalities: Sequence[gpd.GeoDataFrame],
                    max_zones: int = MAX_ZONES) -> list[Partition]:
    """Partitions of the zoning layers (in ``inputs.zoning`` order), largest first.

    Zone ids follow :func:`constraints.publish.zoning_frame`: the fid for one layer, else 1..N in layer order.
    """
    if not zoning:
        return []
    layer_of = np.concatenate([np.full(len(z.fids), pos) for pos, z in enumerate(zoning)])
    all_fids = np.concatenate([z.fids for z in zoning])
    all_ids = all_fids if len(zoning) == 1 else np.arange(1, len(all_fids) + 1)
    all_bounds = np.concatenate([z.bounds for z in zoning]).reshape(-1, 4)
    knr = np.concatenate([z.knr for z in zoning]).astype(object)
    cx, cy = (all_bounds[:, 0] + all_bounds[:, 2]) / 2, (all_bounds[:, 1] + all_bounds[:, 3]) / 2
    no_geometry = np.isnan(all_bounds).any(axis=1)
    missing = np.flatnonzero(pd.isna(knr) & ~no_geometry)
    if len(missing):
        knr[missing] = _locate(cx[missing], cy[missing], municipalities)
    keys = knr.copy()
    nowhere = np.flatnonzero(pd.isna(keys))
    keys[nowhere] = [_unknown_key(x, y) for x, y in zip(cx[nowhere], cy[nowhere], strict=True)]
    keys = _split_strays(keys, cx, cy, no_geometry)
    codes, uniques = pd.factorize(keys)
    rows_of = np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1])
    out: list[Partition] = []
    n_layers = len(zoning)
    for code in np.argsort(uniques.astype(str), kind="stable"):  # keys in sorted order, then largest first
        rows = rows_of[code]
        rows = rows[~no_geometry[rows]]
        if len(rows) == 0:
            continue
        stripes = max(1, -(-len(rows) // max_zones))
        if stripes > 1:  # west to east by the zone centres
            rows = rows[np.argsort(cx[rows], kind="stable")]
        for s, part in enumerate(np.array_split(rows, stripes)):
            b = all_bounds[part]
            box = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))
            key = str(uniques[code])
            out.append(_partition(key if stripes == 1 else f"{key}/{s + 1}", box, part, layer_of, all_fids,
                                  all_ids, n_layers))
    if no_geometry.any():
        out.append(_partition("no-geometry", None, np.flatnonzero(no_geometry), layer_of, all_fids, all_ids,
                              n_layers))
    return sorted(out, key=lambda p: -p.n_zones)


def _split_strays(keys: np.ndarray, cx: np.ndarray, cy: np.ndarray, no_geometry: np.ndarray) -> np.ndarray:
    """Zones lying farther than :data:`STRAY_M` from their municipality's median zone get partitions of their own
    (by 20 km square): one zone with a wrong kommunenummer must not stretch a partition's box across the country."""
    frame = pd.DataFrame({"key": keys, "x": cx, "y": cy})
    median = frame.groupby("key")[["x", "y"]].transform("median")
    stray = ((np.abs(cx - median["x"].to_numpy()) > STRAY_M) | (np.abs(cy - median["y"].to_numpy()) > STRAY_M))
    stray &= ~no_geometry
    out = keys.copy()
    out[stray] = [f"{k}{_unknown_key(x, y)[len(UNKNOWN_MUNICIPALITY):]}" for k, x, y in
                  zip(keys[stray], cx[stray], cy[stray], strict=True)]
    return out


def _unknown_key(x: float, y: float) -> str:
    """Zones in no known municipality, grouped by the square of :data:`UNKNOWN_CELL_M` holding their centre."""
    if np.isnan(x) or np.isnan(y):
        return UNKNOWN_MUNICIPALITY
    return f"{UNKNOWN_MUNICIPALITY}@{int(x // UNKNOWN_CELL_M)},{int(y // UNKNOWN_CELL_M)}"


def _partition(key: str, box: tuple[float, float, float, float] | None, rows: np.ndarray, layer_of: np.ndarray,
               fids: np.ndarray, ids: np.ndarray, n_layers: int) -> Partition:
    rows = np.sort(rows)
    return Partition(key, box, tuple(fids[rows[layer_of[rows] == i]] for i in range(n_layers)),
                     tuple(ids[rows[layer_of[rows] == i]] for i in range(n_layers)))


def _locate(x: np.ndarray, y: np.ndarray, municipalities: Sequence[gpd.GeoDataFrame]) -> np.ndarray:
    """kommunenummer of the municipality holding each point (the zones' envelope centres; None outside all)."""
    out = np.full(len(x), None, dtype=object)
    points = shapely.points(x, y)
    for frame in municipalities:
        if "kommunenummer" not in frame.columns or len(frame) == 0:
            continue
        mgeoms = np.asarray(frame.geometry.array, dtype=object)
        knr = normalised_knr(frame["kommunenummer"])
        todo = np.flatnonzero(pd.isna(out))
        qi, mi = shapely.STRtree(mgeoms).query(points[todo], predicate="within")
        first = np.unique(qi, return_index=True)[1]
        out[todo[qi[first]]] = knr[mi[first]]
    return out
