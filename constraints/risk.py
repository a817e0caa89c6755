"""Risk levels of a finding and how one is decided; the worst finding makes the zone's objection risk."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import numpy as np

from constraints.measure import FULL


class Risk(StrEnum):
    """Objection risk. RED > YELLOW > NOT_MAPPED > GREEN: unknown is never reported as safe."""

    RED = "RED"
    YELLOW = "YELLOW"
    NOT_MAPPED = "NOT_MAPPED"
    GREEN = "GREEN"

    @property
    def rank(self) -> int:
        """Severity, higher is worse."""
        return _RANK[self]

    @property
    def dok_status(self) -> str:
        """The DOK-arealanalyse wording: HIT-RED, HIT-YELLOW, NO-HIT-GREEN, NOT-MAPPED."""
        return _DOK[self]


_RANK = {Risk.GREEN: 0, Risk.NOT_MAPPED: 1, Risk.YELLOW: 2, Risk.RED: 3}
_DOK = {Risk.RED: "HIT-RED", Risk.YELLOW: "HIT-YELLOW", Risk.NOT_MAPPED: "NOT-MAPPED", Risk.GREEN: "NO-HIT-GREEN"}
RANK_ORDER = np.array([Risk.GREEN.value, Risk.NOT_MAPPED.value, Risk.YELLOW.value, Risk.RED.value], dtype=object)

# what a finding is, in words (the `finding` column)
HIT, NEAR, CLEAR, NOT_MAPPED, EXEMPT = "hit", "near", "clear", "not_mapped", "exempt"


def worst(risks: Iterable[str]) -> Risk:
    """The worst of several risks (GREEN for none)."""
    return max((Risk(r) for r in risks), key=lambda r: r.rank, default=Risk.GREEN)


def rank_of(risks: np.ndarray) -> np.ndarray:
    """Vectorised severity rank of an array of risk strings."""
    out = np.zeros(len(risks), dtype=np.int8)
    for level, name in enumerate(RANK_ORDER):
        out[risks == name] = level
    return out


def classify(hit: np.ndarray, distance: np.ndarray, proximity_m: np.ndarray, zone_m: np.ndarray,
             coverage: np.ndarray, exempt: np.ndarray, rule_risk: str) -> tuple[np.ndarray, np.ndarray]:
    """Risk and finding per zone for one rule.

    * a hit gives the rule's risk (RED or YELLOW), or GREEN with finding ``exempt`` where the law exempts
      land already regulated (e.g. jordlova § 2);
    * no hit but a feature within ``proximity_m`` (beyond ``zone_m``) is YELLOW, ``near``;
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
    ex = hit & exempt
    risk[ex] = Risk.GREEN.value
    finding[ex] = EXEMPT
    return risk, finding
