"""The findings table: one row per (zone, rule that applies), with the columns the API and CLI rely on."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from constraints.geometry import group_starts
from constraints.index import RuleTarget
from constraints.measure import NO_LAYER, PARTIAL, RuleMeasure
from constraints.region import kommunenavn
from constraints.risk import BOUNDARY, EXEMPT, HIT, NEAR, NOT_MAPPED, Risk
from constraints.rules import Rule, RuleSet
from constraints.texts import FindingValues, reason_key, render_both, text_key, used_placeholders

M2_PER_DAA = 1_000.0

FINDING_COLUMNS: tuple[str, ...] = (
    "zone_id",  # feature id (index) of the zoning area, or "site" for a site check
    "rule_id",
    "theme",  # watercourse / farmland / heritage / flood / road
    "kind",  # constraint layer kind
    "kommunenummer",  # municipality used for the distances (None: unknown)
    "risk",  # RED / YELLOW / GREEN / NOT_MAPPED
    "dok_status",  # HIT-RED / HIT-YELLOW / NO-HIT-GREEN / NOT-MAPPED
    "finding",  # hit / near / clear / not_mapped / exempt / boundary
    "outcome",  # inside / near / clear / not_mapped / exempt / boundary (what text_nb/text_en are true for)
    "level",  # objection / internal (the municipality's own consideration: risk INTERNAL, never an objection)
    "rule_title_nb",
    "rule_title_en",
    "text_nb",  # the sentence true for this outcome, naming legal basis and authority (constraints.texts)
    "text_en",
    "overlap_m2",  # zone area inside the rule's zone (union of buffered features, no double counting)
    "overlap_daa",
    "zone_share",  # overlap_m2 / zone area
    "distance_m",  # to the nearest selected feature; NaN if the layer has none
    "hit_ids",  # list[int]: fids of the features that hit
    "hit_layers",  # list[str]: layer id of each hit fid (same length)
    "zone_m",  # applied hit distance
    "proximity_m",  # applied YELLOW distance
    "zone_m_source",  # "default" or "municipality:<kommunenummer>"
    "coverage",  # full / partial / none / no-layer
    "layer_ids",  # list[str]: layers the rule read
    "exempt",  # bool: hit inside an in-force reguleringsplan where the law does not apply
    "authority",
    "legal_basis",
    "explanation_nb",  # legacy: the same sentence as text_nb / text_en
    "explanation_en",
    "note",
)


def working_copy(findings: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy without ``attrs``: pandas deep-copies attrs (the provenance) on every slice otherwise."""
    out = findings.copy(deep=False)
    out.attrs = {}
    return out


def empty_findings() -> pd.DataFrame:
    """A findings frame with no rows and the documented columns."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDING_COLUMNS})


def rule_findings(*, zone_ids: np.ndarray, zone_area: np.ndarray, kommunenummer: np.ndarray, rule: Rule,
                  target: RuleTarget, m: RuleMeasure, zone_m: np.ndarray, proximity_m: np.ndarray,
                  source: np.ndarray, risk: np.ndarray, finding: np.ndarray, exempt: np.ndarray,
                  rules: RuleSet | None = None, keys: np.ndarray | None = None, coverage_basis: str | None = None,
                  names: dict[str, str] | None = None, plan_line: np.ndarray | None = None) -> pd.DataFrame:
    """The rows of one rule for the zones it applies to (all arrays aligned with those zones).

    ``keys`` are the text keys (:func:`constraints.texts.text_key`; by default from ``finding``),
    ``coverage_basis`` how the layer's coverage was found (for the not-mapped reason), ``names``
    kommunenummer → kommunenavn and ``plan_line`` the plan's own building line per zone (for the texts).
    """
    n = len(zone_ids)
    hit_ids, hit_layers = _hits_per_zone(n, m, target)
    overlap = m.overlap_m2
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(zone_area > 0, overlap / zone_area, 0.0)
    if keys is None:
        keys = np.array([text_key(str(f)) for f in finding], dtype=object)
    text_nb, text_en = finding_texts(rules, rule, keys=keys, finding=finding, zone_m=zone_m,
                                     proximity_m=proximity_m, source=source, distance_m=m.distance_m,
                                     overlap_m2=overlap, share=share, kommunenummer=kommunenummer,
                                     coverage=m.coverage, coverage_basis=coverage_basis, names=names or {},
                                     plan_line=plan_line, layer_ids=target.layer_ids,
                                     missing_fields=target.missing_fields)
    data: dict[str, Any] = {
        "zone_id": zone_ids,
        "rule_id": rule.id,
        "theme": rule.theme,
        "kind": rule.kind.value,
        "kommunenummer": kommunenummer,
        "risk": risk,
        "dok_status": np.array([Risk(r).dok_status for r in risk], dtype=object) if n else [],
        "finding": finding,
        "outcome": np.where(finding == HIT, "inside", finding).astype(object) if n else [],
        "level": rule.level,
        "rule_title_nb": rule.title_nb,
        "rule_title_en": rule.title_en,
        "text_nb": text_nb,
        "text_en": text_en,
        "overlap_m2": overlap,
        "overlap_daa": overlap / M2_PER_DAA,
        "zone_share": share,
        "distance_m": m.distance_m,
        "hit_ids": hit_ids,
        "hit_layers": hit_layers,
        "zone_m": zone_m,
        "proximity_m": proximity_m,
        "zone_m_source": source,
        "coverage": m.coverage,
        "layer_ids": [list(target.layer_ids)] * n,
        "exempt": finding == EXEMPT,
        "authority": rule.authority,
        "legal_basis": rule.legal_basis,
        "explanation_nb": text_nb,
        "explanation_en": text_en,
        "note": _notes(rule, target, m, zone_m, proximity_m, source, finding),
    }
    return pd.DataFrame(data, columns=list(FINDING_COLUMNS))


def finding_texts(rules: RuleSet | None, rule: Rule, *, keys: np.ndarray, finding: np.ndarray,
                  zone_m: np.ndarray, proximity_m: np.ndarray, source: np.ndarray, distance_m: np.ndarray,
                  overlap_m2: np.ndarray, share: np.ndarray, kommunenummer: np.ndarray, coverage: np.ndarray,
                  coverage_basis: str | None, names: dict[str, str], plan_line: np.ndarray | None,
                  layer_ids: tuple[str, ...] = (),
                  missing_fields: tuple[tuple[str, str], ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """``(text_nb, text_en)`` per finding: the rule's sentence for each outcome, filled with its values.

    Values are rounded to what the sentence prints before rendering, so equal sentences render once.
    """
    n = len(keys)
    nb = np.empty(n, dtype=object)
    en = np.empty(n, dtype=object)
    if n == 0:
        return nb, en
    if rules is None:  # a caller without the rule set: the legacy explanation
        nb[:], en[:] = " ".join(rule.explanation_nb.split()), " ".join(rule.explanation_en.split())
        return nb, en
    undeclared, no_region = coverage_basis == "undeclared", coverage_basis == "no-region"
    layer = ", ".join(layer_ids) or rule.kind.value
    if missing_fields:  # layers left out for lacking the attribute the rule selects on (NOT_MAPPED, never GREEN)
        coverage = np.where(np.asarray(coverage, dtype=object) == "no-layer", "missing-attribute",
                            np.asarray(coverage, dtype=object))
        layer = ", ".join(dict.fromkeys(lid for lid, _ in missing_fields))
    attribute = ", ".join(dict.fromkeys(name for _, name in missing_fields)) or "…"
    if n <= _SMALL:  # a site check: plain Python per finding beats array work and grouping
        for i in range(n):
            f, key = str(finding[i]), str(keys[i])
            used = used_placeholders(rules, rule, key)
            d, a = float(distance_m[i]), float(overlap_m2[i])
            k = kommunenummer[i] if isinstance(kommunenummer[i], str) else None
            reason = reason_key(str(coverage[i]), undeclared, no_region) if f == NOT_MAPPED else None
            values = FindingValues(
                zone_m=float(zone_m[i]), proximity_m=float(proximity_m[i]),
                distance_m=round(d, 1) if f in (NEAR, EXEMPT) and not math.isnan(d) else None,
                # rounded as the vectorised path below rounds them, so a text never depends on how many zones
                # were analysed together (a partitioned run renders the same sentence as one run)
                overlap_m2=float(np.round(a) if a >= 10 else np.round(a, 2)) if f in (HIT, BOUNDARY) else None,
                share=float(np.round(float(share[i]), 4)) if f in (HIT, BOUNDARY) else None,
                source=str(source[i]), kommunenummer=k, kommunenavn=kommunenavn(k, names) if k else None,
                reason=reason,
                reason_values=(("layer", layer), ("kind", rule.kind.value), ("attribute", attribute)) if reason else (),
                plan_line=None if plan_line is None or plan_line[i] is None or "plan_line" not in used
                else str(plan_line[i]),
            )
            nb[i], en[i] = render_both(rules, rule, key, values)
        return nb, en
    uses_distance = np.isin(finding, [NEAR, EXEMPT])
    uses_area = np.isin(finding, [HIT, BOUNDARY])
    knr = np.array([k if isinstance(k, str) else "" for k in kommunenummer], dtype=object)
    dist = np.where(uses_distance, np.round(np.asarray(distance_m, float), 1), np.nan)
    area = np.asarray(overlap_m2, float)
    area = np.where(uses_area, np.where(area >= 10, np.round(area), np.round(area, 2)), np.nan)  # as printed
    shr = np.where(uses_area, np.round(np.asarray(share, float), 4), np.nan)
    src = np.asarray(source, dtype=object).astype(str)
    cov = np.asarray(coverage, dtype=object).astype(str)
    line = np.full(n, "", dtype=object) if plan_line is None else np.array(
        ["" if v is None else str(v) for v in plan_line], dtype=object)
    keys = keys.astype(str)
    # a value the key's sentence does not print must not split the rows into separate renderings
    for key in np.unique(keys):
        used = used_placeholders(rules, rule, key)
        rows = keys == key
        if "distance_m" not in used:
            dist[rows] = np.nan
        if not used & {"overlap_m2", "overlap_daa", "share_pct"}:
            area[rows] = np.nan
            shr[rows] = np.nan
        if not used & {"kommune", "limit"}:
            knr[rows] = ""
            src[rows] = ""
        if "plan_line" not in used:
            line[rows] = ""
        if "reason" not in used:
            cov[rows] = ""
    table = pd.DataFrame({"key": keys, "finding": finding.astype(str), "zone_m": np.asarray(zone_m, float),
                          "proximity_m": np.asarray(proximity_m, float), "distance_m": dist, "overlap_m2": area,
                          "share": shr, "source": src, "knr": knr, "coverage": cov, "plan_line": line})
    codes = table.groupby(list(table.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    rendered_nb = np.empty(len(first), dtype=object)
    rendered_en = np.empty(len(first), dtype=object)
    _render_rows(first, rendered_nb, rendered_en, rules, rule, keys, finding, zone_m, proximity_m, dist, area, shr,
                 src, knr, cov, line, names, layer, undeclared, no_region, attribute)
    nb[:] = rendered_nb[codes]
    en[:] = rendered_en[codes]
    return nb, en


_SMALL = 32  # findings rendered one by one below this count


def _render_rows(rows: np.ndarray, nb: np.ndarray, en: np.ndarray, rules: RuleSet, rule: Rule, keys: np.ndarray,
                 finding: np.ndarray, zone_m: np.ndarray, proximity_m: np.ndarray, dist: np.ndarray,
                 area: np.ndarray, shr: np.ndarray, src: np.ndarray, knr: np.ndarray, cov: np.ndarray,
                 line: np.ndarray, names: dict[str, str], layer: str, undeclared: bool, no_region: bool,
                 attribute: str = "…") -> None:
    """Render the findings at ``rows`` into ``nb[j]``/``en[j]`` for the j-th row."""
    for j, i in enumerate(rows.tolist()):
        k = None if knr[i] in ("", "None", "nan", "<NA>") else knr[i]
        reason = reason_key(cov[i], undeclared, no_region) if finding[i] == NOT_MAPPED else None
        values = FindingValues(
            zone_m=float(zone_m[i]), proximity_m=float(proximity_m[i]),
            distance_m=None if np.isnan(dist[i]) else float(dist[i]),
            overlap_m2=None if np.isnan(area[i]) else float(area[i]),
            share=None if np.isnan(shr[i]) else float(shr[i]),
            source=src[i] or "default", kommunenummer=k, kommunenavn=kommunenavn(k, names),
            reason=reason,
            reason_values=(("layer", layer), ("kind", rule.kind.value), ("attribute", attribute)) if reason else (),
            plan_line=line[i] or None,
        )
        nb[j], en[j] = render_both(rules, rule, keys[i], values)


def _hits_per_zone(n: int, m: RuleMeasure, target: RuleTarget) -> tuple[list[list[int]], list[list[str]]]:
    ids: list[list[int]] = [[] for _ in range(n)]
    layers: list[list[str]] = [[] for _ in range(n)]
    if len(m.hit_zone) == 0:
        return ids, layers
    fids = target.fids[m.hit_feature]
    names = np.asarray(target.layer_ids, dtype=object)[target.layer_of[m.hit_feature]]
    keys, starts = group_starts(m.hit_zone)
    for key, f, names_ in zip(keys, np.split(fids, starts[1:]), np.split(names, starts[1:]), strict=True):
        ids[key] = [int(x) for x in f]
        layers[key] = [str(x) for x in names_]
    return ids, layers


def _notes(rule: Rule, target: RuleTarget, m: RuleMeasure, zone_m: np.ndarray, proximity_m: np.ndarray,
           source: np.ndarray, finding: np.ndarray) -> np.ndarray:
    """Plain words for what the numbers cannot say: defaults used, coverage gaps, exemptions."""
    notes = np.full(len(finding), "", dtype=object)

    def add(mask: np.ndarray, text: Any) -> None:
        if mask.any():
            notes[mask] = [f"{old} {new}".strip() for old, new in
                           zip(notes[mask], np.broadcast_to(np.asarray(text, dtype=object), (int(mask.sum()),)),
                               strict=True)]

    if target.missing_fields:
        add(np.ones(len(finding), dtype=bool), target.missing_reason())
    if not target.has_layer:
        if not target.missing_fields:
            add(np.ones(len(finding), dtype=bool),
                f"No {rule.kind.value} layer is loaded: the area is not mapped for this rule.")
        return notes
    if rule.municipality_overrides or "municipality_overrides" in rule.model_fields_set:
        default = source == "default"
        add(default, f"{rule.zone_m:g} m is the default; the municipality has not set its own distance.")
        for src in np.unique(source[~default]):
            add(source == src, f"{zone_m[source == src][0]:g} m set by {str(src).replace(':', ' ')}.")
    partial = m.coverage == PARTIAL
    add(partial & (finding == NOT_MAPPED), "The layer covers only part of the area; the rest is not mapped.")
    add((m.coverage == "none") & (finding == NOT_MAPPED), "The area lies outside the layer's coverage.")
    add(partial & (finding != NOT_MAPPED), "Found in the mapped part; the layer covers only part of the area.")
    near = finding == NEAR
    add(near, [f"Nearest feature {d:.1f} m away (YELLOW band up to {p:g} m)."
               for d, p in zip(m.distance_m[near], proximity_m[near], strict=True)])
    if rule.exemption_basis:
        add(finding == EXEMPT, f"Exempt: {rule.exemption_basis}.")
    return notes


def coverage_label(value: str) -> str:
    """Human words for a coverage value."""
    return {NO_LAYER: "no layer loaded", PARTIAL: "partly mapped", "none": "not mapped", "full": "mapped"}[value]
