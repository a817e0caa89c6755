"""The vectorised core: for many zones and one rule, how much of each zone the rule's zone covers, how far the
nearest feature is, which features hit, and whether the layer's coverage reaches the zone.

Fast path (shapely 2, no Python loop over features):

* candidate pairs from one STRtree query over the rule's *parts* (``intersects``, or ``dwithin`` with per-zone
  distances); long lines are indexed in short chunks so queries and distances stay local;
* zero-distance polygon rules (farmland, flood): parts wholly inside a zone (``contains_properly``) count
  their own area, the rest is intersected; pieces are summed per zone, and only zones hit by features that
  overlap each other are unioned (found with ``coverage_invalid_edges``), so nothing is counted twice;
* buffered rules (watercourse, heritage, roads): each feature that hits is clipped to the zone's box grown by
  the distance (nothing outside can reach the zone), buffered on its own and intersected with the zone; a
  zone takes the area of a piece that fills it, of its single piece, or of the union of its pieces;
* the nearest-feature distance is only searched for zones without a hit;
* heavy arrays run on threads (shapely releases the GIL); prepared geometries are thread-private copies made by
  ``pmap`` (GEOS prepared geometries are not thread-safe, see ``constraints._parallel``): ``measure`` never
  prepares or changes the caller's geometries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

from constraints._parallel import pmap, pmap_list
from constraints.geometry import AREA_EPS_M2, expanded_boxes, group_starts
from constraints.index import RuleTarget

QUAD_SEGS = 8  # segments per quarter circle in buffers (GEOS default); the baseline uses the same
WHOLE = 1 - 1e-9  # a piece with this share of its zone's area is the whole zone

FULL, PARTIAL, NONE, NO_LAYER = "full", "partial", "none", "no-layer"


@dataclass(frozen=True)
class RuleMeasure:
    """Per-zone measurements of one rule (arrays aligned with the zones asked about)."""

    overlap_m2: np.ndarray  # area of the zone inside the rule's zone (union, no double counting)
    distance_m: np.ndarray  # distance to the nearest selected feature; NaN when the rule has no features
    hit_zone: np.ndarray  # pairs (zone position, feature position) that hit, sorted by zone then feature
    hit_feature: np.ndarray
    coverage: np.ndarray  # FULL / PARTIAL / NONE / NO_LAYER
    parts: np.ndarray | None  # the zone's constrained part (geometry or None), when asked for

    def hit_mask(self, n: int) -> np.ndarray:
        """Zones with at least one hit."""
        mask = np.zeros(n, dtype=bool)
        mask[self.hit_zone] = True
        return mask


def measure(zones: np.ndarray, zone_m: np.ndarray, target: RuleTarget, *, with_parts: bool = False,
            hits_only: bool = False, near_within: np.ndarray | None = None) -> RuleMeasure:
    """Measure one rule against ``zones`` (valid polygons in the working CRS).

    ``zone_m`` gives the hit distance per zone (municipality overrides make it vary). With ``with_parts`` the
    constrained part of every hit zone is returned as geometry (used for net available area). With
    ``hits_only`` the coverage (left NONE) and the distance of zones without a hit (left NaN) are not
    computed: for callers that only need the hits and their parts. With ``near_within`` (per zone, e.g. the
    proximity band) a zone without a hit that the coverage holds whole gets its distance only when it is within
    that bound (exact there; NaN beyond): for callers that publish only what is near, hit or not mapped.
    """
    n = len(zones)
    zone_m = np.ascontiguousarray(np.broadcast_to(np.asarray(zone_m, dtype="float64"), (n,)))
    coverage = np.full(n, NONE, dtype=object) if hits_only else _coverage(zones, target)
    overlap = np.zeros(n)
    distance = np.full(n, np.nan)
    parts = np.full(n, None, dtype=object) if with_parts else None
    empty = np.empty(0, dtype=np.int64)
    if len(target) == 0 or n == 0:
        return RuleMeasure(overlap, distance, empty, empty, coverage, parts)

    at_zero_zone = zone_m == 0
    zi, pi = target.tree.query(zones, predicate="intersects") if at_zero_zone.all() else (
        _candidates(zones, zone_m, target.tree))
    at_zero = at_zero_zone[zi]
    target.ensure_valid_parts(pi)
    z0, f0 = _zero_distance(zones, zi[at_zero], pi[at_zero], target, overlap, parts)
    z1, f1 = _buffered(zones, zone_m, zi[~at_zero], pi[~at_zero], target, overlap, distance, parts)
    distance[z0] = 0.0
    hit_zone = np.concatenate([z0, z1])
    hit_feature = np.concatenate([f0, f1])
    order = np.lexsort((hit_feature, hit_zone))
    hit_zone, hit_feature = hit_zone[order], hit_feature[order]
    unknown = np.flatnonzero(np.isnan(distance))
    if len(unknown) and not hits_only:
        if near_within is not None:
            bound = np.broadcast_to(np.asarray(near_within, dtype="float64"), (n,))
            covered = coverage[unknown] == FULL
            within = unknown[covered]
            distance[within] = _nearest_within(zones[within], target, bound[within])
            unknown = unknown[~covered]
        distance[unknown] = _nearest(zones[unknown], target)
    return RuleMeasure(overlap, distance, hit_zone, hit_feature, coverage, parts)


def _candidates(zones: np.ndarray, zone_m: np.ndarray, tree: STRtree) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose boxes come within the zone distance: intersecting for zero distance, else box overlap.

    The exact distance is computed once afterwards, on threads, instead of inside the tree query.
    """
    zero = zone_m == 0
    zi0, pi0 = tree.query(zones[zero], predicate="intersects") if zero.any() else (np.empty(0, int),) * 2
    idx = np.flatnonzero(~zero)
    zi1, pi1 = tree.query(expanded_boxes(zones[idx], zone_m[idx]))
    zi = np.concatenate([np.flatnonzero(zero)[zi0], idx[zi1]])
    pi = np.concatenate([pi0, pi1])
    order = np.argsort(zi, kind="stable")
    return zi[order], pi[order]


def _unique_pairs(zone: np.ndarray, feature: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (zone, feature) pairs, sorted by zone then feature."""
    key = np.unique(zone.astype(np.int64) * n_features + feature)
    return key // n_features, key % n_features


# --------------------------------------------------------------------------------------------- pieces


def _zero_distance(zones: np.ndarray, zi: np.ndarray, pi: np.ndarray, target: RuleTarget,
                   overlap: np.ndarray, parts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Rules without a buffer: polygon parts add their overlap area, lines and points hit by crossing."""
    poly = target.part_polygonal[pi]
    pz, pp = zi[poly], pi[poly]
    inside = pmap(shapely.contains_properly, zones[pz], target.parts[pp], prepare=(0,))
    piece_area = np.where(inside, target.part_areas[pp], 0.0)
    rest = np.flatnonzero(~inside)
    pieces = target.parts[pp].copy()
    if len(rest):
        cut = pmap(shapely.intersection, zones[pz[rest]], target.parts[pp[rest]])
        pieces[rest] = cut
        piece_area[rest] = shapely.area(cut)
    hit = piece_area > AREA_EPS_M2
    hz, hp, pieces, piece_area = pz[hit], pp[hit], pieces[hit], piece_area[hit]
    np.add.at(overlap, hz, piece_area)
    fix = _zones_with_overlapping_hits(hz, hp, target)
    if len(fix):
        sel = np.flatnonzero(np.isin(hz, fix))
        keys, unions = _union_by_zone(hz[sel], pieces[sel])
        overlap[keys] = shapely.area(unions)
    if parts is not None and len(hz):
        keys, unions = _union_by_zone(hz, pieces)
        parts[keys] = unions

    lz, lp = zi[~poly], pi[~poly]
    crossing = shapely.relate_pattern(zones[lz], target.parts[lp], "T********") if len(lz) else np.empty(0, bool)
    return _unique_pairs(np.concatenate([hz, lz[crossing]]),
                         target.owner[np.concatenate([hp, lp[crossing]])], len(target))


def _zones_with_overlapping_hits(hz: np.ndarray, hp: np.ndarray, target: RuleTarget) -> np.ndarray:
    """Zones hit by two or more parts that overlap each other (their pieces must be unioned).

    AR5 and most constraint layers are clean coverages, so this is usually empty after one
    ``coverage_invalid_edges`` pass over the parts that share a zone.
    """
    if len(hz) < 2:
        return np.empty(0, dtype=np.int64)
    shared = np.bincount(hz)[hz] >= 2
    items = np.unique(hp[shared])
    if len(items) < 2:
        return np.empty(0, dtype=np.int64)
    geoms = target.parts[items]
    suspect = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(geoms)))
    if len(suspect) == 0:
        return np.empty(0, dtype=np.int64)
    a, b = STRtree(geoms).query(geoms[suspect], predicate="intersects")
    a = suspect[a]
    keep = a != b
    a, b = a[keep], b[keep]
    overlapping = pmap(_interiors_meet, geoms[a], geoms[b])
    bad = items[np.unique(np.concatenate([a[overlapping], b[overlapping]]))]
    in_bad = np.isin(hp, bad)
    counts = np.bincount(hz[in_bad], minlength=int(hz.max()) + 1)
    return np.flatnonzero(counts >= 2)


def _interiors_meet(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return shapely.relate_pattern(a, b, "T********")


def _buffered(zones: np.ndarray, zone_m: np.ndarray, zi: np.ndarray, pi: np.ndarray, target: RuleTarget,
              overlap: np.ndarray, distance: np.ndarray, parts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Rules with a buffer: hit when closer than the zone distance; area of the zone inside the union of buffers."""
    if len(zi) == 0:
        return zi, pi
    dist = pmap(shapely.distance, zones[zi], target.parts[pi])
    hit = dist < zone_m[zi]
    hz, hd = zi[hit], dist[hit]
    if len(hz) == 0:
        return hz, hz
    nearest = np.full(len(zones), np.inf)
    np.minimum.at(nearest, hz, hd)
    touched = np.isfinite(nearest)
    distance[touched] = nearest[touched]
    uz, uf = _unique_pairs(hz, target.owner[pi[hit]], len(target))
    target.ensure_valid_features(uf)
    feats = _clip_to_reach(zones[uz], zone_m[uz], target.geoms[uf])
    buffers = pmap(_buffer_rows, feats, zone_m[uz], min_chunk=512)
    # a zone inside one buffer is covered whole: its other pieces need neither intersection nor union
    inside = pmap(shapely.contains_properly, buffers, zones[uz], min_chunk=512)
    whole = np.zeros(len(zones), dtype=bool)
    whole[uz[inside]] = True
    rest = ~whole[uz]
    uz_r = uz[rest]
    pieces = pmap(shapely.intersection, zones[uz_r], buffers[rest], min_chunk=512)
    piece_area = shapely.area(pieces)
    whole[uz_r[piece_area >= WHOLE * shapely.area(zones[uz_r])]] = True  # filled exactly, edge on edge
    keep = ~whole[uz_r]
    uz_r, pieces, piece_area = uz_r[keep], pieces[keep], piece_area[keep]
    keys, starts = group_starts(uz_r)
    counts = np.diff(np.r_[starts, len(uz_r)])
    single, first = keys[counts == 1], starts[counts == 1]
    overlap[single] = piece_area[first]
    many = np.isin(uz_r, keys[counts > 1])
    union_keys, unions = _union_by_zone(uz_r[many], pieces[many])
    overlap[union_keys] = shapely.area(unions)
    whole_keys = np.flatnonzero(whole)
    overlap[whole_keys] = shapely.area(zones[whole_keys])
    if parts is not None:
        parts[single] = pieces[first]
        parts[union_keys] = unions
        parts[whole_keys] = zones[whole_keys]
    return uz, uf


def _clip_by_rects(geoms: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """``shapely.clip_by_rect`` of each geometry by its own rectangle (rows of ``bounds``), in one call.

    ``shapely.clip_by_rect`` accepts one rectangle per call; the ufunc behind it (``shapely.lib``) broadcasts
    rectangles too, which saves a Python call per hit pair (12 000 for a region's streams).
    """
    return shapely.lib.clip_by_rect(geoms, bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])


def _buffer_rows(geoms: np.ndarray, distance: np.ndarray) -> np.ndarray:
    return shapely.buffer(geoms, distance, quad_segs=QUAD_SEGS)


def _union_by_zone(zone: np.ndarray, pieces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of the pieces of each zone (zone positions sorted); returns (zones, unions)."""
    order = np.argsort(zone, kind="stable")
    zone, pieces = zone[order], pieces[order]
    keys, starts = group_starts(zone)
    ends = np.r_[starts[1:], len(zone)]
    unions = np.empty(len(keys), dtype=object)
    single = (ends - starts) == 1
    unions[single] = pieces[starts[single]]
    spans = list(zip(starts[~single].tolist(), ends[~single].tolist(), strict=True))
    unions[~single] = pmap_list(lambda span: shapely.union_all(pieces[span[0]:span[1]]), spans,
                                weights=[b - a for a, b in spans])
    return keys, unions


def _clip_to_reach(zones: np.ndarray, distance: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """Cut features to the zone's box grown by the distance: nothing outside it can reach the zone.

    Keeps long rivers and roads from being buffered whole for every zone they pass; the buffer inside the
    zone is the same, because a cut end lies at least the distance away from the zone. Lines use GEOS's
    rectangle clipper (a loop over hit pairs, about twice as fast as a general intersection); polygons,
    for which that clipper does not promise valid output, use the intersection.
    """
    boxes = expanded_boxes(zones, distance)
    fb, bb = shapely.bounds(feats), shapely.bounds(boxes)
    sticks_out = (fb[:, 0] < bb[:, 0]) | (fb[:, 1] < bb[:, 1]) | (fb[:, 2] > bb[:, 2]) | (fb[:, 3] > bb[:, 3])
    out = feats.copy()
    lines = sticks_out & (shapely.get_dimensions(feats) == 1)
    if lines.any():
        out[lines] = pmap(_clip_by_rects, feats[lines], bb[lines], min_chunk=512)
    other = np.flatnonzero(sticks_out & ~lines)
    if len(other):
        out[other] = pmap(shapely.intersection, feats[other], boxes[other], min_chunk=512)
    return out


# ------------------------------------------------------------------------------------ distance, coverage


def _nearest(zones: np.ndarray, target: RuleTarget) -> np.ndarray:
    """Distance from each zone to the nearest feature (exact).

    A nearest search from the zone's centroid is cheap and gives one candidate; the exact distance to it bounds
    the answer, so only parts within that bound are measured. (``query_nearest`` on the polygons themselves
    computes many full polygon distances inside the tree and is several times slower.)

    Distances are to the parts as the overlay sees them, made valid: a part that repair leaves empty (a polygon
    without area) is no feature, so it neither bounds the search nor is measured (its distance would be NaN).
    The tree was built before the repair; ``make_valid`` never leaves a part's box, so its boxes still hold.
    """
    out = np.full(len(zones), np.nan)
    if len(zones) == 0 or len(target.parts) == 0:
        return out
    (qi, ti) = target.tree.query_nearest(shapely.centroid(zones), all_matches=False)
    target.ensure_valid_parts(ti)
    bound = pmap(shapely.distance, zones[qi], target.parts[ti])
    bound[np.isnan(bound)] = np.inf  # the nearest box holds an empty part: search every part
    zi, pi = target.tree.query(expanded_boxes(zones[qi], bound))
    target.ensure_valid_parts(pi)
    real = ~shapely.is_empty(target.parts[pi])
    zi, pi = zi[real], pi[real]
    dist = pmap(shapely.distance, zones[qi][zi], target.parts[pi])
    best = np.full(len(qi), np.inf)
    np.minimum.at(best, zi, dist)
    best[np.isinf(best)] = np.nan  # every part empty: no feature at all
    out[qi] = best
    return out


def _nearest_within(zones: np.ndarray, target: RuleTarget, bound: np.ndarray) -> np.ndarray:
    """Distance from each zone to the nearest feature when it is at most ``bound`` (exact), else NaN.

    A part within ``bound`` of a zone lies in the zone's box grown by ``bound``: one box query finds every
    candidate, and the smallest exact distance among them is the nearest distance (the same value ``_nearest``
    finds)."""
    out = np.full(len(zones), np.nan)
    if len(zones) == 0 or len(target.parts) == 0:
        return out
    zi, pi = target.tree.query(expanded_boxes(zones, bound))
    if len(zi) == 0:
        return out
    dist = pmap(shapely.distance, zones[zi], target.parts[pi])
    best = np.full(len(zones), np.inf)
    np.minimum.at(best, zi, dist)
    near = best <= bound
    out[near] = best[near]
    return out


MANY_PARTS = 64  # a coverage of more parts is tested part by part through an STRtree


def _coverage_by_parts(zones: np.ndarray, target: RuleTarget, out: np.ndarray) -> np.ndarray:
    """``_coverage`` for a coverage of many parts (e.g. 200 000 separate AR5 fields), part by part.

    The coverage is a valid MultiPolygon: its parts meet at points at most. A zone intersects it iff it
    intersects a part; a single polygon is covered by it iff one part covers it (two parts meeting only at
    points cannot share a connected interior). A multi-part zone is covered iff each of its polygons is (so
    the whole coverage, 200 000 parts for AR5, is never copied and prepared).
    """
    _, tree = target.coverage.parts()
    zi, _ = tree.query(zones, predicate="intersects")
    some = np.zeros(len(zones), dtype=bool)
    some[zi] = True
    single = shapely.get_num_geometries(zones) == 1  # a Polygon, or a MultiPolygon of one part
    ci, _ = tree.query(shapely.get_geometry(zones[single], 0), predicate="covered_by")
    full = np.zeros(len(zones), dtype=bool)
    full[np.flatnonzero(single)[ci]] = True
    multi = np.flatnonzero(~single & some)
    if len(multi):
        polygons, owner = shapely.get_parts(zones[multi], return_index=True)
        pi, _ = tree.query(polygons, predicate="covered_by")
        covered = np.zeros(len(polygons), dtype=bool)
        covered[pi] = True
        uncovered = np.bincount(owner, weights=~covered, minlength=len(multi))
        full[multi] = (uncovered == 0) & (np.bincount(owner, minlength=len(multi)) > 0)
    out[some] = PARTIAL
    out[full] = FULL
    return out


def _coverage(zones: np.ndarray, target: RuleTarget) -> np.ndarray:
    """Whether the rule's layers cover each zone: full, partial, none, or no layer at all."""
    out = np.full(len(zones), NONE, dtype=object)
    if not target.has_layer:
        out[:] = NO_LAYER
        return out
    if target.coverage.is_empty() or len(zones) == 0:
        return out
    if target.coverage.num_parts() > MANY_PARTS:
        return _coverage_by_parts(zones, target, out)
    cov = target.coverage.get()  # this thread's prepared copy
    full = shapely.covers(cov, zones)
    out[full] = FULL
    some = ~full & shapely.intersects(cov, zones)
    out[some] = PARTIAL
    return out
