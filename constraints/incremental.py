"""Incremental derived refresh: recompute only the zones an input change can affect, reuse the rest.

The previous ``objection-risk`` and ``business-areas`` versions say which input versions and rule set they were
computed from (provenance). Against the current inputs that tells what changed:

* a new version of a **constraint layer** (a kind some active rule reads): its changed features (added, removed,
  or with another geometry, attribute or feature id) are found by feature id; the zones within the largest
  distance a rule reading the layer uses (municipality overrides included) of a changed feature's old or new
  geometry are recomputed; so are zones whose published finding for such a rule records a longer distance (a
  not-mapped zone names its nearest feature, wherever it is);
* a new version of a **zoning layer**: zones are matched by content (geometry and attributes) between the old and
  new zoning; new or changed zones are recomputed, and the business zones they overlap (a reserve's regulated
  part comes from the in-force reguleringsplan zones over it). Unchanged zones keep their results under their new
  zone ids. Publishing one municipality's plans therefore recomputes (at most) that municipality;
* a layer of a kind **no rule reads**: nothing is recomputed; the previous results are published again with the
  new input versions as provenance, so nothing reads as behind.

Everything the engine computes per zone depends only on that zone, the constraint features within those
distances and, for business areas, the in-force reguleringsplan zones over it (``business._covered_by``); the
land reserve is summed from business areas on reading. So splicing recomputed zones into the previous results
gives what a full recompute gives (tested on random edits, ``tests/constraints/test_incremental.py``).

A rules change, missing or foreign previous results, an added or removed input layer of a kind the analysis
reads, a municipality or coverage layer change, a changed column set, or more than :data:`MAX_SHARE` of the
zones affected: a full recompute (the reason is recorded in the provenance, ``engine.full_reason``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from constraints.business import business_areas
from constraints.feature_match import NeedsFull, changed_features, match_zones, remap_hit_ids, version_record
from constraints.formal import in_force_regulation, in_group
from constraints.index import ConstraintIndex, _missing_field, _select
from constraints.inputs import ConstraintLayer
from constraints.overlay import analyse_zones, objection_risk, zone_geometries
from constraints.publish import (
    BUSINESS_AREAS,
    OBJECTION_RISK,
    Inputs,
    _storable,
    _with_findings,
    publish_derived,
    zoning_frame,
)
from constraints.rules import Rule, RuleSet
from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.store import LayerRecord, Store, VersionRecord

MAX_SHARE = 0.5  # more zones affected than this share: a full recompute is as fast and simpler
MARGIN_M = 1.0  # added to every reach: a zone at exactly the distance is recomputed, never missed
NEAR_M = 2_000.0  # constraint features read around recomputed zones (at least; see near_distance)
ALWAYS_FULL_KINDS = (LayerKind.municipality, LayerKind.coverage)  # read everywhere (names, coverage, region)


@dataclass
class Outcome:
    """What :func:`refresh_incremental` did: the versions published, or why a full recompute is needed."""

    published: list[VersionRecord] | None
    full_reason: str = ""
    engine: dict[str, Any] = field(default_factory=dict)


def refresh_incremental(store: Store, rules: RuleSet, inputs: Inputs) -> Outcome:
    """Publish the derived collections for ``inputs``, recomputing only the zones the changes can affect.

    The caller holds the derived-layers lock. Returns ``Outcome(None, reason)`` when only a full recompute is
    exact (nothing published then).
    """
    try:
        return _refresh(store, rules, inputs)
    except NeedsFull as reason:
        return Outcome(None, str(reason))


def _refresh(store: Store, rules: RuleSet, inputs: Inputs) -> Outcome:
    previous = _previous(store, rules)
    old_versions: dict[str, int] = previous.inputs
    records = {r.id: r for r in inputs.zoning + inputs.constraints}
    new_versions = inputs.versions()
    changed = sorted(k for k in new_versions if k in old_versions and old_versions[k] != new_versions[k])
    added = sorted(set(new_versions) - set(old_versions))
    removed = sorted(set(old_versions) - set(new_versions))
    if removed:
        raise NeedsFull(f"input layer(s) removed: {', '.join(removed)}")
    for layer_id in added:
        if _reads(rules, records[layer_id]):
            raise NeedsFull(f"input layer {layer_id} added (kind {records[layer_id].kind.value})")
    zoning_changed = [k for k in changed if records[k].kind == LayerKind.zoning]
    constraint_changed = [k for k in changed if records[k].kind != LayerKind.zoning and _reads(rules, records[k])]
    for layer_id in constraint_changed:
        if records[layer_id].kind in ALWAYS_FULL_KINDS:
            raise NeedsFull(f"{records[layer_id].kind.value} layer {layer_id} changed")
    unread = sorted(set(added) | {k for k in changed if k not in zoning_changed and k not in constraint_changed})
    if not zoning_changed and not constraint_changed:
        engine = {**previous.engine, "mode": "unchanged", "recomputed_zones": 0, "unread_layers": unread,
                  "inputs": _engine_inputs(previous.engine, inputs)}
        risk, business = _typed(previous.risk, previous.risk_fields), _typed(previous.business,
                                                                            previous.business_fields)
        return Outcome(publish_derived(store, rules, inputs, risk, business, engine), engine=engine)

    zoning = zoning_frame(store, inputs)
    zones = zone_geometries(zoning)
    new_ids = zoning.index.to_numpy()
    if zoning_changed:
        old_zoning = _old_zoning(store, inputs, old_versions)
        if not np.array_equal(previous.risk["zone_id"].to_numpy(), old_zoning.index.to_numpy()):
            raise NeedsFull("the previous results do not list the zones of the previous zoning")
        matched_old, recompute = match_zones(old_zoning, zoning)
        old_geoms = zone_geometries(old_zoning)[np.setdiff1d(np.arange(len(old_zoning)),
                                                             matched_old[matched_old >= 0])]
        _add_overlapped_business(recompute, zoning, zones, np.concatenate([zones[recompute], old_geoms]), rules)
    else:
        matched_old = np.arange(len(zoning))
        recompute = np.zeros(len(zoning), dtype=bool)
        if not np.array_equal(previous.risk["zone_id"].to_numpy(), new_ids):
            raise NeedsFull("the previous results do not list the current zones")
    old_ids = previous.risk["zone_id"].to_numpy()
    matched_old_ids = np.where(matched_old >= 0, old_ids[np.maximum(matched_old, 0)] if len(old_ids) else -1, -1)

    constraints = _LazyLayers(store, inputs)
    changes: dict[str, dict[str, int]] = {}
    if constraint_changed:
        reach = _published_reach(previous.risk)
        for layer_id in constraint_changed:
            geoms, counts, fid_map = changed_features(store, records[layer_id], old_versions[layer_id],
                                                       constraints.get(layer_id))
            changes[layer_id] = counts
            reading = _rules_reading(rules, records[layer_id])
            if fid_map and any(len(_layers_read(r, inputs)) > 1 for r in reading):
                raise NeedsFull(f"{layer_id} was renumbered and its rules read other layers too")
            previous = replace(previous, risk=remap_hit_ids(previous.risk, reading, fid_map))
            _add_near(recompute, zones, geoms, reading, reach, matched_old_ids)
    n = len(zoning)
    count = int(recompute.sum())
    if n and count > MAX_SHARE * n:
        raise NeedsFull(f"{count} of {n} zones affected (more than {MAX_SHARE:.0%})")

    positions = np.flatnonzero(recompute)
    if len(positions):
        layers = constraints.all()
        near = _near(layers, zones[positions], rules)  # the features that can matter to these zones only
        index = ConstraintIndex(near, rules)
        findings, fresh_risk, fresh_business = _recompute(zoning, zones, positions, near, rules, index)
        whole = _beyond_reach(findings, layers, rules)
        if whole:  # a published distance reaches past the features read: those layers whole, the rest near
            near = {k: layers[k] if k in whole else v for k, v in near.items()}
            index = ConstraintIndex(near, rules)
            findings, fresh_risk, fresh_business = _recompute(zoning, zones, positions, near, rules, index)
        provenance = {**index.provenance(), "index_whole_layers": sorted(whole)}
    else:  # nothing within reach of the changes: no index to build
        fresh_risk, fresh_business = previous.risk.iloc[:0], previous.business.iloc[:0]
        provenance = {**previous.engine, "inputs": _engine_inputs(previous.engine, inputs)}
    risk = _splice(previous.risk, fresh_risk, matched_old, recompute, new_ids, previous.risk_fields)
    business = _splice(previous.business, fresh_business, matched_old, recompute, new_ids, previous.business_fields,
                       by_zone=previous.risk["zone_id"].to_numpy())
    municipalities = sorted({str(k) for k in fresh_risk["kommunenummer"] if isinstance(k, str) and k})
    engine = {**provenance, "mode": "incremental", "recomputed_zones": count, "zones": n,
              "recomputed_municipalities": municipalities, "changed_layers": changes,
              "zoning_changed": zoning_changed, "unread_layers": unread,
              "base": {OBJECTION_RISK: previous.risk_version, BUSINESS_AREAS: previous.business_version}}
    return Outcome(publish_derived(store, rules, inputs, risk, business, engine), engine=engine)


class _LazyLayers:
    """The current constraint layers, each read when first asked for (all of them only if zones are recomputed)."""

    def __init__(self, store: Store, inputs: Inputs) -> None:
        self.store, self.inputs = store, inputs
        self._read: dict[str, ConstraintLayer] = {}

    def get(self, layer_id: str) -> ConstraintLayer:
        if layer_id not in self._read:
            record = next(r for r in self.inputs.constraints if r.id == layer_id)
            self._read[layer_id] = ConstraintLayer(record.id, record.kind, self.store.read_frame(record.current),
                                                   version=record.current.version)
        return self._read[layer_id]

    def all(self) -> dict[str, ConstraintLayer]:
        return {r.id: self.get(r.id) for r in self.inputs.constraints}


# ------------------------------------------------------------------------------------------ previous results


@dataclass(frozen=True)
class _Previous:
    risk: gpd.GeoDataFrame
    business: gpd.GeoDataFrame
    risk_fields: dict[str, str]
    business_fields: dict[str, str]
    inputs: dict[str, int]
    engine: dict[str, Any]
    risk_version: int
    business_version: int


def _previous(store: Store, rules: RuleSet) -> _Previous:
    """The current derived versions, if both were computed together, with these rules."""
    try:
        risk, business = store.get_layer(OBJECTION_RISK).current, store.get_layer(BUSINESS_AREAS).current
    except LayerNotFound:
        raise NeedsFull("no previous results") from None
    prov, other = risk.provenance, business.provenance
    if not prov.get("derived") or not isinstance(prov.get("inputs"), dict):
        raise NeedsFull("the previous results carry no input versions")
    if prov.get("inputs") != other.get("inputs") or prov.get("rules_hash") != other.get("rules_hash"):
        raise NeedsFull("objection-risk and business-areas were computed from different inputs")
    if prov.get("rules_hash") != rules.hash():
        raise NeedsFull("the rules changed")
    if "zone_id" not in risk.fields or "findings" not in risk.fields or "zone_id" not in business.fields:
        raise NeedsFull("the previous results have another layout")
    return _Previous(store.read_frame(risk), store.read_frame(business), dict(risk.fields), dict(business.fields),
                     {str(k): int(v) for k, v in prov["inputs"].items()}, dict(prov.get("engine") or {}),
                     risk.version, business.version)


def _engine_inputs(engine: dict[str, Any], inputs: Inputs) -> dict[str, Any]:
    out = dict(engine.get("inputs") or {})
    for record in inputs.constraints:
        out[record.id] = {"kind": record.kind.value, "version": record.current.version}
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------------------------- which rules read


def _rules_reading(rules: RuleSet, record: LayerRecord) -> list[Rule]:
    return [r for r in rules.active_rules
            if r.kind == record.kind and (r.layer_ids is None or record.id in r.layer_ids)]


def _layers_read(rule: Rule, inputs: Inputs) -> list[str]:
    return [r.id for r in inputs.constraints
            if r.kind == rule.kind and (rule.layer_ids is None or r.id in rule.layer_ids)]


def _reads(rules: RuleSet, record: LayerRecord) -> bool:
    """Whether the analysis reads this layer at all (a rule of its kind, or a kind read everywhere)."""
    return record.kind == LayerKind.zoning or record.kind in ALWAYS_FULL_KINDS or bool(_rules_reading(rules, record))


def rule_reach(rule: Rule) -> float:
    """The farthest a feature can be from a zone and still change the rule's finding (hit or near band)."""
    reach = [rule.distances_for(None)[:2]] + [rule.distances_for(k)[:2] for k in rule.municipality_overrides]
    return float(max(max(z, p) for z, p in reach))


# ------------------------------------------------------------------------------------------ constraint diff


def _published_reach(risk: pd.DataFrame) -> dict[str, dict[Any, float]]:
    """rule id -> {zone id: the longest distance its published findings record} (inf: unknown distance)."""
    out: dict[str, dict[Any, float]] = defaultdict(dict)
    for zone_id, text in zip(risk["zone_id"].to_numpy(), risk["findings"].to_numpy(), strict=True):
        for finding in json.loads(text) if isinstance(text, str) and text else []:
            d = finding.get("distance_m")
            dist = float("inf") if d is None else float(d)
            rule_id = str(finding.get("rule_id"))
            out[rule_id][zone_id] = max(out[rule_id].get(zone_id, 0.0), dist)
    return out


def _add_near(recompute: np.ndarray, zones: np.ndarray, changed: np.ndarray, rules: list[Rule],
              reach: dict[str, dict[Any, float]], old_ids: np.ndarray) -> None:
    """Mark the zones a changed feature can affect: within the rules' reach, or the distance a published
    finding of theirs records (a zone's nearest feature may be the changed one)."""
    if len(changed) == 0 or not rules:
        return
    tree = STRtree(changed)
    distance = max(rule_reach(r) for r in rules) + MARGIN_M
    zi, _ = tree.query(zones, predicate="dwithin", distance=distance)
    recompute[zi] = True
    further = np.zeros(len(zones))
    for rule in rules:
        known = reach.get(rule.id, {})
        if known:
            further = np.maximum(further, np.array([known.get(z, 0.0) if z >= 0 else 0.0 for z in old_ids]))
    far = np.flatnonzero((further + MARGIN_M > distance) & ~recompute)
    if len(far):
        (qi, _), nearest = tree.query_nearest(zones[far], return_distance=True, all_matches=False)
        best = np.full(len(far), np.inf)
        np.minimum.at(best, qi, nearest)
        recompute[far[best <= further[far] + MARGIN_M]] = True


# ------------------------------------------------------------------------------------------------ zoning diff


def _old_zoning(store: Store, inputs: Inputs, old_versions: dict[str, int]) -> gpd.GeoDataFrame:
    """The zoning frame as the previous results saw it (the same layers at their old versions)."""
    records = []
    for record in inputs.zoning:
        version = version_record(store, record.id, old_versions[record.id])
        records.append(LayerRecord(record.id, record.kind, record.title, record.description, record.attribution,
                                   version))
    return zoning_frame(store, Inputs(records, []))


def _add_overlapped_business(recompute: np.ndarray, zoning: gpd.GeoDataFrame, zones: np.ndarray,
                             changed: np.ndarray, rules: RuleSet) -> None:
    """Business zones overlapping a changed zone (old or new): their regulated part may have changed."""
    if len(changed) == 0:
        return
    biz = _business(zoning, rules)
    zi, ci = STRtree(changed).query(zones, predicate="intersects")
    inner = shapely.relate_pattern(zones[zi], changed[ci], "T********")  # interiors meet: not a shared edge
    hit = np.zeros(len(zones), dtype=bool)
    hit[zi[inner]] = True
    recompute |= hit & biz


def _business(zoning: gpd.GeoDataFrame, rules: RuleSet) -> np.ndarray:
    mask = np.zeros(len(zoning), dtype=bool)
    for group in rules.business.formal_groups:
        mask |= in_group(zoning, rules.formal_groups[group])
    return mask


# ------------------------------------------------------------------------------------------ recompute, splice


def _recompute(zoning: gpd.GeoDataFrame, zones: np.ndarray, positions: np.ndarray,
               constraints: dict[str, ConstraintLayer], rules: RuleSet,
               index: ConstraintIndex) -> tuple[pd.DataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Findings, and objection risk (with findings) and business areas as published, of the zones at ``positions``.

    Business areas also see the in-force reguleringsplan zones over those zones (a reserve's regulated part).
    """
    subset = zoning.iloc[positions]
    findings = analyse_zones(subset, constraints, rules, index=index)
    risk = objection_risk(subset, findings, rules)
    context = positions
    biz = _business(subset, rules)
    rp = np.flatnonzero(in_force_regulation(zoning, rules))
    if biz.any() and len(rp):
        _, ri = STRtree(zones[rp]).query(zones[positions[biz]], predicate="intersects")
        context = np.union1d(positions, rp[np.unique(ri)])
    business = business_areas(zoning.iloc[context], findings, rules, index)
    business = business[business["zone_id"].isin(subset.index)]
    return findings, _storable(_with_findings(risk, findings)), _storable(business)


def near_distance(rules: RuleSet) -> float:
    """How far around the recomputed zones constraint features are read: well past every rule's reach, so the
    nearest-feature distance a NOT_MAPPED finding publishes is found among them (checked, else all are read)."""
    return max(NEAR_M, 4 * max((rule_reach(r) for r in rules.active_rules), default=0.0))


def _near(layers: dict[str, ConstraintLayer], zones: np.ndarray, rules: RuleSet) -> dict[str, ConstraintLayer]:
    """Each constraint layer cut to the features within :func:`near_distance` of ``zones`` (municipality and
    coverage layers whole: they are read everywhere). Feature ids and order are kept."""
    reach = near_distance(rules)
    out: dict[str, ConstraintLayer] = {}
    for layer_id, layer in layers.items():
        frame = layer.frame
        if layer.kind in ALWAYS_FULL_KINDS or len(frame) == 0:
            out[layer_id] = layer
            continue
        geoms = np.asarray(frame.geometry.array, dtype=object)
        usable = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
        _, fi = STRtree(geoms[usable]).query(zones, predicate="dwithin", distance=reach)
        keep = np.zeros(len(frame), dtype=bool)
        keep[usable[fi]] = True
        out[layer_id] = replace(layer, frame=frame[keep])
    return out


def _beyond_reach(findings: pd.DataFrame, layers: dict[str, ConstraintLayer], rules: RuleSet) -> set[str]:
    """The layers whose near features may not answer a published finding exactly: its distance is past the near
    distance, or unknown while the layer holds a feature the rule selects (then read the layer whole)."""
    if len(findings) == 0:
        return set()
    published = ((findings["risk"] != "GREEN") | (findings["outcome"] == "exempt")).to_numpy()
    distance = pd.to_numeric(findings["distance_m"], errors="coerce").to_numpy(dtype=float)
    far = published & (distance > near_distance(rules) - MARGIN_M)
    unknown = published & np.isnan(distance)
    out: set[str] = set()
    rule_ids = findings["rule_id"].to_numpy()
    for rule_id in pd.unique(rule_ids[far | unknown]):
        rule = rules.rule(str(rule_id))
        for layer in layers.values():
            if layer.kind != rule.kind or (rule.layer_ids is not None and layer.id not in rule.layer_ids):
                continue
            if (far & (rule_ids == rule_id)).any() or (
                    _missing_field(layer, rule) is None and _select(layer, rule).any()):
                out.add(layer.id)
    return out


def _splice(previous: gpd.GeoDataFrame, fresh: gpd.GeoDataFrame, matched_old: np.ndarray, recompute: np.ndarray,
            new_ids: np.ndarray, fields: dict[str, str], by_zone: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """The previous rows of the zones kept (under their new zone ids) with the fresh rows, in zone-id order."""
    old_zone_ids = previous["zone_id"].to_numpy() if by_zone is None else by_zone
    keep = np.flatnonzero(~recompute)
    renamed = pd.Series(new_ids[keep], index=old_zone_ids[matched_old[keep]]) if len(keep) else pd.Series(
        dtype=object)
    kept = previous[previous["zone_id"].isin(renamed.index)].copy()
    kept["zone_id"] = renamed.reindex(kept["zone_id"].to_numpy()).to_numpy()
    kept = _typed(kept, fields)
    fresh = _typed(fresh, fields) if len(fresh) else fresh
    parts = [p for p in (kept, fresh) if len(p)]
    if not parts:
        return _typed(previous.iloc[:0].copy(), fields)
    joined = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    joined = joined.sort_values("zone_id", kind="stable").reset_index(drop=True)
    columns = [c for c in previous.columns] if len(previous.columns) else list(joined.columns)
    out = gpd.GeoDataFrame(joined[columns], geometry=previous.geometry.name, crs=previous.crs or fresh.crs)
    return _typed(out, fields)


_DTYPES = {"int": "Int64", "float": "float64", "bool": "boolean", "str": "object"}


def _typed(frame: gpd.GeoDataFrame, fields: dict[str, str]) -> gpd.GeoDataFrame:
    """Columns in the types the previous version declared (a store reads integers with nulls as floats)."""
    out = frame.copy()
    for name, kind in fields.items():
        if name in out.columns and kind in _DTYPES:
            if kind == "str":
                values = out[name].astype(object)
                out[name] = values.where(values.notna(), None)
            elif kind == "bool":
                if out[name].isna().any():
                    out[name] = out[name].astype("boolean")
                else:
                    out[name] = out[name].astype(bool)
            else:
                out[name] = out[name].astype(_DTYPES[kind])
    return out
