"""Risk levels of a finding and how one is decided; the worst finding makes the zone's objection risk."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import numpy as np

from constraints.measure import FULL


class Risk(StrEnum):
    """Objection risk. RED > YELLOW > NOT_MAPPED > GREEN: unknown is never reported as safe.

    INTERNAL marks a finding of a rule with ``level: internal`` (the municipality's own consideration, e.g. the
    building limit along its own roads): shown, but it is no objection, so it never raises a zone's risk.
    """

    RED = "RED"
    YELLOW = "YELLOW"
    NOT_MAPPED = "NOT_MAPPED"
    GREEN = "GREEN"
    INTERNAL = "INTERNAL"

    @property
    def rank(self) -> int:
        """Severity, higher is worse."""
        return _RANK[self]

    @property
    def dok_status(self) -> str:
        """The DOK-arealanalyse wording: HIT-RED, HIT-YELLOW, NO-HIT-GREEN, NOT-MAPPED."""
        return _DOK[self]


_RANK = {Risk.GREEN: 0, Risk.INTERNAL: 0, Risk.NOT_MAPPED: 1, Risk.YELLOW: 2, Risk.RED: 3}
_DOK = {Risk.RED: "HIT-RED", Risk.YELLOW: "HIT-YELLOW", Risk.NOT_MAPPED: "NOT-MAPPED", Risk.GREEN: "NO-HIT-GREEN",
        Risk.INTERNAL: "HIT-INTERNAL"}
RANK_ORDER = np.array([Risk.GREEN.value, Risk.NOT_MAPPED.value, Risk.YELLOW.value, Risk.RED.value], dtype=object)

# what a finding is, in words (the `finding` column); the `outcome` column says "inside" for a hit
HIT, NEAR, CLEAR, NOT_MAPPED, EXEMPT, BOUNDARY = "hit", "near", "clear", "not_mapped", "exempt", "boundary"
OUTCOMES = ("inside", "near", "clear", "not_mapped", "exempt", "boundary")


def outcome_of(finding: str) -> str:
    """The published outcome of a finding: ``inside`` for a hit, else the finding itself."""
    return "inside" if finding == HIT else finding


def worst(risks: Iterable[str]) -> Risk:
    """The worst of several risks (GREEN for none; INTERNAL counts as GREEN: it is no objection)."""
    found = max((Risk(r) for r in risks), key=lambda r: r.rank, default=Risk.GREEN)
    return Risk.GREEN if found == Risk.INTERNAL else found


def rank_of(risks: np.ndarray) -> np.ndarray:
    """Vectorised severity rank of an array of risk strings."""
    out = np.zeros(len(risks), dtype=np.int8)
    for level, name in enumerate(RANK_ORDER):
        out[risks == name] = level
    return out


def classify(hit: np.ndarray, distance: np.ndarray, proximity_m: np.ndarray, zone_m: np.ndarray,
             coverage: np.ndarray, exempt: np.ndarray, rule_risk: str, *, marginal: np.ndarray | None = None,
             settled: np.ndarray | None = None, settled_risk: str | None = None,
             internal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Risk and finding per zone for one rule.

    * a hit gives the rule's risk (RED or YELLOW); ``settled`` hits (pbl § 5-5) get ``settled_risk``;
    * a hit whose overlap is ``marginal`` (a digitising sliver) is YELLOW, ``boundary``;
    * no hit but a feature within ``proximity_m`` (beyond ``zone_m``) is YELLOW, ``near``;
    * a hit, boundary touch or near finding where the law exempts the zone (in-force reguleringsplan, the
      plan's own building line) is GREEN, ``exempt``: the exemption covers the band as well as the belt;
    * with ``internal`` (a rule of ``level: internal``) hits and near findings are INTERNAL, not objections;
    * otherwise NOT_MAPPED unless the layer's coverage holds the whole zone, then GREEN, ``clear``.
      Partial coverage without a hit stays NOT_MAPPED: the unmapped part may hold one.
    """
    n = len(hit)
    risk = np.full(n, Risk.GREEN.value, dtype=object)
    finding = np.full(n, CLEAR, dtype=object)
    unmapped = coverage != FULL
    risk[unmapped] = Risk.NOT_MAPPED.value
    finding[unmapped] = NOT_MAPPED
    near = ~hit & (proximity_m > zone_m) & (distance <= proximity_m)  # NaN distance compares False
    risk[near] = Risk.YELLOW.value
    finding[near] = NEAR
    risk[hit] = rule_risk
    finding[hit] = HIT
    if settled is not None and settled_risk is not None:
        risk[hit & settled] = settled_risk
    if marginal is not None:
        touch = hit & marginal
        risk[touch] = Risk.YELLOW.value
        finding[touch] = BOUNDARY
    if internal:
        risk[hit | near] = Risk.INTERNAL.value
    ex = (hit | near) & exempt
    risk[ex] = Risk.GREEN.value
    finding[ex] = EXEMPT
    return risk, finding
