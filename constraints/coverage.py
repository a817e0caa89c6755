"""Where a constraint layer says it has mapped: its coverage, never its bounding box (DOMAIN.md).

The rule set names a mode per layer kind (``coverage`` in ``default_rules.yaml``):

* ``declared``: only a declared coverage;
* ``wall_to_wall``: the union of the layer's own polygons, every class (AR5 covers all land);
* ``hits_only``: the layer holds only hazard zones; outside them the area is not mapped unless declared;
* ``known_sites``: a register of known sites (Askeladden): everywhere counts as mapped, and "clear" means
  "no known site" (the rule's text says so, with the kulturminneloven § 9 survey duty);
* ``region``: a complete national map (N50/FKB-Vann, NVDB): the area of the municipality layer.

A declared coverage always wins: the ``coverage`` given to :class:`~constraints.inputs.ConstraintLayer`, or the
polygons of layers of kind ``coverage`` whose ``covers`` attribute names the layer id or its kind (e.g. NVE's
analysed river stretches with ``covers = flood``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from constraints._parallel import polygons_as_geometry
from constraints.geometry import repair
from constraints.inputs import ConstraintLayer
from constraints.rules import RuleSet
from layers.kinds import LayerKind

EVERYWHERE = shapely.box(-1e9, -1e9, 1e9, 1e9)  # a register of known sites speaks for everywhere

# how a layer's coverage was found (decides the not-mapped reason)
DECLARED, WALL_TO_WALL, UNDECLARED, KNOWN_SITES, REGION, NO_REGION = (
    "declared", "wall_to_wall", "undeclared", "known_sites", "region", "no-region")


class Coverage:
    """A layer's coverage and how it was found.

    A wall-to-wall coverage keeps the polygons of its union (``parts``); the geometry (a MultiPolygon of up to
    200 000 AR5 fields) is assembled only when asked for. ``valid_rows`` marks the layer's rows whose geometry was
    checked valid while computing it (so rule targets need not check them again); None when none were checked.
    """

    def __init__(self, geometry: BaseGeometry | None, basis: str, parts: np.ndarray | None = None,
                 valid_rows: np.ndarray | None = None) -> None:
        if geometry is None and parts is None:
            raise ValueError("Coverage needs a geometry or its parts")
        self._geometry = geometry
        self.basis = basis  # DECLARED / WALL_TO_WALL / UNDECLARED / KNOWN_SITES / REGION / NO_REGION
        self.parts = parts  # the geometry's polygons, when the union made them (saves splitting it)
        self.valid_rows = valid_rows
        self._lock = threading.Lock()

    @property
    def geometry(self) -> BaseGeometry:
        """The coverage as one geometry (assembled from ``parts`` on first use)."""
        if self._geometry is None:
            with self._lock:
                if self._geometry is None:
                    self._geometry = polygons_as_geometry(self.parts)
        return self._geometry


class CoverageBook:
    """Coverage of every constraint layer, computed once per layer and shared by every rule reading it."""

    def __init__(self, layers: Mapping[str, ConstraintLayer], rules: RuleSet) -> None:
        self.layers = dict(layers)
        self.rules = rules
        self._done: dict[str, Coverage] = {}
        self._region: BaseGeometry | None = None
        self._lock = threading.Lock()
        self._layer_locks: dict[str, threading.Lock] = {}
        self._region_lock = threading.Lock()

    def of(self, layer: ConstraintLayer) -> Coverage:
        """The coverage of ``layer`` (computed once; different layers' coverages may be computed side by side)."""
        with self._lock:
            lock = self._layer_locks.setdefault(layer.id, threading.Lock())
        with lock:
            if layer.id not in self._done:
                self._done[layer.id] = self._compute(layer)
            return self._done[layer.id]

    def basis(self, layer_ids: tuple[str, ...]) -> str | None:
        """The basis shared by these layers' coverages (the first undeclared/no-region one wins), or None."""
        bases = [self.of(self.layers[i]).basis for i in layer_ids if i in self.layers]
        for special in (UNDECLARED, NO_REGION):
            if special in bases:
                return special
        return bases[0] if bases else None

    def _compute(self, layer: ConstraintLayer) -> Coverage:
        declared = self._declared(layer)
        if declared is not None:
            return Coverage(declared, DECLARED)
        mode = self.rules.coverage_mode(layer.kind)
        if mode == "wall_to_wall":
            parts, valid_rows = _union_of_polygons(layer)
            return Coverage(None, WALL_TO_WALL, parts, valid_rows)
        if mode == "known_sites":
            return Coverage(EVERYWHERE, KNOWN_SITES)
        if mode == "region":
            region = self._region_geometry()
            return Coverage(region, REGION) if not region.is_empty else Coverage(region, NO_REGION)
        return Coverage(shapely.Polygon(), UNDECLARED)

    def _declared(self, layer: ConstraintLayer) -> BaseGeometry | None:
        if layer.coverage is not None:
            return layer.coverage
        parts = []
        for other in self.layers.values():
            if other.kind != LayerKind.coverage or "covers" not in other.frame.columns:
                continue
            covers = other.frame["covers"].astype("string").str.strip().str.lower()
            mask = covers.isin([layer.id.lower(), layer.kind.value]).fillna(False).to_numpy(dtype=bool)
            if mask.any():
                parts.append(np.asarray(other.frame.geometry.array, dtype=object)[mask])
        if not parts:
            return None
        geoms, _ = repair(np.concatenate(parts))
        return shapely.union_all(geoms[~shapely.is_missing(geoms)])

    def _region_geometry(self) -> BaseGeometry:
        with self._region_lock:
            return self._region_once()

    def _region_once(self) -> BaseGeometry:
        if self._region is None:
            geoms = [np.asarray(layer.frame.geometry.array, dtype=object) for layer in self.layers.values()
                     if layer.kind == LayerKind.municipality]
            if geoms:
                fixed, _ = repair(np.concatenate(geoms))
                self._region = _union(fixed[~shapely.is_missing(fixed)])
            else:
                self._region = shapely.Polygon()
        return self._region


def _union_of_polygons(layer: ConstraintLayer) -> tuple[np.ndarray, np.ndarray]:
    """The union of every polygon of the layer (all classes), as polygons: what a wall-to-wall map like AR5 covers.

    Also returns which rows of the layer were checked and found valid (True), so they are not checked again.
    """
    geoms = np.asarray(layer.frame.geometry.array, dtype=object)
    valid_rows = np.zeros(len(geoms), dtype=bool)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if keep.any():
        keep &= shapely.get_dimensions(geoms) == 2
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        return np.empty(0, dtype=object), valid_rows
    if layer.valid:  # checked when the version was published
        fixed, bad = geoms[rows], rows[:0]
    else:
        fixed, bad = repair(geoms[rows])
    valid_rows[rows] = True
    valid_rows[rows[bad]] = False
    return _union_parts(fixed), valid_rows


def _union(geoms: np.ndarray) -> BaseGeometry:
    """Union of polygons as one geometry (see :func:`_union_parts`)."""
    return polygons_as_geometry(_union_parts(geoms))


def _union_parts(geoms: np.ndarray) -> np.ndarray:
    """Union of polygons, as the polygons of the result. Polygons that meet no other are parts of the result as
    they are (one STRtree pass finds them: 200 000 separate fields need no overlay at all); the rest are unioned,
    with the fast coverage union when they form a clean coverage (AR5, municipalities)."""
    if len(geoms) == 0:
        return np.empty(0, dtype=object)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    touching = np.zeros(len(geoms), dtype=bool)
    touching[left[left != right]] = True
    if touching.all():
        polygons = shapely.get_parts(_union_touching(geoms))
        return polygons[~shapely.is_empty(polygons)]
    alone = geoms[~touching]
    parts = [alone if (shapely.get_type_id(alone) == 3).all() else shapely.get_parts(alone)]  # 3: Polygon
    if touching.any():
        parts.append(shapely.get_parts(_union_touching(geoms[touching])))
    polygons = np.concatenate(parts)
    return polygons[~shapely.is_empty(polygons)]


def _union_touching(geoms: np.ndarray) -> BaseGeometry:
    """Union of polygons that meet each other: coverage union when they form a clean coverage."""
    try:
        if not bool(shapely.coverage_is_valid(shapely.GeometryCollection(list(geoms)))):
            return shapely.union_all(geoms)
        return shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:
        return shapely.union_all(geoms)
