"""MVT geometry commands, vectorised: shapely geometries in tile coordinates in, command integers out.

Every step is a numpy array operation over all the features of a layer at once: shapely hands back
parts, rings and coordinates with index arrays (no Python loop per geometry); coordinates are rounded to
the integer tile grid, repeated points are dropped, rings that collapse are dropped with their holes, and
rings are oriented as the spec requires (exterior clockwise with y pointing down, i.e. positive surveyor's
area; holes the other way); MoveTo, LineTo and ClosePath commands with zigzag deltas are scattered into one
array. ``maps.mvt`` wraps them into protobuf.
"""

from __future__ import annotations

import numpy as np
import shapely

U64 = np.uint64
POINT, LINE, POLYGON = 1, 2, 3
_MOVE_TO, _LINE_TO, _CLOSE_PATH = 1, 2, 7
_CLOSE = _CLOSE_PATH | (1 << 3)

# shapely type id (index; -1 = missing is the last entry) -> MVT geometry family (0: none)
_FAMILY_OF_TYPE = np.array([POINT, LINE, LINE, POLYGON, POINT, LINE, POLYGON, 0, 0], dtype=np.int64)


def _zigzag(d: np.ndarray) -> np.ndarray:
    return ((d << 1) ^ (d >> 63)).astype(U64)


# -- geometry commands ---------------------------------------------------------------------------
class _Commands:
    """Per-feature geometry command streams for one family, as one flat uint64 array with offsets."""

    def __init__(self, feature: np.ndarray, stream: np.ndarray, counts: np.ndarray) -> None:
        self.feature = feature  # feature index of each stream (sorted, unique)
        self.stream = stream  # all command integers, feature after feature
        self.counts = counts  # integers per feature


def segment_offsets(counts: np.ndarray) -> np.ndarray:
    """Start offsets of consecutive segments of ``counts`` items each, and the total at the end."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _deltas(q: np.ndarray, feature_of_point: np.ndarray) -> np.ndarray:
    """Zigzagged cursor deltas; the cursor starts at (0, 0) for every feature."""
    d = np.empty_like(q)
    d[0] = q[0]
    d[1:] = q[1:] - q[:-1]
    first = np.ones(len(q), dtype=bool)
    first[1:] = feature_of_point[1:] != feature_of_point[:-1]
    d[first] = q[first]
    return _zigzag(d)


def _dedupe(q: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Mask dropping points equal to their predecessor in the same segment."""
    keep = np.empty(len(q), dtype=bool)
    keep[0] = True
    np.any(q[1:] != q[:-1], axis=1, out=keep[1:])
    keep[1:] |= seg[1:] != seg[:-1]
    return keep


def _thin(q: np.ndarray, which: np.ndarray, n_paths: int, threshold: float, closed: bool
          ) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices that make a triangle of at most ``threshold`` units² with their two neighbours.

    A vectorised one-step Visvalingam: two passes (even, then odd positions along each path) so that no two
    neighbours go at once. Line ends stay; rings keep at least three vertices per pass.
    """
    for parity in (0, 1):
        n = np.bincount(which, minlength=n_paths)
        offsets = segment_offsets(n)
        i = np.arange(len(q))
        start, count = offsets[:-1][which], n[which]
        pos = i - start
        if closed:
            prev = np.where(pos == 0, start + count - 1, i - 1)
            nxt = np.where(pos == count - 1, start, i + 1)
            candidate = (pos % 2 == parity) & (count >= 6) & ~((pos == count - 1) & (count % 2 == 1))
        else:
            prev, nxt = np.maximum(i - 1, 0), np.minimum(i + 1, len(q) - 1)
            candidate = (pos % 2 == parity) & (pos > 0) & (pos < count - 1)
        a, b = q[prev] - q, q[nxt] - q
        area2 = np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        drop = candidate & (area2 <= 2 * threshold)
        if drop.any():
            q, which = q[~drop], which[~drop]
    return q, which


def _quantise(coords: np.ndarray, quantum: int) -> np.ndarray:
    """Snap to the integer grid, or to every ``quantum``-th line of it (a coarser grid generalises)."""
    if quantum == 1:
        return np.rint(coords).astype(np.int64)
    return np.rint(coords / quantum).astype(np.int64) * quantum


def _ragged(geoms: np.ndarray, depth: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Coordinates and offset levels (innermost first) of one geometry family, always ``depth`` levels.

    ``shapely.to_ragged_array`` walks the geometries once in C and copies no geometry objects.
    """
    _, coords, offsets = shapely.to_ragged_array(geoms)
    levels = [np.asarray(o, dtype=np.int64) for o in offsets]
    if len(levels) < depth:  # single-part types: one part per geometry
        levels.append(np.arange(len(geoms) + 1, dtype=np.int64))
    return np.asarray(coords, dtype=np.float64), levels


def _owner(offsets: np.ndarray) -> np.ndarray:
    """For offsets into a child array, the parent index of each child."""
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def _point_commands(geoms: np.ndarray, feature: np.ndarray, types: np.ndarray, quantum: int,
                    thin: float) -> _Commands | None:
    coords, (geom_off,) = _ragged(geoms, 1)
    ok = ~np.isnan(coords).any(axis=1)  # empty points come back as NaN
    if not ok.any():
        return None
    q = _quantise(coords[ok], quantum)
    feat = feature[_owner(geom_off)[ok]]
    feats, n = np.unique(feat, return_counts=True)
    # one MoveTo(n) then n pairs per feature: 1 + 2n integers
    counts = 1 + 2 * n
    offsets = segment_offsets(counts)
    stream = np.empty(int(offsets[-1]), dtype=U64)
    stream[offsets[:-1]] = (_MOVE_TO | (n << 3)).astype(U64)
    zz = _deltas(q, feat)
    order_in_feature = np.arange(len(q)) - np.repeat(segment_offsets(n)[:-1], n)
    base = np.repeat(offsets[:-1], n) + 1 + 2 * order_in_feature
    stream[base] = zz[:, 0]
    stream[base + 1] = zz[:, 1]
    return _Commands(feats, stream, counts)


def _line_commands(geoms: np.ndarray, feature: np.ndarray, types: np.ndarray, quantum: int,
                   thin: float) -> _Commands | None:
    coords, (part_off, geom_off) = _ragged(geoms, 2)
    if not len(coords):
        return None
    which = _owner(part_off)
    q = _quantise(coords, quantum)
    keep = _dedupe(q, which)
    q, which = q[keep], which[keep]
    if thin > 0:
        q, which = _thin(q, which, len(part_off) - 1, thin, closed=False)
    n = np.bincount(which, minlength=len(part_off) - 1)
    ok = n >= 2
    if not ok.any():
        return None
    pts_ok = ok[which]
    q = q[pts_ok]
    n = n[ok]
    part_feat = feature[_owner(geom_off)[ok]]
    return path_commands(q, np.repeat(part_feat, n), n, part_feat, close=False)


def _polygon_structure(geoms: np.ndarray, feature: np.ndarray, types: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates, ring offsets, polygon of each ring, ring offsets of polygons, feature of each polygon.

    Plain polygons without holes (parcels, zones: nearly all) need no offsets beyond their vertex counts;
    only the rest (multi-polygons, holes, clipped pieces) go through ``shapely.to_ragged_array``.
    """
    simple = (types == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    parts = []
    if simple.any():
        g = geoms[simple] if not simple.all() else geoms
        n = len(g)
        parts.append((shapely.get_coordinates(g), segment_offsets(shapely.get_num_coordinates(g)),
                      np.arange(n), np.arange(n + 1), feature[simple]))
    if not simple.all():
        coords, (ring_off, poly_off, geom_off) = _ragged(geoms[~simple], 3)
        parts.append((coords, ring_off, _owner(poly_off), poly_off, feature[~simple][_owner(geom_off)]))
    if len(parts) == 1:
        return parts[0]
    (c1, r1, o1, p1, f1), (c2, r2, o2, p2, f2) = parts
    n_rings1, n_polys1 = len(r1) - 1, len(p1) - 1
    return (np.concatenate([c1, c2]), np.concatenate([r1[:-1], r2 + len(c1)]), np.concatenate([o1, o2 + n_polys1]),
            np.concatenate([p1[:-1], p2 + n_rings1]), np.concatenate([f1, f2]))


def _polygon_commands(geoms: np.ndarray, feature: np.ndarray, types: np.ndarray, quantum: int,
                      thin: float) -> _Commands | None:
    coords, ring_off, ring_of, poly_off, poly_feature = _polygon_structure(geoms, feature, types)
    if not len(coords):
        return None
    n_rings = len(ring_off) - 1
    which = _owner(ring_off)  # ring of each point
    q = _quantise(coords, quantum)
    # drop the closing point of every ring (ClosePath implies it), then repeated points
    keep = _dedupe(q, which)
    keep[ring_off[1:][np.diff(ring_off) > 0] - 1] = False
    q, which = q[keep], which[keep]
    n = np.bincount(which, minlength=n_rings)
    offsets = segment_offsets(n)
    # the last point may now equal the first one (rounding): drop it
    nz = n > 1
    first_idx, last_idx = offsets[:-1][nz], offsets[1:][nz] - 1
    same = (q[first_idx] == q[last_idx]).all(axis=1)
    if same.any():
        drop = np.ones(len(q), dtype=bool)
        drop[last_idx[same]] = False
        q, which = q[drop], which[drop]
        n = np.bincount(which, minlength=n_rings)
        offsets = segment_offsets(n)
    if thin > 0 and len(q):
        q, which = _thin(q, which, n_rings, thin, closed=True)
        n = np.bincount(which, minlength=n_rings)
        offsets = segment_offsets(n)
    if not len(q):
        return None
    # signed area (surveyor's formula, doubled; integers well inside float64's exact range) per ring
    nxt = np.arange(1, len(q) + 1)
    nxt[offsets[1:][n > 0] - 1] = offsets[:-1][n > 0]
    cross = q[:, 0] * q[nxt, 1] - q[nxt, 0] * q[:, 1]
    area2 = np.rint(np.bincount(which, weights=cross, minlength=n_rings)).astype(np.int64)
    valid = (n >= 3) & (area2 != 0)
    exterior = np.zeros(n_rings, dtype=bool)
    exterior[poly_off[:-1][np.diff(poly_off) > 0]] = True
    # a polygon whose exterior collapsed loses its holes too
    poly_ok = np.zeros(len(poly_off) - 1, dtype=bool)
    poly_ok[ring_of[exterior & valid]] = True
    valid &= poly_ok[ring_of]
    if not valid.any():
        return None
    # orientation: exterior positive area, holes negative (tile y points down)
    reverse = valid & np.where(exterior, area2 < 0, area2 > 0)
    pts_ok = valid[which]
    if reverse.any():
        idx = np.arange(len(q))
        r = reverse[which]
        idx[r] = offsets[:-1][which[r]] + offsets[1:][which[r]] - 1 - idx[r]
        q = q[idx]
    q = q[pts_ok]
    n = n[valid]
    ring_feat = poly_feature[ring_of[valid]]
    return path_commands(q, np.repeat(ring_feat, n), n, ring_feat, close=True)


def path_commands(q: np.ndarray, feat_of_point: np.ndarray, n: np.ndarray, path_feat: np.ndarray,
                   close: bool) -> _Commands:
    """MoveTo + LineTo(n-1) (+ ClosePath) for each path of ``n`` points, grouped by feature."""
    if len(path_feat) > 1 and (path_feat[1:] < path_feat[:-1]).any():  # paths of a feature must be together
        order = np.argsort(path_feat, kind="stable")
        n_sorted = n[order]
        take = np.repeat(segment_offsets(n)[:-1][order] - segment_offsets(n_sorted)[:-1], n_sorted) + \
            np.arange(len(q))
        q, feat_of_point, n, path_feat = q[take], feat_of_point[take], n_sorted, path_feat[order]
    per_path = 2 * n + 2 + (1 if close else 0)
    offsets = segment_offsets(per_path)
    stream = np.empty(int(offsets[-1]), dtype=U64)
    start = offsets[:-1]
    stream[start] = _MOVE_TO | (1 << 3)
    stream[start + 3] = (_LINE_TO | ((n - 1) << 3)).astype(U64)
    if close:
        stream[offsets[1:] - 1] = _CLOSE
    zz = _deltas(q, feat_of_point)
    path_first = segment_offsets(n)[:-1]
    base = 2 * np.arange(len(q)) + np.repeat(start + 1 - 2 * path_first, n)
    base[path_first] -= 1  # every point after the first of its path sits after the LineTo integer
    base += 1
    stream[base] = zz[:, 0]
    stream[base + 1] = zz[:, 1]
    first = np.flatnonzero(np.r_[True, path_feat[1:] != path_feat[:-1]])
    return _Commands(path_feat[first], stream, np.add.reduceat(per_path, first))


def _explode_collections(geoms: np.ndarray, feature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replace geometry collections (from clipping) by their parts of the highest dimension."""
    parts, of = shapely.get_parts(geoms, return_index=True)
    dims = shapely.get_dimensions(parts)
    best = np.full(len(geoms), -1)
    np.maximum.at(best, of, dims)
    keep = dims == best[of]
    return parts[keep], feature[of[keep]]


def geometry_commands(geoms: np.ndarray, quantum: int = 1, thin: float = 0.0
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Encode tile-space geometries: (feature indices kept, MVT type, command stream, integers per feature).

    Coordinates snap to a grid of ``quantum`` tile units; with ``thin`` > 0, vertices making a triangle of
    at most ``thin`` units² with their neighbours are dropped (``_thin``). Features whose geometry vanishes
    (empty, collapsed rings, one-point lines) are left out.
    """
    geoms = np.asarray(geoms, dtype=object)
    types = shapely.get_type_id(geoms)
    feature = np.arange(len(geoms))
    if (types == 7).any():
        gc = types == 7
        parts, owner = _explode_collections(geoms[gc], feature[gc])
        geoms = np.concatenate([geoms[~gc], parts])
        feature = np.concatenate([feature[~gc], owner])
        order = np.argsort(feature, kind="stable")
        geoms, feature = geoms[order], feature[order]
        types = shapely.get_type_id(geoms)
    if (types == 2).any():  # a LinearRing is drawn as a line
        geoms = geoms.copy()
        geoms[types == 2] = shapely.linestrings(shapely.get_coordinates(geoms[types == 2]))  \
            if (types == 2).sum() == 1 else [shapely.LineString(g.coords) for g in geoms[types == 2]]
    family = _FAMILY_OF_TYPE[types]
    present = np.bincount(family, minlength=4)
    results: list[tuple[int, _Commands]] = []
    for fam, builder in ((POINT, _point_commands), (LINE, _line_commands), (POLYGON, _polygon_commands)):
        if not present[fam]:
            continue
        if present[fam] == len(geoms):
            cmds = builder(geoms, feature, types, quantum, thin)
        else:
            sel = family == fam
            cmds = builder(geoms[sel], feature[sel], types[sel], quantum, thin)
        if cmds is not None and len(cmds.feature):
            results.append((fam, cmds))
    if not results:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=U64), empty
    if len(results) == 1:
        fam, c = results[0]
        return c.feature, np.full(len(c.feature), fam), c.stream, c.counts
    # a feature keeps the family of its highest dimension (a clipped polygon collection, say)
    feats = np.concatenate([c.feature for _, c in results])
    fams = np.concatenate([np.full(len(c.feature), f) for f, c in results])
    counts = np.concatenate([c.counts for _, c in results])
    starts = np.concatenate([segment_offsets(c.counts)[:-1] + off for (_, c), off in
                             zip(results, np.cumsum([0] + [len(c.stream) for _, c in results[:-1]]), strict=True)])
    stream = np.concatenate([c.stream for _, c in results])
    order = np.lexsort((-fams, feats))
    feats, fams, counts, starts = feats[order], fams[order], counts[order], starts[order]
    first = np.ones(len(feats), dtype=bool)
    first[1:] = feats[1:] != feats[:-1]
    feats, fams, counts, starts = feats[first], fams[first], counts[first], starts[first]
    take = np.repeat(starts - segment_offsets(counts)[:-1], counts) + np.arange(int(counts.sum()))
    return feats, fams, stream[take], counts
