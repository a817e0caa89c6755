"""Why a zone's objection risk changed between two versions of ``objection-risk``: the rules whose risk moved."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class RiskChange:
    """A zone whose risk changed, and per rule ``(rule_id, old risk, new risk)`` for the rules that moved."""

    zone_id: object
    old_risk: str
    new_risk: str
    rules: list[tuple[str, str, str]]


def _by_rule(value: Any) -> dict[str, str]:
    findings = json.loads(value) if isinstance(value, str) and value else (value or [])
    return {str(f.get("rule_id")): str(f.get("risk")) for f in findings if isinstance(f, dict)}


def risk_changes(old: pd.DataFrame, new: pd.DataFrame) -> list[RiskChange]:
    """Zones (by ``zone_id``) present in both versions whose ``objection_risk`` differs, with the reasons."""
    a = old.set_index("zone_id")
    b = new.set_index("zone_id")
    both = a.index.intersection(b.index)
    out: list[RiskChange] = []
    for zone in both:
        before, after = str(a.at[zone, "objection_risk"]), str(b.at[zone, "objection_risk"])
        if before == after:
            continue
        r0, r1 = _by_rule(a.at[zone, "findings"]), _by_rule(b.at[zone, "findings"])
        moved = [(rid, r0.get(rid, "GREEN"), r1.get(rid, "GREEN")) for rid in sorted(set(r0) | set(r1))
                 if r0.get(rid, "GREEN") != r1.get(rid, "GREEN")]
        out.append(RiskChange(zone_id=zone.item() if hasattr(zone, "item") else zone, old_risk=before,
                              new_risk=after, rules=moved))
    return out
