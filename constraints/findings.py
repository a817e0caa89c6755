"""The findings table: one row per (zone, rule that applies), with the columns the API and CLI rely on."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from constraints.geometry import group_starts
from constraints.index import RuleTarget
from constraints.measure import NO_LAYER, PARTIAL, RuleMeasure
from constraints.risk import EXEMPT, NEAR, NOT_MAPPED, Risk
from constraints.rules import Rule

M2_PER_DAA = 1_000.0

FINDING_COLUMNS: tuple[str, ...] = (
    "zone_id",  # feature id (index) of the zoning area, or "site" for a site check
    "rule_id",
    "theme",  # watercourse / farmland / heritage / flood / road
    "kind",  # constraint layer kind
    "kommunenummer",  # municipality used for the distances (None: unknown)
    "risk",  # RED / YELLOW / GREEN / NOT_MAPPED
    "dok_status",  # HIT-RED / HIT-YELLOW / NO-HIT-GREEN / NOT-MAPPED
    "finding",  # hit / near / clear / not_mapped / exempt
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
    "explanation_nb",
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
                  source: np.ndarray, risk: np.ndarray, finding: np.ndarray, exempt: np.ndarray) -> pd.DataFrame:
    """The rows of one rule for the zones it applies to (all arrays aligned with those zones)."""
    n = len(zone_ids)
    hit_ids, hit_layers = _hits_per_zone(n, m, target)
    overlap = m.overlap_m2
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(zone_area > 0, overlap / zone_area, 0.0)
    data: dict[str, Any] = {
        "zone_id": zone_ids,
        "rule_id": rule.id,
        "theme": rule.theme,
        "kind": rule.kind.value,
        "kommunenummer": kommunenummer,
        "risk": risk,
        "dok_status": np.array([Risk(r).dok_status for r in risk], dtype=object) if n else [],
        "finding": finding,
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
        "explanation_nb": " ".join(rule.explanation_nb.split()),
        "explanation_en": " ".join(rule.explanation_en.split()),
        "note": _notes(rule, target, m, zone_m, proximity_m, source, finding),
    }
    return pd.DataFrame(data, columns=list(FINDING_COLUMNS))


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
