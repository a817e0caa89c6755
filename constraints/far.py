"""Exact nearest-feature distances for a partition's zones whose nearest feature lies beyond the partition's reach.

A partition reads the constraint features within its box grown by the longest rule distance: enough for every
hit and every proximity band, but a zone's ``distance_m`` (to the nearest selected feature, however far) can be
larger. Those few are looked up again here, exactly:

* when the rule's layers are small (heritage sites, roads, flood zones) or the rows it selects are few
  (protected rivers among all streams: read through the store's CQL2 filter), all of them are read once per
  worker process and kept indexed;
* otherwise (dense layers: farmland, all streams) in rings: the zones' box grown by R, R × 4 until the distance
  found is at most R (nothing outside the ring can be closer) or the ring holds the whole layer.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from constraints.index import ConstraintIndex, RuleTarget
from constraints.inputs import ConstraintLayer
from constraints.measure import measure
from constraints.overlay import zone_geometries
from constraints.rules import Rule, RuleSet
from layers.cql2 import parse_filter
from layers.store import LayerRecord, Store, VersionRecord

WHOLE_LIMIT = 300_000  # layers read whole (and kept) per worker process up to this many features
SELECTED_LIMIT = 50_000  # rows a rule selects out of a larger layer, read through the store's filter
PAGE = 50_000
_EMPTY = shapely.Polygon()
_targets: dict[tuple[object, ...], RuleTarget | None] = {}
_indexes: dict[tuple[object, ...], ConstraintIndex] = {}
_lock = threading.Lock()


def exact_far_distances(store: Store, findings: pd.DataFrame, zoning: gpd.GeoDataFrame,
                        records: Sequence[LayerRecord], rules: RuleSet, reach_m: float,
                        box: tuple[float, float, float, float]) -> int:
    """Replace each ``distance_m`` that the features read within ``box`` cannot vouch for by the exact distance
    over the whole layers.

    A distance found among the features meeting ``box`` is exact when it is at most the zone's distance to the
    edge of ``box`` (every feature not read lies wholly outside it, so at least that far away); the others, and
    NaN (nothing selected within the box), are looked up. Returns how many findings were looked up. Only the
    number changes: a zone that far away is neither hit nor near (the box holds everything within the reach of
    every zone), so risks and texts stay as they are.
    """
    if len(findings) == 0:
        return 0
    dist = findings["distance_m"].to_numpy(dtype="float64").copy()
    far = np.isnan(dist) | (dist > reach_m)
    if not far.any():
        return 0
    zones = zone_geometries(zoning)
    pos = pd.Index(zoning.index).get_indexer(findings["zone_id"].to_numpy())
    known = pos >= 0
    geoms = np.full(len(findings), _EMPTY, dtype=object)
    geoms[known] = zones[pos[known]]
    far &= known & ~shapely.is_empty(geoms)
    far[far] = ~(dist[far] <= _margin(geoms[far], box))  # NaN stays far
    if not far.any():
        return 0
    rule_ids = findings["rule_id"].to_numpy(dtype=object)
    zone_m = findings["zone_m"].to_numpy(dtype="float64")
    looked = 0
    for rule_id in pd.unique(rule_ids[far]):
        rows = np.flatnonzero(far & (rule_ids == rule_id))
        rule = rules.rule(str(rule_id))
        layers = [r for r in records if r.kind == rule.kind and (rule.layer_ids is None or r.id in rule.layer_ids)
                  and all(a in r.current.fields for a in rule.select)]
        if not layers:
            continue  # no layer the rule can read: NaN is the answer everywhere
        dist[rows] = _nearest(store, rule, rules, layers, geoms[rows], zone_m[rows], reach_m, zoning.crs)
        looked += len(rows)
    findings["distance_m"] = dist
    return looked


def _margin(geoms: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Each geometry's distance to the outside of ``box`` (negative when it sticks out)."""
    b = shapely.bounds(geoms)
    return np.minimum.reduce([b[:, 0] - box[0], b[:, 1] - box[1], box[2] - b[:, 2], box[3] - b[:, 3]])


def _nearest(store: Store, rule: Rule, rules: RuleSet, layers: list[LayerRecord], geoms: np.ndarray,
             zone_m: np.ndarray, reach_m: float, crs: object) -> np.ndarray:
    target = _whole_target(store, rule, rules, layers, crs)
    if target is not None:
        return measure(geoms, zone_m, target).distance_m
    out = np.full(len(geoms), np.nan)
    extent = _extent(layers)
    pending = np.arange(len(geoms))
    radius = max(4 * reach_m, 1_000.0)
    while len(pending):
        b = shapely.bounds(geoms[pending])
        box = (float(b[:, 0].min() - radius), float(b[:, 1].min() - radius), float(b[:, 2].max() + radius),
               float(b[:, 3].max() + radius))
        whole = extent is None or (box[0] <= extent[0] and box[1] <= extent[1] and box[2] >= extent[2]
                                   and box[3] >= extent[3])
        frames = {r.id: read_box(store, r.current, box) for r in layers}
        d = measure(geoms[pending], zone_m[pending], _target(rule, rules, layers, frames, crs)).distance_m
        done = whole | (d <= radius)
        out[pending[done]] = d[done]
        pending = pending[~done]
        radius *= 4
    return out


def _extent(layers: list[LayerRecord]) -> tuple[float, float, float, float] | None:
    boxes = np.array([r.current.bbox for r in layers if r.current.feature_count], dtype="float64")
    if len(boxes) == 0 or not np.isfinite(boxes).all():
        return None
    return (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))


def _whole_target(store: Store, rule: Rule, rules: RuleSet, layers: list[LayerRecord],
                  crs: object) -> RuleTarget | None:
    """The rule's target over whole layers when they, or the rows the rule selects, are few (cached per process).

    Layers of at most :data:`WHOLE_LIMIT` features are read whole; larger ones only when the rows whose selecting
    attributes are set (the store's CQL2 filter, e.g. the protected rivers among a million streams) number at most
    :data:`SELECTED_LIMIT`. Otherwise None: the caller searches in rings.
    """
    key = (id(store), rules.hash(), rule.id, tuple((r.id, r.current.version) for r in layers))
    with _lock:
        if key in _targets:
            return _targets[key]
    target = None
    if sum(r.current.feature_count for r in layers) <= WHOLE_LIMIT:
        # one index per set of layers, shared by every rule reading them (five heritage rules: one copy)
        index_key = (id(store), rules.hash(), tuple((r.id, r.current.version) for r in layers))
        with _lock:
            index = _indexes.get(index_key)
        if index is None:
            index = _index(rules, layers, {r.id: read_box(store, r.current, None) for r in layers}, crs)
            with _lock:
                _indexes[index_key] = index
        target = index.target(rule.id)
    elif rule.select:
        cql = parse_filter(" AND ".join(f'"{a}" IS NOT NULL' for a in rule.select))
        counts = [store.query(r.current, None, {}, 1, 0, cql=cql).number_matched for r in layers]
        if sum(counts) <= SELECTED_LIMIT:
            frames = {r.id: _read_selected(store, r, cql, n, crs) for r, n in zip(layers, counts, strict=True)}
            target = _target(rule, rules, layers, frames, crs)
    with _lock:
        _targets[key] = target
    return target


def _read_selected(store: Store, record: LayerRecord, cql: object, matched: int, crs: object) -> gpd.GeoDataFrame:
    """Every feature meeting ``cql``, as a frame indexed by fid (the store's pages put together)."""
    ids, geoms, props = [], [], []
    for offset in range(0, matched, PAGE):
        page = store.query(record.current, None, {}, PAGE, offset, cql=cql)  # type: ignore[arg-type]
        ids.append(page.ids)
        geoms.append(page.geometries)
        props += page.properties
    fids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
    frame = pd.DataFrame(props, columns=list(record.current.fields))
    frame.index = pd.Index(fids, name="fid")
    return gpd.GeoDataFrame(frame, geometry=np.concatenate(geoms) if geoms else np.empty(0, dtype=object),
                            crs=crs)


def _target(rule: Rule, rules: RuleSet, layers: list[LayerRecord], frames: dict[str, gpd.GeoDataFrame],
            crs: object) -> RuleTarget:
    """The rule's target over ``frames`` (coverage declared empty: only the features matter here)."""
    return _index(rules, layers, frames, crs).target(rule.id)


def _index(rules: RuleSet, layers: list[LayerRecord], frames: dict[str, gpd.GeoDataFrame],
           crs: object) -> ConstraintIndex:
    return ConstraintIndex({r.id: ConstraintLayer(r.id, r.kind, frames[r.id].set_crs(crs, allow_override=True),
                                                  coverage=_EMPTY, version=r.current.version)
                            for r in layers}, rules)


def read_box(store: Store, record: VersionRecord, box: tuple[float, float, float, float] | None) -> gpd.GeoDataFrame:
    """The features of ``record`` meeting ``box`` (all with None), in fid order like a whole read."""
    frame = store.read_frame(record) if box is None else store.read_frame(record, bbox=box)
    if not frame.index.is_monotonic_increasing:  # a spatial-index read comes in index order
        frame = frame.sort_index(kind="stable")
    return frame
