"""``ConstraintIndex``: the selected features of every rule with a prebuilt STRtree, built once, asked many times."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely import STRtree

from constraints._parallel import PreparedPerThread, run_tasks
from constraints.coverage import CoverageBook
from constraints.geometry import explode, repair
from constraints.inputs import ConstraintLayer, check_crs
from constraints.rules import Rule, RuleSet
from layers.kinds import LayerKind

ANY_VALUE = "*"


@dataclass(frozen=True)
class RuleTarget:
    """The features one rule looks at, flattened over every layer of the rule's kind."""

    rule: Rule
    layer_ids: tuple[str, ...]  # layers of the rule's kind (empty: nothing loaded, so not mapped)
    geoms: np.ndarray  # selected feature geometries (made valid on first use, see ensure_valid_*)
    fids: np.ndarray  # feature id (frame index) of each feature
    layer_of: np.ndarray  # position in layer_ids of each feature
    parts: np.ndarray  # what the tree holds: single polygons / points, lines cut in short chunks
    owner: np.ndarray  # feature position of each part
    part_polygonal: np.ndarray  # bool per part
    part_areas: np.ndarray  # area per part (0 for points and lines)
    tree: STRtree  # over parts
    coverage: PreparedPerThread  # union of the layers' coverages (prepared per thread: shared by requests)
    repaired: set[tuple[str, object]] = field(default_factory=set)  # (layer id, fid) made valid, shared
    # (layer id, field) of the layers of the rule's kind left out because they lack a field the rule selects on
    missing_fields: tuple[tuple[str, str], ...] = ()
    _part_checked: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    _geom_checked: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def has_layer(self) -> bool:
        """Whether any layer of the rule's kind was supplied."""
        return bool(self.layer_ids)

    def __len__(self) -> int:
        return len(self.geoms)

    def missing_reason(self, lang: str = "en") -> str:
        """Why layers of the rule's kind were not used (empty when all were): a missing field means not mapped."""
        if lang == "nb":
            return " ".join(f"Laget {lid} mangler feltet {name}, som regelen velger på; det er ikke brukt."
                            for lid, name in self.missing_fields)
        return " ".join(f"Layer {lid} has no field {name}; the rule selects on it, so the layer is not used."
                        for lid, name in self.missing_fields)

    def ensure_valid_parts(self, idx: np.ndarray) -> None:
        """Make the parts at ``idx`` valid before overlay (checked once each, on first use).

        Validating lazily touches only the features near the zones asked about: a region analysis meets a
        small share of 200 000 AR5 parcels, a site check a handful. The tree's boxes stay correct because
        ``make_valid`` never leaves the original bounds.
        """
        todo = np.unique(idx)
        todo = todo[~self._part_checked[todo]]
        if len(todo) == 0:
            return
        fixed, bad = repair(self.parts[todo])
        with self._lock:
            if len(bad):
                # copy on write: a thread reading the old arrays keeps valid geometries (see _replace)
                parts, areas = self.parts.copy(), self.part_areas.copy()
                parts[todo[bad]] = fixed[bad]
                areas[todo[bad]] = shapely.area(fixed[bad])
                self._replace(parts=parts, part_areas=areas)
                self._note(self.owner[todo[bad]])
            self._part_checked[todo] = True

    def ensure_valid_features(self, idx: np.ndarray) -> None:
        """Make the whole features at ``idx`` valid (used where a feature is buffered whole)."""
        todo = np.unique(idx)
        todo = todo[~self._geom_checked[todo]]
        if len(todo) == 0:
            return
        fixed, bad = repair(self.geoms[todo])
        with self._lock:
            if len(bad):
                geoms = self.geoms.copy()
                geoms[todo[bad]] = fixed[bad]
                self._replace(geoms=geoms)
                self._note(todo[bad])
            self._geom_checked[todo] = True

    def _replace(self, **arrays: np.ndarray) -> None:
        """Swap in repaired arrays instead of writing into the shared ones.

        Other threads (concurrent site checks) may be reading the old arrays with the GIL released; replacing an
        element in place could free a geometry under them. Callers hold ``_lock``.
        """
        for name, value in arrays.items():
            object.__setattr__(self, name, value)

    def _note(self, features: np.ndarray) -> None:
        for f in np.unique(features):
            self.repaired.add((self.layer_ids[self.layer_of[f]], self.fids[f]))


@dataclass(frozen=True)
class Municipalities:
    """Municipality polygons for filling a missing ``kommunenummer`` and naming municipalities."""

    geoms: np.ndarray
    kommunenummer: np.ndarray
    kommunenavn: np.ndarray
    tree: STRtree

    def locate(self, geoms: np.ndarray) -> np.ndarray:
        """kommunenummer of the municipality holding each geometry's representative point (None if outside)."""
        out = np.full(len(geoms), None, dtype=object)
        if len(geoms) == 0 or len(self.geoms) == 0:
            return out
        points = shapely.point_on_surface(geoms)
        qi, mi = self.tree.query(points, predicate="within")
        first = np.unique(qi, return_index=True)[1]
        out[qi[first]] = self.kommunenummer[mi[first]]
        return out

    def names(self) -> dict[str, str]:
        """kommunenummer -> kommunenavn."""
        return {str(k): str(n) for k, n in zip(self.kommunenummer, self.kommunenavn, strict=True) if k and n}


class ConstraintIndex:
    """Selected constraint features per rule with STRtrees, coverage and municipality lookup.

    Build it once per set of layer versions and rule set; :func:`constraints.site.check_site` and
    :func:`constraints.overlay.analyse_zones` reuse it, so a site check costs a few tree queries.
    """

    def __init__(self, constraints: Mapping[str, ConstraintLayer], rules: RuleSet) -> None:
        self.crs: CRS = check_crs(None, constraints) if constraints else CRS.from_epsg(25832)
        self.rules = rules
        self.layers: dict[str, ConstraintLayer] = dict(constraints)
        self._repaired: set[tuple[str, object]] = set()
        self._usable_rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.coverage = CoverageBook(self.layers, rules)  # where each layer says it has mapped (never its bbox)
        self._usable_lock = threading.Lock()
        active = list(rules.active_rules)  # built side by side: AR5's coverage while the others' trees are built
        self.targets: dict[str, RuleTarget] = dict(zip((r.id for r in active), run_tasks(self._target, active),
                                                       strict=True))
        self.municipalities = self._municipalities()

    # ------------------------------------------------------------------------------------------ public

    def target(self, rule_id: str) -> RuleTarget:
        """The prebuilt target of an active rule."""
        return self.targets[rule_id]

    def provenance(self) -> dict[str, object]:
        """Input layer versions and the rule-set hash: what a derived layer was computed from."""
        return {
            "rules_hash": self.rules.hash(),
            "rules_version": f"{self.rules.name} {self.rules.version}",
            "inputs": {lid: {"kind": layer.kind.value, "version": layer.version}
                       for lid, layer in sorted(self.layers.items())},
            "repaired_geometries": self.repaired_counts(),
        }

    def repaired_counts(self) -> dict[str, int]:
        """Invalid features met so far and made valid, per layer (validation is lazy, see RuleTarget)."""
        out: dict[str, int] = {}
        for layer_id, _ in self._repaired:
            out[layer_id] = out.get(layer_id, 0) + 1
        return out

    def repaired_features(self) -> frozenset[tuple[str, object]]:
        """The (layer id, fid) of every invalid feature met so far and made valid (partitions add theirs up)."""
        return frozenset(self._repaired)

    def layers_of(self, kind: LayerKind) -> list[ConstraintLayer]:
        """Supplied layers of one kind, in insertion order."""
        return [layer for layer in self.layers.values() if layer.kind == kind]

    # ---------------------------------------------------------------------------------------- building

    def _usable(self, layer: ConstraintLayer) -> tuple[np.ndarray, np.ndarray]:
        """(geometries, mask of rows with a non-empty geometry) for a layer, computed once per layer."""
        with self._usable_lock:
            if layer.id not in self._usable_rows:
                geoms = np.asarray(layer.frame.geometry.array, dtype=object)
                usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
                self._usable_rows[layer.id] = (geoms, usable)
            return self._usable_rows[layer.id]

    def _target(self, rule: Rule) -> RuleTarget:
        layers, missing = [], []
        for layer in self.layers.values():
            if layer.kind != rule.kind or (rule.layer_ids is not None and layer.id not in rule.layer_ids):
                continue
            lacking = _missing_field(layer, rule)
            if lacking is None:
                layers.append(layer)
            else:  # the rule cannot tell its features apart: the layer does not map this rule (NOT_MAPPED)
                missing.append((layer.id, lacking))
        geoms_parts, fid_parts, layer_parts, coverages, checked_parts = [], [], [], [], []
        for pos, layer in enumerate(layers):
            geoms, usable = self._usable(layer)
            mask = usable & _select(layer, rule)
            geoms_parts.append(geoms[mask])
            fid_parts.append(np.asarray(layer.frame.index.to_numpy())[mask])
            layer_parts.append(np.full(int(mask.sum()), pos, dtype=np.int32))
            coverage_of_layer = self.coverage.of(layer)
            coverages.append(coverage_of_layer)
            valid = coverage_of_layer.valid_rows  # rows the coverage already checked valid (AR5: all of them)
            checked_parts.append(np.ones(int(mask.sum()), dtype=bool) if layer.valid else valid[mask]
                                 if valid is not None else np.zeros(int(mask.sum()), dtype=bool))
        geoms = np.concatenate(geoms_parts) if geoms_parts else np.empty(0, dtype=object)
        fids = np.concatenate(fid_parts) if fid_parts else np.empty(0, dtype=np.int64)
        layer_of = np.concatenate(layer_parts) if layer_parts else np.empty(0, dtype=np.int32)
        geom_checked = np.concatenate(checked_parts) if checked_parts else np.empty(0, dtype=bool)
        if len(coverages) == 1:  # one layer: its coverage as it is (a wall-to-wall union stays in parts)
            only = coverages[0]
            coverage = PreparedPerThread(None if only.parts is not None else only.geometry, only.parts)
        else:
            coverage = PreparedPerThread(shapely.union_all([c.geometry for c in coverages]) if coverages
                                         else shapely.Polygon())
        parts, owner = explode(geoms)
        return RuleTarget(
            rule=rule,
            layer_ids=tuple(layer.id for layer in layers),
            geoms=geoms,
            fids=fids,
            layer_of=layer_of,
            parts=parts,
            owner=owner,
            part_polygonal=shapely.get_dimensions(parts) == 2 if len(parts) else np.empty(0, dtype=bool),
            part_areas=shapely.area(parts) if len(parts) else np.empty(0),
            tree=STRtree(parts),
            coverage=coverage,
            repaired=self._repaired,
            missing_fields=tuple(missing),
            _part_checked=geom_checked[owner],  # parts of a valid feature are valid
            _geom_checked=geom_checked,
        )

    def _municipalities(self) -> Municipalities | None:
        layers = self.layers_of(LayerKind.municipality)
        if not layers:
            return None
        layer = layers[0]
        frame = layer.frame
        geoms, usable = self._usable(layer)
        geoms, _ = repair(geoms)
        knr = frame["kommunenummer"].astype("string").to_numpy(dtype=object, na_value=None) if (
            "kommunenummer" in frame.columns) else np.full(len(frame), None, dtype=object)
        names = frame["kommunenavn"].astype("string").to_numpy(dtype=object, na_value=None) if (
            "kommunenavn" in frame.columns) else np.full(len(frame), None, dtype=object)
        return Municipalities(geoms[usable], knr[usable], names[usable], STRtree(geoms[usable]))


def _missing_field(layer: ConstraintLayer, rule: Rule) -> str | None:
    """The first field the rule selects on that the layer lacks, or None.

    ``"*"`` ("has a value") counts too: a layer without the attribute at all (N1000 rivers have no
    ``verneplan``) cannot say which features are protected, so the rule is NOT_MAPPED there, never GREEN.
    A layer that has the column with no values says "none of these" and is mapped.
    """
    for attr in rule.select:
        if attr not in layer.frame.columns:
            return attr
    return None


def _select(layer: ConstraintLayer, rule: Rule) -> np.ndarray:
    """Rows of ``layer`` that the rule's ``select`` allows (all rows when it selects nothing).

    Values compare as numbers on numeric columns, else as upper-case text; ``"*"`` means any non-empty value.
    Layers lacking a selected field are left out before (see :func:`_missing_field`).
    """
    frame = layer.frame
    mask = np.ones(len(frame), dtype=bool)
    for attr, allowed in rule.select.items():
        if attr not in frame.columns:  # left out before (``_missing_field``); nothing to select
            return np.zeros(len(frame), dtype=bool)
        col = frame[attr]
        if ANY_VALUE in allowed:
            text = col.astype("string").str.strip()
            mask &= (col.notna() & text.notna() & (text != "")).to_numpy(dtype=bool)
            continue
        if pd.api.types.is_numeric_dtype(col):
            values = pd.to_numeric(pd.Series(list(allowed), dtype=object), errors="coerce").dropna()
            mask &= col.isin(values.to_numpy()).to_numpy(dtype=bool)
        else:
            text = col.astype("string").str.strip().str.upper()
            mask &= text.isin([str(v).strip().upper() for v in allowed]).fillna(False).to_numpy(dtype=bool)
    return mask
