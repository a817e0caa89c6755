"""The drivable road network as a graph, and shortest paths on it (``scipy.sparse.csgraph``).

Why scipy's csgraph rather than networkx or igraph: the questions here are *many-source, bounded* Dijkstra runs
(one per site, cut at 60 minutes) and *nearest of a set* (any airport, any E-road junction). csgraph runs
them in C over a CSR matrix, with ``limit`` to stop at 60 minutes and ``indices`` for a batch of sources;
networkx does the same in pure Python (two orders of magnitude slower on this network) and igraph has no
distance cut-off. The graph is undirected, one node per distinct line vertex (rounded to
``node_precision_m``), one edge per segment between consecutive vertices, weighted by metres and by seconds at
the speed of its road class. Lines touching at a shared vertex are connected; lines that merely cross (bridges)
are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from sites.config import RoutingConfig
from sites.errors import NoRoadNetwork

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Snap:
    """Points attached to the network: nearest node, straight-line distance, access time and access metres."""

    node: Ints
    distance_m: Floats
    access_s: Floats
    access_m: Floats  # the distance counted along the way (detour factor beyond access_max_m)


@dataclass(frozen=True)
class Nearest:
    """For each queried point: the nearest target by road (fastest route), its index, minutes and km."""

    index: Ints  # index into the targets, -1 when none is reachable
    minutes: Floats
    km: Floats  # shortest route length


@dataclass(frozen=True)
class RoadNetwork:
    """An undirected road graph in the working CRS."""

    xy: Floats  # (n, 2) node coordinates
    seconds: csr_matrix
    metres: csr_matrix
    edges: Ints  # (m, 2) node pairs, each once
    edge_seconds: Floats
    edge_class: NDArray[np.str_]
    main_road: NDArray[np.object_]  # per node: the E/R road it lies on ("E134") or None
    config: RoutingConfig
    tree: cKDTree

    @property
    def node_count(self) -> int:
        return len(self.xy)

    # --- attaching points ------------------------------------------------------------------------------

    def snap(self, x: Floats, y: Floats) -> Snap:
        """Attach points to their nearest node; access by the straight line (beyond ``access_max_m``: detour)."""
        distance, node = self.tree.query(np.column_stack([x, y]))
        cfg = self.config
        near = np.minimum(distance, cfg.access_max_m)
        far = np.maximum(distance - cfg.access_max_m, 0.0) * cfg.outside_detour_factor
        seconds = near / (cfg.access_speed_kmh / 3.6) + far / (cfg.outside_speed_kmh / 3.6)
        return Snap(node.astype(np.int64), distance, seconds, near + far)

    # --- shortest paths --------------------------------------------------------------------------------

    def times_from(self, nodes: Ints, limit_s: float) -> Floats:
        """Seconds from each of ``nodes`` to every node, ``inf`` beyond ``limit_s`` ((k, n) array)."""
        if len(nodes) == 0:
            return np.empty((0, self.node_count))
        return np.atleast_2d(dijkstra(self.seconds, directed=False, indices=nodes, limit=limit_s))

    def _from_set(self, weights: csr_matrix, nodes: Ints, offsets: Floats) -> tuple[Floats, Ints]:
        """Multi-source Dijkstra with a start cost per source (a virtual super-source with directed edges)."""
        n = self.node_count
        order = np.lexsort((offsets, nodes))  # per node keep the cheapest source
        first = np.unique(nodes[order], return_index=True)[1]
        nodes, offsets = nodes[order][first], offsets[order][first]
        coo = weights.tocoo()
        rows = np.concatenate([coo.row, np.full(len(nodes), n)])
        cols = np.concatenate([coo.col, nodes])
        data = np.concatenate([coo.data, np.maximum(offsets, 1e-9)])
        graph = csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
        dist, pred = dijkstra(graph, directed=True, indices=n, return_predecessors=True)
        # The source of each node: follow predecessors up to a node whose predecessor is the super-source.
        up = np.where((pred == n) | (pred < 0), np.arange(n + 1), pred)[:n]
        up = np.append(up, n)
        for _ in range(int(np.ceil(np.log2(n + 2))) + 1):
            up = up[up]
        return dist[:n], up[:n]

    def nearest(self, sites: Snap, targets: Snap) -> Nearest:
        """The fastest-reached target from each site (minutes) and the shortest road distance to any target (km)."""
        if len(targets.node) == 0:
            empty = np.full(len(sites.node), np.nan)
            return Nearest(np.full(len(sites.node), -1), empty, empty.copy())
        seconds, root = self._from_set(self.seconds, targets.node, targets.access_s)
        metres, _ = self._from_set(self.metres, targets.node, targets.access_m)
        # a target whose node is shared keeps the cheapest one; map nodes back to target indices
        best = pd.Series(targets.access_s).groupby(targets.node).idxmin()
        node_to_target = np.full(self.node_count, -1)
        node_to_target[best.index.to_numpy()] = best.to_numpy()
        s = seconds[sites.node] + sites.access_s
        m = metres[sites.node] + sites.access_m
        reached = np.isfinite(s)
        index = np.where(reached, node_to_target[root[sites.node]], -1)
        return Nearest(index, np.where(reached, s / 60.0, np.nan), np.where(np.isfinite(m), m / 1000.0, np.nan))


def build_network(roads: gpd.GeoDataFrame, config: RoutingConfig) -> RoadNetwork:
    """The graph of every drivable line (``vegkategori`` with a speed in ``config``) of ``roads``."""
    if roads.empty or "vegkategori" not in roads.columns:
        raise NoRoadNetwork("no road layer with vegkategori is published; add one with "
                           "`geo-service layers add VEG --kind road`")
    category = roads["vegkategori"].astype("string").str.upper().to_numpy(dtype=object, na_value="")
    speed = np.array([config.speeds_kmh.get(c, 0.0) for c in category])
    drivable = speed > 0
    numbers = roads["vegnummer"] if "vegnummer" in roads.columns else pd.Series(pd.NA, index=roads.index)
    label = np.array([f"{c}{int(n)}" if c and pd.notna(n) else (c or None)
                      for c, n in zip(category, numbers.to_numpy(dtype=object), strict=True)], dtype=object)
    lines, owner = shapely.get_parts(roads.geometry.to_numpy()[drivable], return_index=True)
    owner = np.flatnonzero(drivable)[owner]
    coords, which = shapely.get_coordinates(lines, return_index=True)
    if len(coords) < 2:
        raise NoRoadNetwork("the road layers have no drivable lines (no vegkategori with a configured speed)")
    keys = np.round(coords / config.node_precision_m).astype(np.int64)
    uniq, node = np.unique(keys, axis=0, return_inverse=True)
    node = node.ravel()
    xy = uniq * config.node_precision_m
    same_line = which[1:] == which[:-1]
    a, b = node[:-1][same_line], node[1:][same_line]
    seg_owner = owner[which[:-1][same_line]]
    keep = a != b
    a, b, seg_owner = a[keep], b[keep], seg_owner[keep]
    length = np.hypot(*(xy[a] - xy[b]).T)
    seconds = length / (speed[seg_owner] / 3.6)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((seconds, hi, lo))  # duplicates: keep the fastest
    first = np.unique(np.column_stack([lo, hi])[order], axis=0, return_index=True)[1]
    pick = order[first]
    lo, hi, length, seconds, seg_owner = lo[pick], hi[pick], length[pick], seconds[pick], seg_owner[pick]
    n = len(xy)

    def matrix(values: Floats) -> csr_matrix:
        return csr_matrix((np.concatenate([values, values]), (np.concatenate([lo, hi]), np.concatenate([hi, lo]))),
                          shape=(n, n))

    main = np.isin(category[seg_owner], config.main_road_classes)
    main_road = np.full(n, None, dtype=object)
    main_road[lo[main]] = label[seg_owner[main]]
    main_road[hi[main]] = label[seg_owner[main]]
    return RoadNetwork(xy, matrix(seconds), matrix(length), np.column_stack([lo, hi]), seconds,
                       category[seg_owner].astype(str), main_road, config, cKDTree(xy))
