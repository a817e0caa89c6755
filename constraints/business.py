"""Business-area status: pre-approved, reserve or conflict, and the net area really available.

Definitions (DOMAIN.md; codes and settings in ``default_rules.yaml``):

* **pre-approved**: business formål in a vedtatt reguleringsplan (planstatus in force), no RED finding.
* **reserve**: business formål in a vedtatt kommuneplan with arealbruksstatus framtidig, not yet regulated:
  the parts already covered by in-force reguleringsplan zones are taken out (they are counted there).
* **conflict**: a pre-approved area or reserve with a RED finding; ``conflict_of`` keeps which, ``reasons`` why.
* other business zones are reported as ``existing`` (KP nåværende), ``regulated`` (a KP reserve now wholly
  covered by reguleringsplan), ``not-in-force`` (planstatus not law) or ``unknown`` (plan type missing).

``net_available_m2`` = the zone (for reserves: the unregulated remainder) minus the union of its parts under
RED constraints, minus built-up area when a built-up layer is given.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from constraints.findings import M2_PER_DAA, working_copy
from constraints.formal import KP, RP, column, in_group, numeric, plan_types
from constraints.geometry import group_starts
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer, check_crs
from constraints.measure import measure
from constraints.overlay import rule_distances, zone_geometries, zone_municipalities
from constraints.region import kommunenavn
from constraints.risk import Risk
from constraints.rules import RuleSet
from layers.kinds import LayerKind

PRE_APPROVED, RESERVE, CONFLICT = "pre-approved", "reserve", "conflict"
EXISTING, REGULATED, NOT_IN_FORCE, UNKNOWN = "existing", "regulated", "not-in-force", "unknown"

BUSINESS_COLUMNS: tuple[str, ...] = (
    "zone_id", "planid", "plantype", "planstatus", "arealformal", "arealbruksstatus",
    "kommunenummer", "kommunenavn",
    "business_class",  # "business" (næring proper) or "combined" (combined formål that may include business)
    "status",  # pre-approved / reserve / conflict / existing / regulated / not-in-force / unknown
    "conflict_of",  # for conflict: pre-approved or reserve; else None
    "area_m2", "area_daa",
    "counted_m2",  # area counted for the status: the zone, or for a reserve its unregulated remainder
    "regulated_m2",  # part of a KP zone already covered by in-force reguleringsplan zones
    "red_m2",  # part under RED constraints (union over rules)
    "built_up_m2",  # part already built up (0 without a built-up layer), outside the RED part
    "net_available_m2", "net_available_daa",
    "farmland_m2", "farmland_daa",  # dyrka jord inside the area (what a reserve would consume)
    "red_rules",  # list[str]
    "reasons",  # list[str]: why it is a conflict (or why it is not counted)
    "findings",  # list[dict]: the zone's findings that are not plain GREEN (rule, risk, outcome, titles, texts)
    "geometry",
)


def business_areas(zoning: gpd.GeoDataFrame, findings: pd.DataFrame, rules: RuleSet,
                   constraints: Mapping[str, ConstraintLayer] | ConstraintIndex, *,
                   built_up: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Status and net available area of every business-formål zone.

    Parameters
    ----------
    zoning
        The zoning layer analysed by :func:`~constraints.overlay.analyse_zones`.
    findings
        Its findings (the RED ones decide conflicts).
    rules
        The rule set the findings were computed with.
    constraints
        The constraint layers, or the :class:`~constraints.index.ConstraintIndex` built from them.
    built_up
        Optional built-up footprint polygons (same CRS); their area is not available.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per business zone with :data:`BUSINESS_COLUMNS`; ``attrs["provenance"]`` as the findings.
    """
    index = constraints if isinstance(constraints, ConstraintIndex) else ConstraintIndex(constraints, rules)
    check_crs(zoning, index.layers)
    provenance = findings.attrs.get("provenance") or index.provenance()
    findings = working_copy(findings)
    if built_up is not None:
        check_crs(zoning, {"built_up": ConstraintLayer("built_up", LayerKind.site, built_up)})
    cfg = rules.business
    groups = [rules.formal_groups[g] for g in cfg.formal_groups]
    pure = in_group(zoning, groups[0]) if groups else np.zeros(len(zoning), dtype=bool)
    biz = np.zeros(len(zoning), dtype=bool)
    for g in groups:
        biz |= in_group(zoning, g)
    zones_all = zone_geometries(zoning)
    ptype = plan_types(zoning)
    pstatus = numeric(zoning, "planstatus")
    in_force = np.isin(pstatus, np.asarray(cfg.in_force_planstatus, dtype=float))
    rp_in_force = (ptype == RP) & in_force

    sel = np.flatnonzero(biz)
    zones = zones_all[sel]
    area = shapely.area(zones)
    reserve_kind = np.isin(numeric(zoning, "arealbruksstatus")[sel], np.asarray(cfg.reserve_arealbruksstatus, float))
    status = _base_status(ptype[sel], in_force[sel], reserve_kind)
    reasons: list[list[str]] = [[] for _ in sel]
    for i, s in enumerate(status):
        if s == NOT_IN_FORCE:
            reasons[i].append(f"planstatus {_fmt(pstatus[sel][i])} is not in force "
                              f"(in force: {', '.join(map(str, cfg.in_force_planstatus))})")
        elif s == UNKNOWN:
            reasons[i].append("plantype missing: cannot tell kommuneplan from reguleringsplan")

    # reserves: take out what in-force reguleringsplan zones already cover
    effective = zones.copy()
    regulated = np.zeros(len(sel))
    reserve_pos = np.flatnonzero(status == RESERVE)
    if len(reserve_pos):
        covered = _covered_by(zones[reserve_pos], zones_all[rp_in_force])
        regulated[reserve_pos] = shapely.area(covered)
        share = np.divide(regulated[reserve_pos], area[reserve_pos], out=np.zeros(len(reserve_pos)),
                          where=area[reserve_pos] > 0)
        gone = share >= cfg.superseded_share
        status[reserve_pos[gone]] = REGULATED
        for i in reserve_pos[gone]:
            reasons[i].append(f"{100 * regulated[i] / area[i]:.0f} % already regulated: counted in reguleringsplan")
        cut = reserve_pos[(regulated[reserve_pos] > 0)]
        effective[cut] = shapely.difference(zones[cut], covered[np.searchsorted(reserve_pos, cut)])

    knr = zone_municipalities(zoning.iloc[sel], zones, index)
    red_geom, red_rules = _red_parts(sel, effective, knr, zoning.index.to_numpy()[sel], findings, rules, index)
    conflict = np.array([bool(r) for r in red_rules], dtype=bool) & np.isin(status, [PRE_APPROVED, RESERVE])
    conflict_of = np.where(conflict, status, None)
    why = _conflict_reasons(findings, zoning.index.to_numpy()[sel[conflict]], red_rules, np.flatnonzero(conflict))
    for i, lines in why.items():
        reasons[i] += lines
    status = np.where(conflict, CONFLICT, status)

    red_m2 = np.array([shapely.area(g) if g is not None else 0.0 for g in red_geom])
    built_m2 = np.zeros(len(sel))
    blocked = red_geom.copy()
    if built_up is not None and len(built_up):
        built = _covered_by(effective, np.asarray(built_up.geometry.array, dtype=object))
        blocked = np.array([b if r is None else shapely.union(r, b) for r, b in zip(red_geom, built, strict=True)],
                           dtype=object)
        built_m2 = np.array([shapely.area(shapely.difference(shapely.intersection(e, b), r)) if r is not None
                             else shapely.area(shapely.intersection(e, b))
                             for e, b, r in zip(effective, built, red_geom, strict=True)])
    eff_area = shapely.area(effective)
    blocked_m2 = np.array([shapely.area(shapely.intersection(e, b)) if b is not None else 0.0
                           for e, b in zip(effective, blocked, strict=True)])
    net = np.maximum(eff_area - blocked_m2, 0.0)
    farmland = _farmland_m2(effective, knr, index, rules)
    names = index.municipalities.names() if index.municipalities is not None else {}

    out = pd.DataFrame({
        "zone_id": zoning.index.to_numpy()[sel],
        "planid": column(zoning, "planid").to_numpy(dtype=object)[sel],
        "plantype": ptype[sel],
        "planstatus": pd.array(pstatus[sel], dtype="Int64"),
        "arealformal": pd.array(numeric(zoning, "arealformal")[sel], dtype="Int64"),
        "arealbruksstatus": pd.array(numeric(zoning, "arealbruksstatus")[sel], dtype="Int64"),
        "kommunenummer": knr,
        "kommunenavn": [kommunenavn(k, names) for k in knr],
        "business_class": np.where(pure[sel], "business", "combined"),
        "status": status,
        "conflict_of": conflict_of,
        "area_m2": area,
        "area_daa": area / M2_PER_DAA,
        "counted_m2": eff_area,
        "regulated_m2": regulated,
        "red_m2": red_m2,
        "built_up_m2": built_m2,
        "net_available_m2": net,
        "net_available_daa": net / M2_PER_DAA,
        "farmland_m2": farmland,
        "farmland_daa": farmland / M2_PER_DAA,
        "red_rules": red_rules,
        "reasons": reasons,
        "findings": zone_findings(findings, zoning.index.to_numpy()[sel]),
    })
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(zones, crs=zoning.crs).values, crs=zoning.crs)
    gdf = gdf[list(BUSINESS_COLUMNS)]
    gdf.attrs["provenance"] = provenance
    return gdf


def _base_status(ptype: np.ndarray, in_force: np.ndarray, reserve_kind: np.ndarray) -> np.ndarray:
    status = np.full(len(ptype), UNKNOWN, dtype=object)
    status[(ptype != "") & ~in_force] = NOT_IN_FORCE
    status[(ptype == RP) & in_force] = PRE_APPROVED
    status[(ptype == KP) & in_force & reserve_kind] = RESERVE
    status[(ptype == KP) & in_force & ~reserve_kind] = EXISTING
    return status


def _covered_by(zones: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Per zone: the union of its intersections with ``others`` (empty polygon where none)."""
    out = np.full(len(zones), shapely.Polygon(), dtype=object)
    if len(zones) == 0 or len(others) == 0:
        return out
    zi, oi = STRtree(others).query(zones, predicate="intersects")
    if len(zi) == 0:
        return out
    pieces = shapely.intersection(zones[zi], others[oi])
    keys, starts = group_starts(zi)
    for key, group in zip(keys, np.split(pieces, starts[1:]), strict=True):
        out[key] = group[0] if len(group) == 1 else shapely.union_all(group)
    return out


def _red_parts(sel: np.ndarray, effective: np.ndarray, knr: np.ndarray, zone_ids: np.ndarray,
               findings: pd.DataFrame, rules: RuleSet, index: ConstraintIndex) -> tuple[np.ndarray, list[list[str]]]:
    """Per business zone: the union of its parts under RED findings, and the RED rule ids still hit.

    RED findings come from the whole zone; they are measured again on the effective geometry (a reserve's
    unregulated remainder) so the parts can be unioned across rules without counting twice.
    """
    red_geom = np.full(len(sel), None, dtype=object)
    red_rules: list[list[str]] = [[] for _ in sel]
    red = findings[(findings["risk"] == Risk.RED.value) & findings["zone_id"].isin(zone_ids)]
    pos_of = pd.Series(np.arange(len(sel)), index=zone_ids)
    for rule_id, rows in red.groupby("rule_id", sort=False):
        pos = pos_of.reindex(rows["zone_id"].to_numpy()).to_numpy(dtype=int)
        rule = rules.rule(str(rule_id))
        zone_m, _, _ = rule_distances(rule, knr[pos])
        m = measure(effective[pos], zone_m, index.target(rule.id), with_parts=True, hits_only=True)
        assert m.parts is not None
        for j in np.flatnonzero(m.hit_mask(len(pos))):
            p = pos[j]
            red_rules[p].append(rule.id)
            part = m.parts[j]
            if part is not None and not part.is_empty:
                red_geom[p] = part if red_geom[p] is None else shapely.union(red_geom[p], part)
    return red_geom, red_rules


def _conflict_reasons(findings: pd.DataFrame, zone_ids: np.ndarray, red_rules: list[list[str]],
                      positions: np.ndarray) -> dict[int, list[str]]:
    """Per conflict zone (by position): one line per RED rule with area or distance, basis and authority."""
    if len(positions) == 0:
        return {}
    wanted = pd.DataFrame({"zone_id": np.repeat(zone_ids, [len(red_rules[p]) for p in positions]),
                           "rule_id": [r for p in positions for r in red_rules[p]],
                           "pos": np.repeat(positions, [len(red_rules[p]) for p in positions])})
    cols = ["zone_id", "rule_id", "overlap_m2", "overlap_daa", "distance_m", "legal_basis", "authority"]
    rows = wanted.merge(findings[cols], on=["zone_id", "rule_id"], how="left")
    out: dict[int, list[str]] = {}
    for pos, rule_id, m2, daa, dist, basis, who in zip(rows["pos"], rows["rule_id"], rows["overlap_m2"],
                                                       rows["overlap_daa"], rows["distance_m"], rows["legal_basis"],
                                                       rows["authority"], strict=True):
        what = f"{daa:.1f} daa" if m2 > 0 else f"{dist:.1f} m away"
        out.setdefault(int(pos), []).append(f"{rule_id}: {what} ({basis}; objection from {who})")
    return out


def _farmland_m2(effective: np.ndarray, knr: np.ndarray, index: ConstraintIndex, rules: RuleSet) -> np.ndarray:
    """Dyrka jord inside each area: union over the farmland-theme rules (whatever their risk or exemption)."""
    farm_rules = [r for r in rules.active_rules if r.kind == LayerKind.farmland]  # dyrka jord, not dyrkbar
    if not farm_rules or len(effective) == 0:
        return np.zeros(len(effective))
    if len(farm_rules) == 1:
        zone_m, _, _ = rule_distances(farm_rules[0], knr)
        return measure(effective, zone_m, index.target(farm_rules[0].id), hits_only=True).overlap_m2
    union = np.full(len(effective), None, dtype=object)
    for rule in farm_rules:
        zone_m, _, _ = rule_distances(rule, knr)
        m = measure(effective, zone_m, index.target(rule.id), with_parts=True, hits_only=True)
        assert m.parts is not None
        for j, part in enumerate(m.parts):
            if part is not None:
                union[j] = part if union[j] is None else shapely.union(union[j], part)
    return np.array([0.0 if g is None else shapely.area(g) for g in union])


FINDING_KEYS = ("rule_id", "theme", "risk", "outcome", "level", "rule_title_nb", "rule_title_en", "text_nb",
                "text_en")


def zone_findings(findings: pd.DataFrame, zone_ids: np.ndarray) -> list[list[dict[str, object]]]:
    """Per zone: its findings that are not plain GREEN (exempt ones included: they say why), text included."""
    out: list[list[dict[str, object]]] = [[] for _ in zone_ids]
    cols = [c for c in FINDING_KEYS if c in findings.columns]
    if len(findings) == 0 or "outcome" not in findings.columns:
        return out
    keep = findings["zone_id"].isin(zone_ids) & ((findings["risk"] != Risk.GREEN.value)
                                                 | (findings["outcome"] == "exempt"))
    rows = findings.loc[keep, ["zone_id", *[c for c in cols if c != "zone_id"]]]
    pos_of = pd.Series(np.arange(len(zone_ids)), index=zone_ids)
    for zone_id, record in zip(rows["zone_id"].to_numpy(), rows[cols].to_dict("records"), strict=True):
        out[int(pos_of[zone_id])].append(record)
    return out


def _fmt(value: float) -> str:
    return "missing" if np.isnan(value) else str(int(value))
