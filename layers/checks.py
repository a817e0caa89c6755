"""Kind checks before publishing: what the analysis needs from each kind, checked on every load.

A layer is refused (``KindCheckFailed``, one message listing every problem) when its geometry type is not the
kind's (unless forced), a required canonical field is missing (never forceable: the analysis would fail), its
features lie outside the region for a region-scoped kind (unless forced), or, for an editor, any feature of a
municipality-scoped kind lies outside the editor's municipalities (never forceable). Everything else that looks
wrong is a warning in the report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import LayerError
from layers.kinds import FIELDS_BY_KIND, LayerKind

POLYGON, LINE, POINT = "polygon", "line", "point"
_FAMILY_NAMES = {POLYGON: "polygons (flater)", LINE: "lines (linjer)", POINT: "points (punkt)"}


class KindCheckFailed(LayerError):
    """The layer does not give its kind what the analysis needs (wrong type, missing field, outside)."""


@dataclass(frozen=True)
class KindNeeds:
    """What a kind must provide: geometry families, canonical fields, and how it relates to the region."""

    geometry: frozenset[str]
    required: tuple[str, ...] = ()
    expected: tuple[str, ...] = ()  # missing: a warning (the rule reports NOT_MAPPED for those features)
    region_scoped: bool = False  # features outside the region are refused (else: warned about)
    municipality_scoped: bool = False  # an editor may only publish features inside their municipalities


ANY = frozenset({POLYGON, LINE, POINT})
NEEDS: dict[LayerKind, KindNeeds] = {
    LayerKind.municipality: KindNeeds(frozenset({POLYGON}), ("kommunenummer",), ("kommunenavn",), True, True),
    LayerKind.zoning: KindNeeds(frozenset({POLYGON}), ("arealformal",), ("planstatus", "kommunenummer"), True, True),
    LayerKind.farmland: KindNeeds(frozenset({POLYGON}), ("arealtype",)),
    LayerKind.flood: KindNeeds(frozenset({POLYGON}), (), ("gjentaksintervall",)),
    LayerKind.watercourse: KindNeeds(frozenset({LINE, POLYGON})),
    LayerKind.heritage: KindNeeds(ANY, (), ("vernetype",)),
    LayerKind.road: KindNeeds(frozenset({LINE}), (), ("vegkategori",)),
    LayerKind.site: KindNeeds(frozenset({POLYGON, POINT}), (), (), True, True),
    LayerKind.premises: KindNeeds(frozenset({POLYGON, POINT}), (), (), True, True),
    LayerKind.power: KindNeeds(ANY),
    LayerKind.broadband: KindNeeds(frozenset({POLYGON, POINT})),
    LayerKind.poi: KindNeeds(ANY),
    LayerKind.transport: KindNeeds(ANY),
    LayerKind.population: KindNeeds(frozenset({POLYGON, POINT})),
    LayerKind.other: KindNeeds(ANY),
}


def needs_of(kind: LayerKind) -> KindNeeds:
    """What ``kind`` needs (any geometry, no field, for a kind without an entry)."""
    return NEEDS.get(kind, KindNeeds(ANY))


@dataclass(frozen=True)
class Region:
    """The region layers are checked against: municipality polygons when published, else a bbox (EPSG:25832)."""

    bbox: tuple[float, float, float, float]
    codes: tuple[str, ...] = ()  # kommunenummer per polygon
    polygons: tuple[shapely.Geometry, ...] = ()

    @property
    def has_municipalities(self) -> bool:
        return bool(self.polygons)

    def shape(self) -> shapely.Geometry:
        return shapely.union_all(self.polygons) if self.polygons else shapely.box(*self.bbox)


@dataclass(frozen=True)
class CheckContext:
    """How strictly to check: the region, the publisher's municipalities (None: unrestricted), force."""

    region: Region
    municipalities: tuple[str, ...] | None = None
    force: bool = False


@dataclass
class CheckResult:
    """What the checks found, for the ingest/upload report."""

    kind: str
    needs: dict[str, Any] = field(default_factory=dict)
    features_outside_region: int = 0
    share_outside_region: float = 0.0
    municipalities: dict[str, int] = field(default_factory=dict)  # kommunenummer -> features
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class GeometryFacts:
    """What the region and scope checks need of each feature's geometry alone, row for row: whether it meets
    the region, and (when the region has municipality polygons) the kommunenummer of the polygon its
    representative point lies in (None outside them)."""

    inside: np.ndarray  # bool
    codes: np.ndarray | None  # object

    def take(self, rows: np.ndarray) -> GeometryFacts:
        return GeometryFacts(self.inside[rows], None if self.codes is None else self.codes[rows])

    @staticmethod
    def joined(parts: list[GeometryFacts]) -> GeometryFacts:
        codes = [p.codes for p in parts]
        return GeometryFacts(np.concatenate([p.inside for p in parts]),
                             None if any(c is None for c in codes) else np.concatenate(codes))  # type: ignore[arg-type]


_PREPARE_FROM = 8  # geometries tested against one municipality polygon before it is worth preparing


class RegionLookup:
    """The region's shape (prepared, built on first use) and its municipality polygons' tree, built once, for
    ``facts`` of any number of geometry blocks. For one thread: GEOS prepared geometries are not to be shared
    (the municipality polygons are prepared here as copies of their own)."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.tree = shapely.STRtree(np.array(region.polygons, dtype=object)) if region.has_municipalities else None
        self.code_of = np.array([*region.codes, None], dtype=object)  # one past the end: no polygon
        self._prepared_polygons: dict[int, shapely.Geometry] = {}

    @cached_property
    def shape(self) -> shapely.Geometry:
        shape = self.region.shape()  # the union of the municipalities: only when ``facts`` needs it
        shapely.prepare(shape)
        return shape

    def _prepared(self, polygon: int) -> shapely.Geometry:
        """Municipality polygon ``polygon``, prepared on first use (a copy of its own: never shared)."""
        found = self._prepared_polygons.get(polygon)
        if found is None:
            found = self._prepared_polygons[polygon] = shapely.from_wkb(shapely.to_wkb(self.region.polygons[polygon]))
            shapely.prepare(found)
        return found

    def facts(self, geoms: np.ndarray) -> GeometryFacts:
        geoms = np.asarray(geoms, dtype=object)
        codes, covered = self._codes(geoms)
        inside = covered.copy()  # covered by a municipality polygon: it meets the region (their union)
        rest = np.flatnonzero(~covered)
        if len(rest):
            inside[rest] = shapely.intersects(self.shape, geoms[rest])
        return GeometryFacts(inside, codes)

    def codes(self, geoms: np.ndarray) -> np.ndarray | None:
        """The kommunenummer of the municipality polygon each geometry's representative point lies in (the
        first it meets; None outside them); None when the region has no municipality polygons."""
        return self._codes(np.asarray(geoms, dtype=object))[0]

    def _codes(self, geoms: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """``codes``, and which geometries lie in the one municipality polygon their envelope meets (their code
        is that polygon's without finding a representative point: point_on_surface is the slow step)."""
        n = len(geoms)
        covered = np.zeros(n, dtype=bool)
        if self.tree is None:
            return None, covered
        polygon_of = np.full(n, len(self.region.codes))
        rows, candidates = self.tree.query(geoms)  # envelopes only
        count = np.bincount(rows, minlength=n)
        only = np.full(n, -1)
        only[rows] = candidates  # the one candidate where there is one
        for polygon in np.unique(only[count == 1]):
            mine = np.flatnonzero((count == 1) & (only == polygon))
            shape = self._prepared(int(polygon)) if len(mine) >= _PREPARE_FROM else self.region.polygons[polygon]
            inside = mine[shapely.covers(shape, geoms[mine])]
            covered[inside] = True
            polygon_of[inside] = polygon
        # the others (near a border, or partly outside): their representative point decides, as ever
        rest = np.flatnonzero((count > 0) & ~covered)
        if len(rest):
            point_idx, poly_idx = self.tree.query(shapely.point_on_surface(geoms[rest]), predicate="intersects")
            hit, first = np.unique(point_idx, return_index=True)  # a point's first match, in the tree's order
            polygon_of[rest[hit]] = poly_idx[first]
        return self.code_of[polygon_of], covered


def check_layer(frame: gpd.GeoDataFrame, kind: LayerKind, field_map: dict[str, str],
                context: CheckContext, facts: GeometryFacts | None = None) -> CheckResult:
    """Check a normalised frame (working CRS, canonical columns added) against what ``kind`` needs.
    ``facts``: its geometries' ``RegionLookup.facts`` when the caller found them already (e.g. while reading)."""
    needs = needs_of(kind)
    result = CheckResult(kind.value)
    if facts is None:
        facts = RegionLookup(context.region).facts(np.asarray(frame.geometry.values, dtype=object))
    _check_geometry(frame, kind, needs, context, result)
    _check_fields(frame, kind, needs, field_map, result)
    _check_region(frame, kind, needs, context, facts, result)
    _check_scope(frame, kind, needs, context, facts, result)
    return result


def require_ok(result: CheckResult, source_name: str) -> None:
    """Raise ``KindCheckFailed`` naming every problem when the checks refused the layer."""
    if result.problems:
        raise KindCheckFailed(f"{source_name}: refused as {result.kind}: " + "; ".join(result.problems))


def _check_geometry(frame: gpd.GeoDataFrame, kind: LayerKind, needs: KindNeeds, context: CheckContext,
                    result: CheckResult) -> None:
    families = _families(np.asarray(frame.geometry.values, dtype=object))
    wrong = {f: n for f, n in families.items() if f not in needs.geometry}
    allowed = " or ".join(_FAMILY_NAMES[f] for f in sorted(needs.geometry))
    result.needs["geometry"] = {"allowed": sorted(needs.geometry), "found": dict(families), "ok": not wrong}
    if not wrong:
        return
    found = ", ".join(f"{n} {_FAMILY_NAMES.get(f, f)}" for f, n in wrong.items())
    message = f"a {kind.value} layer must hold {allowed}, but this one has {found}"
    if context.force:
        result.warnings.append(message + " (published anyway: forced)")
    else:
        result.problems.append(message + "; choose the right --kind (or force it if you are sure)")


_TYPE_FAMILY = {0: POINT, 4: POINT, 1: LINE, 5: LINE, 2: LINE, 3: POLYGON, 6: POLYGON}  # shapely type ids


def _families(geoms: np.ndarray) -> Counter[str]:
    """Geometries per family (missing ones and collections as "collection"), in order of first appearance."""
    ids, first, counts = np.unique(shapely.get_type_id(geoms), return_index=True, return_counts=True)
    families: Counter[str] = Counter()
    for k in np.argsort(first, kind="stable").tolist():
        families[_TYPE_FAMILY.get(int(ids[k]), "collection")] += int(counts[k])
    return families


def _check_fields(frame: gpd.GeoDataFrame, kind: LayerKind, needs: KindNeeds, field_map: dict[str, str],
                  result: CheckResult) -> None:
    canon = {c.name: c for c in FIELDS_BY_KIND.get(kind, ())}
    status: dict[str, Any] = {}
    for name in (*needs.required, *needs.expected):
        column = field_map.get(name)
        filled = int(frame[name].notna().sum()) if name in frame.columns else 0
        status[name] = {"required": name in needs.required, "source": column, "filled": filled,
                        "ok": column is not None and filled > 0}
        if column is not None and filled > 0:
            if filled < len(frame):
                result.warnings.append(f"{len(frame) - filled} of {len(frame)} features have no {name} "
                                       f"(column {column!r})")
            continue
        names = ", ".join(canon[name].aliases) if name in canon else name
        columns = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name) or "none"
        if column is None:
            why = (f"needs the field {name!r}; none of the columns ({columns}) is one of the national names "
                   f"we recognise: {names}")
        else:
            why = f"needs the field {name!r}, but column {column!r} has no usable value in any feature"
        if name in needs.required:
            result.problems.append(f"a {kind.value} layer {why}; rename the column or choose another --kind")
        else:
            result.warnings.append(f"a {kind.value} layer {why}; the rules report NOT_MAPPED where it matters")
    result.needs["fields"] = status


def _check_region(frame: gpd.GeoDataFrame, kind: LayerKind, needs: KindNeeds, context: CheckContext,
                  facts: GeometryFacts, result: CheckResult) -> None:
    outside = int((~facts.inside).sum())
    result.features_outside_region = outside
    result.share_outside_region = round(outside / len(frame), 4) if len(frame) else 0.0
    if outside:
        where = "the municipalities' boundaries" if context.region.has_municipalities else "the region's extent"
        message = (f"{outside} of {len(frame)} features ({result.share_outside_region:.0%}) lie outside "
                   f"{where}; check the CRS (EPSG:25832/25833?) and the extract")
        if needs.region_scoped and not context.force:
            result.problems.append(message + f" (a {kind.value} layer must lie in the region; force it if it "
                                             "should reach beyond)")
        else:
            result.warnings.append(message)


def _check_scope(frame: gpd.GeoDataFrame, kind: LayerKind, needs: KindNeeds, context: CheckContext,
                 facts: GeometryFacts, result: CheckResult) -> None:
    codes = facts.codes if facts.codes is not None else _municipality_field(frame)
    if codes is not None:
        result.municipalities = _counts(codes[pd.notna(codes)])
    if context.municipalities is None or not needs.municipality_scoped:
        return
    allowed = set(context.municipalities)
    mine = ", ".join(sorted(allowed)) or "none"
    if codes is None:
        result.problems.append(
            f"cannot tell which municipality each feature lies in (no municipality layer is published and the "
            f"layer has no kommunenummer); your key/sign-in may publish {kind.value} for {mine} only")
        return
    others = codes[~pd.Series(codes, dtype=object).isin(allowed).to_numpy()]
    foreign = _counts(np.where(pd.isna(others), "outside the region", others))
    if foreign:
        where = ", ".join(f"{c} ({n})" for c, n in foreign.items())
        result.problems.append(f"{sum(foreign.values())} features lie outside your municipalities ({mine}): "
                               f"{where}; only an editor of those municipalities (or an admin) may publish them")


def _counts(codes: np.ndarray) -> dict[str, int]:
    """``{code: features}`` in code order (one pass in C, not a Python loop over every feature)."""
    counts = pd.Series(codes, dtype=object).value_counts(sort=False)
    return {str(code): int(n) for code, n in sorted(counts.items())}


def scope_problems(frame: gpd.GeoDataFrame, kind: LayerKind, context: CheckContext) -> list[str]:
    """Only the municipality-scope check (e.g. for features an editor deletes)."""
    result = CheckResult(kind.value)
    codes = RegionLookup(context.region).codes(np.asarray(frame.geometry.values, dtype=object))
    _check_scope(frame, kind, needs_of(kind), context, GeometryFacts(np.ones(len(frame), dtype=bool), codes), result)
    return result.problems


def _municipality_field(frame: gpd.GeoDataFrame) -> np.ndarray | None:
    """Each feature's kommunenummer field (None where empty), when the region has no municipality polygons
    to place it by (``GeometryFacts.codes``); None without such a field."""
    if "kommunenummer" in frame.columns and frame["kommunenummer"].notna().any():
        codes = frame["kommunenummer"].astype("string")
        return np.where(codes.isna().to_numpy(), None, codes.to_numpy(dtype=object, na_value=None))
    return None


def region_from_store(store: Any, bbox: tuple[float, float, float, float]) -> Region:
    """The region to check against: the polygons of the first published municipality layer (with
    kommunenummer), else ``bbox``. ``store`` is a ``layers.store.Store``."""
    for layer in store.list_layers():
        if layer.kind is not LayerKind.municipality or "kommunenummer" not in layer.current.fields:
            continue
        frame = store.read_frame(layer.current)
        frame = frame[frame["kommunenummer"].notna() & frame.geom_type.isin(["Polygon", "MultiPolygon"])]
        if len(frame):
            polygons = tuple(frame.geometry.values)
            return Region(tuple(float(v) for v in frame.total_bounds),  # type: ignore[arg-type]
                          tuple(str(c) for c in frame["kommunenummer"]), polygons)
    return Region(bbox)
