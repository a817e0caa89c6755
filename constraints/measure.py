"""The vectorised core: for many zones and one rule, how much of each zone the rule's zone covers, how far the
nearest feature is, which features hit, and whether the layer's coverage reaches the zone.

Fast path (shapely 2, no Python loop over features):

* candidate pairs from one STRtree query (``intersects``, or ``dwithin`` with per-zone distances);
* zero-distance polygon rules (farmland, flood): ``contains_properly`` parts count their own area, the rest
  is intersected; pieces are summed per zone, and only zones hit by features that overlap each other are
  unioned (detected with ``coverage_invalid_edges`` on the hit features), so nothing is counted twice;
* buffered rules (watercourse, heritage, roads): the hit features near a zone are clipped to the zone's
  box grown by the distance, gathered into one collection per zone and buffered once, which is the union of
  the single buffers without any overlay;
* heavy arrays are split over threads (shapely releases the GIL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

from constraints._parallel import pmap
from constraints.geometry import AREA_EPS_M2, expanded_boxes, group_starts
from constraints.index import RuleTarget

QUAD_SEGS = 8  # segments per quarter circle in buffers (GEOS default); the baseline uses the same

FULL, PARTIAL, NONE, NO_LAYER = "full", "partial", "none", "no-layer"


@dataclass(frozen=True)
class RuleMeasure:
    """Per-zone measurements of one rule (arrays aligned with the zones asked about)."""

    overlap_m2: np.ndarray  # area of the zone inside the rule's zone (union, no double counting)
    distance_m: np.ndarray  # distance to the nearest selected feature; NaN when the rule has no features
    hit_zone: np.ndarray  # pairs (zone position, target feature position) that hit
    hit_feature: np.ndarray
    coverage: np.ndarray  # FULL / PARTIAL / NONE / NO_LAYER
    parts: np.ndarray | None  # the zone's constrained part (geometry or None), when asked for

    def hit_mask(self, n: int) -> np.ndarray:
        """Zones with at least one hit."""
        mask = np.zeros(n, dtype=bool)
        mask[self.hit_zone] = True
        return mask


def measure(zones: np.ndarray, zone_m: np.ndarray, target: RuleTarget, *, with_parts: bool = False) -> RuleMeasure:
    """Measure one rule against ``zones`` (valid polygons in the working CRS).

    ``zone_m`` gives the hit distance per zone (municipality overrides make it vary). With ``with_parts`` the
    constrained part of every hit zone is returned as geometry (used for net available area).
    """
    n = len(zones)
    zone_m = np.broadcast_to(np.asarray(zone_m, dtype="float64"), (n,))
    coverage = _coverage(zones, target)
    overlap = np.zeros(n)
    parts = np.full(n, None, dtype=object) if with_parts else None
    if len(target) == 0 or n == 0:
        empty = np.empty(0, dtype=np.int64)
        return RuleMeasure(overlap, np.full(n, np.nan), empty, empty, coverage, parts)

    shapely.prepare(zones)
    if np.all(zone_m == 0):
        zi, fi = target.tree.query(zones, predicate="intersects")
    else:
        zi, fi = target.tree.query(zones, predicate="dwithin", distance=zone_m)
    at_zero = zone_m[zi] == 0

    hits_z: list[np.ndarray] = []
    hits_f: list[np.ndarray] = []
    for hz, hf in (
        _zero_distance(zones, zi[at_zero], fi[at_zero], target, overlap, parts),
        _buffered(zones, zone_m, zi[~at_zero], fi[~at_zero], target, overlap, parts),
    ):
        hits_z.append(hz)
        hits_f.append(hf)
    hit_zone = np.concatenate(hits_z)
    hit_feature = np.concatenate(hits_f)
    order = np.lexsort((hit_feature, hit_zone))
    return RuleMeasure(overlap, _nearest(zones, target.tree), hit_zone[order], hit_feature[order], coverage, parts)


# --------------------------------------------------------------------------------------------- pieces


def _zero_distance(zones: np.ndarray, zi: np.ndarray, fi: np.ndarray, target: RuleTarget,
                   overlap: np.ndarray, parts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Rules without a buffer: polygon features add their overlap area, lines and points hit by crossing."""
    poly = target.polygonal[fi]
    pz, pf = zi[poly], fi[poly]
    inside = pmap(shapely.contains_properly, zones[pz], target.geoms[pf])
    piece_area = np.where(inside, target.areas[pf], 0.0)
    rest = np.flatnonzero(~inside)
    pieces = target.geoms[pf].copy()
    if len(rest):
        cut = pmap(shapely.intersection, zones[pz[rest]], target.geoms[pf[rest]])
        pieces[rest] = cut
        piece_area[rest] = shapely.area(cut)
    hit = piece_area > AREA_EPS_M2
    hz, hf, hp, ha = pz[hit], pf[hit], pieces[hit], piece_area[hit]
    np.add.at(overlap, hz, ha)
    for z in _zones_with_overlapping_hits(hz, hf, target):
        overlap[z] = shapely.area(shapely.union_all(hp[hz == z]))
    if parts is not None and len(hz):
        order = np.argsort(hz, kind="stable")
        keys, starts = group_starts(hz[order])
        for key, piece_set in zip(keys, np.split(hp[order], starts[1:]), strict=True):
            parts[key] = piece_set[0] if len(piece_set) == 1 else shapely.union_all(piece_set)

    lz, lf = zi[~poly], fi[~poly]
    crossing = shapely.relate_pattern(zones[lz], target.geoms[lf], "T********") if len(lz) else np.empty(0, bool)
    return np.concatenate([hz, lz[crossing]]), np.concatenate([hf, lf[crossing]])


def _zones_with_overlapping_hits(hz: np.ndarray, hf: np.ndarray, target: RuleTarget) -> np.ndarray:
    """Zones hit by two or more features that overlap each other (their pieces must be unioned).

    AR5 and most constraint layers are clean coverages, so this is usually empty after one
    ``coverage_invalid_edges`` pass over the features that share a zone.
    """
    if len(hz) < 2:
        return np.empty(0, dtype=np.int64)
    shared = np.bincount(hz)[hz] >= 2
    feats = np.unique(hf[shared])
    if len(feats) < 2:
        return np.empty(0, dtype=np.int64)
    geoms = target.geoms[feats]
    suspect = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(geoms)))
    if len(suspect) == 0:
        return np.empty(0, dtype=np.int64)
    a, b = STRtree(geoms).query(geoms[suspect], predicate="intersects")
    a = suspect[a]
    keep = a != b
    a, b = a[keep], b[keep]
    overlapping = shapely.relate_pattern(geoms[a], geoms[b], "T********")
    bad = feats[np.unique(np.concatenate([a[overlapping], b[overlapping]]))]
    in_bad = np.isin(hf, bad)
    counts = np.bincount(hz[in_bad], minlength=int(hz.max()) + 1)
    return np.flatnonzero(counts >= 2)


def _buffered(zones: np.ndarray, zone_m: np.ndarray, zi: np.ndarray, fi: np.ndarray, target: RuleTarget,
              overlap: np.ndarray, parts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Rules with a buffer: hit when closer than the zone distance; area of the zone inside the union of buffers."""
    if len(zi) == 0:
        return zi, fi
    dist = pmap(shapely.distance, zones[zi], target.geoms[fi])
    hit = dist < zone_m[zi]
    hz, hf = zi[hit], fi[hit]
    if len(hz) == 0:
        return hz, hf
    # zi comes sorted by zone from the tree query; keep it so for grouping
    order = np.argsort(hz, kind="stable")
    hz, hf = hz[order], hf[order]
    keys, starts = group_starts(hz)
    group = np.repeat(np.arange(len(keys)), np.diff(np.r_[starts, len(hz)]))
    feats = _clip_to_reach(zones[hz], zone_m[hz], target.geoms[hf])
    collections = shapely.geometrycollections(feats, indices=group)
    buffers = pmap(_buffer_rows, collections, zone_m[keys], min_chunk=256)
    pieces = pmap(shapely.intersection, zones[keys], buffers, min_chunk=256)
    overlap[keys] = shapely.area(pieces)
    if parts is not None:
        parts[keys] = pieces
    return hz, hf


def _buffer_rows(geoms: np.ndarray, distance: np.ndarray) -> np.ndarray:
    return shapely.buffer(geoms, distance, quad_segs=QUAD_SEGS)


def _clip_to_reach(zones: np.ndarray, distance: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """Cut features to the zone's box grown by the distance: nothing outside it can reach the zone.

    Keeps long rivers and roads from being buffered whole for every zone they pass.
    """
    boxes = expanded_boxes(zones, distance)
    fb, bb = shapely.bounds(feats), shapely.bounds(boxes)
    sticks_out = (fb[:, 0] < bb[:, 0]) | (fb[:, 1] < bb[:, 1]) | (fb[:, 2] > bb[:, 2]) | (fb[:, 3] > bb[:, 3])
    out = feats.copy()
    idx = np.flatnonzero(sticks_out)
    if len(idx):
        out[idx] = pmap(shapely.intersection, feats[idx], boxes[idx], min_chunk=512)
    return out


# ------------------------------------------------------------------------------------ distance, coverage


def _nearest(zones: np.ndarray, tree: STRtree) -> np.ndarray:
    """Distance from each zone to the nearest feature in the tree (0 when they intersect)."""
    distance = np.full(len(zones), np.nan)
    (qi, _), dist = tree.query_nearest(zones, return_distance=True, all_matches=False)
    distance[qi] = dist
    return distance


def _coverage(zones: np.ndarray, target: RuleTarget) -> np.ndarray:
    """Whether the rule's layers cover each zone: full, partial, none, or no layer at all."""
    out = np.full(len(zones), NONE, dtype=object)
    if not target.has_layer:
        out[:] = NO_LAYER
        return out
    cov = target.coverage
    if cov.is_empty or len(zones) == 0:
        return out
    full = shapely.covers(cov, zones)
    out[full] = FULL
    some = ~full & shapely.intersects(cov, zones)
    out[some] = PARTIAL
    return out
