"""Overlay zoning with constraint layers: findings per (zone, rule) and the objection risk per zone."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from constraints._parallel import run_tasks
from constraints.findings import FINDING_COLUMNS, M2_PER_DAA, empty_findings, rule_findings, working_copy
from constraints.formal import (
    applies,
    column,
    in_force_regulation,
    in_group,
    kp_reserve,
    numeric,
    plan_building_line,
    plan_types,
    settled_within,
)
from constraints.geometry import repair
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer, check_crs
from constraints.measure import RuleMeasure, measure
from constraints.risk import RANK_ORDER, Risk, classify, rank_of
from constraints.rules import Rule, RuleSet
from constraints.texts import text_keys

BUILDING_GROUP = "building"

RISK_COLUMNS: tuple[str, ...] = (
    "zone_id", "planid", "plantype", "planstatus", "arealformal", "arealbruksstatus", "kommunenummer",
    "building",  # bool: arealformål allows new building, so the building rules apply
    "area_m2", "area_daa",
    "objection_risk",  # worst finding: RED > YELLOW > NOT_MAPPED > GREEN
    "red_rules", "yellow_rules", "not_mapped_rules",  # list[str] of rule ids
    "internal_rules",  # list[str]: the municipality's own considerations (level internal), never objections
    "authorities",  # list[str]: who is likely to object (RED and YELLOW findings)
    "summary",  # one line in plain words
    "geometry",
)


def analyse_zones(zoning: gpd.GeoDataFrame, constraints: Mapping[str, ConstraintLayer], rules: RuleSet, *,
                  index: ConstraintIndex | None = None, published_only: bool = False) -> pd.DataFrame:
    """Findings for every zoning area and every rule that applies to it.

    Parameters
    ----------
    zoning
        Zoning polygons in the working CRS with the canonical columns ``arealformal``, ``plantype``,
        ``planstatus``, ``arealbruksstatus``, ``kommunenummer``; the index is the zone id.
    constraints
        Constraint layers by layer id (see :class:`~constraints.inputs.ConstraintLayer`).
    rules
        The effective rule set (:func:`~constraints.rules.load_rules`).
    index
        A prebuilt :class:`~constraints.index.ConstraintIndex` for ``constraints`` and ``rules`` (optional).
    published_only
        Measure only what the published findings show: a zone the layer covers whole, with no hit and nothing
        within the proximity band, is GREEN ``clear`` and not published, so its ``distance_m`` is left NaN
        instead of searching for the nearest feature however far away it is.

    Returns
    -------
    pandas.DataFrame
        One row per (zone, applicable rule) with the columns in
        :data:`~constraints.findings.FINDING_COLUMNS`; ``attrs["provenance"]`` holds the input layer
        versions and the rule-set hash. Zones whose formål is not a building formål get no rows for
        building rules (their objection risk is GREEN, "rule does not apply"). A layer lacking a field a rule
        selects on is not used by that rule (NOT_MAPPED where no other layer maps it; the note says why).

    Raises
    ------
    CRSMismatchError, MissingCRSError, NonMetricCRSError
        If the inputs are not all in the same metric CRS (checked before any work).
    """
    check_crs(zoning, constraints)
    index = index if index is not None else ConstraintIndex(constraints, rules)
    zones = zone_geometries(zoning)
    area = shapely.area(zones)
    knr = zone_municipalities(zoning, zones, index)
    in_force = in_force_regulation(zoning, rules)
    context = ZoneContext(zoning, rules, published_only=published_only)
    zone_ids = zoning.index.to_numpy()
    groups: dict[str, np.ndarray] = {}
    chosen = [(rule, sel) for rule in rules.active_rules
              if len(sel := np.flatnonzero(applies(zoning, rule, rules, groups)))]
    for rule in rules.active_rules:  # the plan's own building lines and § 5-5 reserves, read before the threads
        if rule.exempt_plan_building_line:
            context.plan_line(rule.exempt_plan_building_line)
        if rule.settled_reserve is not None:
            context.settled(rule.settled_reserve.years)

    def one_rule(item: tuple[Rule, np.ndarray]) -> pd.DataFrame:
        rule, sel = item
        return _rule_frame(rule, index, zones[sel], zone_ids[sel], area[sel], knr[sel], in_force[sel], context, sel)

    frames = run_tasks(one_rule, chosen)  # rules side by side; findings stay in rule order
    findings = pd.concat(frames, ignore_index=True) if frames else empty_findings()
    findings = findings[list(FINDING_COLUMNS)]
    findings.attrs["provenance"] = index.provenance()
    return findings


class ZoneContext:
    """What the law's exemptions and § 5-5 need to know about the zones, read once per analysis."""

    def __init__(self, zoning: pd.DataFrame, rules: RuleSet, *, published_only: bool = False) -> None:
        self.zoning = zoning
        self.rules = rules
        self.published_only = published_only  # see analyse_zones
        self.reserve = kp_reserve(zoning, rules)
        self._lines: dict[str, np.ndarray] = {}
        self._settled: dict[int, np.ndarray] = {}

    def plan_line(self, field: str) -> np.ndarray:
        """The plan's own building line per zone (None where the plan sets none)."""
        if field not in self._lines:
            self._lines[field] = plan_building_line(self.zoning, field)
        return self._lines[field]

    def settled(self, years: int) -> np.ndarray:
        """Reserves in a kommuneplan adopted less than ``years`` ago (pbl § 5-5)."""
        if years not in self._settled:
            self._settled[years] = self.reserve & settled_within(self.zoning, years)
        return self._settled[years]


def rule_outcome(rule: Rule, rules: RuleSet, m: RuleMeasure, zone_area: np.ndarray, zone_m: np.ndarray,
                 proximity_m: np.ndarray, in_force: np.ndarray, plan_line: np.ndarray | None,
                 reserve: np.ndarray | None, settled: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """``(risk, finding, exempt, text keys)`` of one rule for measured zones: the law's definitions in one place.

    * exempt: an in-force reguleringsplan (rules with ``exempt_in_force_regulation``) or the plan's own
      building line (``exempt_plan_building_line``), for the hit and the proximity band alike;
    * boundary touch: an overlap of at most ``marginal_overlap.max_m2`` and ``max_share`` of the zone;
    * pbl § 5-5: a hit on a reserve settled in a kommuneplan adopted less than ``years`` ago.
    """
    n = len(zone_m)
    hit = m.hit_mask(n)
    line_exempt = np.zeros(n, dtype=bool) if plan_line is None else np.array(
        [v is not None for v in plan_line], dtype=bool)
    exempt = (in_force & rule.exempt_in_force_regulation) | line_exempt
    marginal = None
    if rule.marginal_overlap:
        mo = rules.marginal_overlap
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(zone_area > 0, m.overlap_m2 / zone_area, 0.0)
        marginal = (m.overlap_m2 > 0) & (m.overlap_m2 <= mo.max_m2) & (share <= mo.max_share)
    sr = rule.settled_reserve
    settled_mask = settled if sr is not None and settled is not None else None
    risk, finding = classify(hit, m.distance_m, proximity_m, zone_m, m.coverage, exempt, rule.risk,
                             marginal=marginal, settled=settled_mask, settled_risk=sr.risk if sr else None,
                             internal=rule.level == "internal")
    reserve_mask = reserve if sr is not None and reserve is not None else np.zeros(n, dtype=bool)
    settled_arr = settled_mask if settled_mask is not None else np.zeros(n, dtype=bool)
    keys = text_keys(finding, reserve_mask, settled_arr, line_exempt)
    return risk, finding, exempt & (finding == "exempt"), keys


def _rule_frame(rule: Rule, index: ConstraintIndex, zones: np.ndarray, zone_ids: np.ndarray, area: np.ndarray,
                knr: np.ndarray, in_force: np.ndarray, context: ZoneContext, sel: np.ndarray) -> pd.DataFrame:
    target = index.target(rule.id)
    zone_m, proximity_m, source = rule_distances(rule, knr)
    m = measure(zones, zone_m, target, near_within=proximity_m if context.published_only else None)
    plan_line = context.plan_line(rule.exempt_plan_building_line)[sel] if rule.exempt_plan_building_line else None
    sr = rule.settled_reserve
    reserve = context.reserve[sel] if sr is not None else None
    settled = context.settled(sr.years)[sel] if sr is not None else None
    risk, finding, exempt, keys = rule_outcome(rule, index.rules, m, area, zone_m, proximity_m, in_force,
                                               plan_line, reserve, settled)
    names = index.municipalities.names() if index.municipalities is not None else {}
    return rule_findings(zone_ids=zone_ids, zone_area=area, kommunenummer=knr, rule=rule, target=target, m=m,
                         zone_m=zone_m, proximity_m=proximity_m, source=source, risk=risk, finding=finding,
                         exempt=exempt, rules=index.rules, keys=keys,
                         coverage_basis=index.coverage.basis(target.layer_ids), names=names, plan_line=plan_line)


def rule_distances(rule: Rule, kommunenummer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-zone (zone_m, proximity_m, source) for a rule, applying municipality overrides."""
    n = len(kommunenummer)
    zone, prox, _ = rule.distances_for(None)
    zone_m, proximity_m = np.full(n, zone), np.full(n, prox)
    source = np.full(n, "default", dtype=object)
    for knr in rule.municipality_overrides:
        mask = kommunenummer == knr
        if mask.any():
            zone_m[mask], proximity_m[mask], source[mask] = rule.distances_for(knr)
    return zone_m, proximity_m, source


def zone_geometries(zoning: gpd.GeoDataFrame) -> np.ndarray:
    """Zone polygons as a shapely array, invalid ones repaired (areas stay areas)."""
    geoms, _ = repair(np.asarray(zoning.geometry.array, dtype=object))
    missing = shapely.is_missing(geoms)
    if missing.any():
        geoms = geoms.copy()
        geoms[missing] = shapely.Polygon()
    return geoms


def zone_municipalities(zoning: pd.DataFrame, zones: np.ndarray, index: ConstraintIndex) -> np.ndarray:
    """kommunenummer per zone: the zoning column, filled from a municipality layer where missing."""
    knr = column(zoning, "kommunenummer").astype("string").str.strip().to_numpy(dtype=object, na_value=None)
    knr = np.array([k.zfill(4) if k else None for k in knr], dtype=object)
    missing = np.array([k is None for k in knr], dtype=bool)
    if missing.any() and index.municipalities is not None:
        knr[missing] = index.municipalities.locate(zones[missing])
    return knr


# -------------------------------------------------------------------------------------- objection risk


def objection_risk(zoning: gpd.GeoDataFrame, findings: pd.DataFrame, rules: RuleSet) -> gpd.GeoDataFrame:
    """One row per zoning area with its overall objection risk (the worst finding) and the reasons.

    Columns: :data:`RISK_COLUMNS`. Zones where no building rule applies (LNFR, grønnstruktur ...) are GREEN
    with the summary "rule does not apply".
    """
    provenance = findings.attrs.get("provenance", {})
    findings = working_copy(findings)
    zones = zone_geometries(zoning)
    area = shapely.area(zones)
    building = in_group(zoning, rules.formal_groups[BUILDING_GROUP]) if BUILDING_GROUP in rules.formal_groups \
        else np.zeros(len(zoning), dtype=bool)
    out = pd.DataFrame(
        {
            "zone_id": zoning.index.to_numpy(),
            "planid": column(zoning, "planid").to_numpy(dtype=object),
            "plantype": plan_types(zoning),
            "planstatus": pd.array(numeric(zoning, "planstatus"), dtype="Int64"),
            "arealformal": pd.array(numeric(zoning, "arealformal"), dtype="Int64"),
            "arealbruksstatus": pd.array(numeric(zoning, "arealbruksstatus"), dtype="Int64"),
            "kommunenummer": column(zoning, "kommunenummer").to_numpy(dtype=object),
            "building": building,
            "area_m2": area,
            "area_daa": area / M2_PER_DAA,
        }
    )
    worst, lists = _worst_per_zone(findings, out["zone_id"].to_numpy())
    out["objection_risk"] = worst
    for col, values in lists.items():
        out[col] = values
    has_findings = np.isin(out["zone_id"].to_numpy(), findings["zone_id"].to_numpy())
    out["summary"] = [
        _summary(r, red, yellow, nm, found, int(code) if pd.notna(code) else None, internal)
        for r, red, yellow, nm, found, code, internal in zip(
            out["objection_risk"], out["red_rules"], out["yellow_rules"], out["not_mapped_rules"], has_findings,
            out["arealformal"], out["internal_rules"], strict=True)
    ]
    if "kommunenummer" in findings.columns and len(findings):
        # kommunenummer filled from the municipality layer during analysis
        filled = findings.drop_duplicates("zone_id").set_index("zone_id")["kommunenummer"]
        known = out["zone_id"].map(filled)
        out["kommunenummer"] = known.where(known.notna(), out["kommunenummer"]).to_numpy(dtype=object)
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(zones, crs=zoning.crs).values, crs=zoning.crs)
    gdf = gdf[list(RISK_COLUMNS)]
    gdf.attrs["provenance"] = provenance
    return gdf


def _worst_per_zone(findings: pd.DataFrame, zone_ids: np.ndarray) -> tuple[np.ndarray, dict[str, list]]:
    n = len(zone_ids)
    lists: dict[str, list] = {k: [[] for _ in range(n)] for k in
                              ("red_rules", "yellow_rules", "not_mapped_rules", "internal_rules", "authorities")}
    worst = np.full(n, Risk.GREEN.value, dtype=object)
    if len(findings) == 0:
        return worst, lists
    pos = pd.Series(np.arange(n), index=zone_ids).reindex(findings["zone_id"].to_numpy()).to_numpy()
    known = ~np.isnan(pos)
    pos = pos[known].astype(np.int64)
    risk = findings["risk"].to_numpy(dtype=object)[known]
    rule_id = findings["rule_id"].to_numpy(dtype=object)[known]
    authority = findings["authority"].to_numpy(dtype=object)[known]
    rank = np.zeros(n, dtype=np.int8)
    np.maximum.at(rank, pos, rank_of(risk))
    worst[:] = RANK_ORDER[rank]
    order = np.argsort(pos, kind="stable")  # findings keep rule order within a zone
    pos, risk, rule_id, authority = pos[order], risk[order], rule_id[order], authority[order]
    for key, level in (("red_rules", Risk.RED), ("yellow_rules", Risk.YELLOW),
                       ("not_mapped_rules", Risk.NOT_MAPPED), ("internal_rules", Risk.INTERNAL)):
        m = risk == level.value
        for p, ids in _split_by(pos[m], rule_id[m]):
            lists[key][p] = ids
    m = (risk == Risk.RED.value) | (risk == Risk.YELLOW.value)
    for p, who in _split_by(pos[m], authority[m]):
        lists["authorities"][p] = list(dict.fromkeys(who))
    return worst, lists


def _split_by(keys: np.ndarray, values: np.ndarray) -> list[tuple[int, list]]:
    """(key, values as list) for each run of equal sorted keys."""
    if len(keys) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return list(zip(keys[starts].tolist(), (v.tolist() for v in np.split(values, starts[1:])), strict=True))


def _summary(risk: str, red: list[str], yellow: list[str], not_mapped: list[str], has_findings: bool,
             code: int | None, internal: list[str] | None = None) -> str:
    if not has_findings:
        return f"Rule does not apply: arealformål {code if code is not None else '?'} is not a building formål."
    parts = []
    if red:
        parts.append(f"RED: {', '.join(red)}")
    if yellow:
        parts.append(f"YELLOW: {', '.join(yellow)}")
    if not_mapped:
        parts.append(f"not mapped: {', '.join(not_mapped)}")
    if internal:
        parts.append(f"municipality's own consideration (no objection): {', '.join(internal)}")
    return "; ".join(parts) if parts else "No constraint found in mapped layers."
