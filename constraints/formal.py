"""Which zoning areas belong to a formål group (building, business ...), read from the canonical columns.

``arealformal`` (SOSI code), ``plantype`` (kommuneplan / reguleringsplan / None) and ``planstatus``.
Old PBL-1985 codes mean different things in KP and RP, so the plan type matters; see ``default_rules.yaml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from constraints.codes import in_ranges
from constraints.rules import ALL_FORMAL, FormalGroup, Rule, RuleSet

KP = "kommuneplan"
RP = "reguleringsplan"


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A canonical column, or an all-missing one when ingest did not find it."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def numeric(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A canonical integer column as float64 with NaN for missing values."""
    return pd.to_numeric(column(frame, name), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def plan_types(frame: pd.DataFrame) -> np.ndarray:
    """Normalised plan type per zone: ``kommuneplan``, ``reguleringsplan`` or ``""`` (unknown).

    Kommunedelplan counts as kommuneplan; bebyggelsesplan (PBL 1985) as reguleringsplan.
    """
    values = column(frame, "plantype").to_numpy(dtype=object)
    text = np.array(["" if not isinstance(v, str) and pd.isna(v) else str(v) for v in values], dtype=object)
    uniques, inverse = np.unique(text, return_inverse=True)
    return np.array([_plan_type(u) for u in uniques], dtype=object)[inverse].reshape(len(frame))


# SOSI Plan kodeliste Plantype: 20 kommuneplanens arealdel, 21 kommunedelplan, 22 mindre endring av
# kommune(del)plan; 30 eldre reguleringsplan … 35 detaljregulering (32/33 bebyggelsesplaner count as RP).
_SOSI_PLANTYPE = {"20": "kommune", "21": "kommune", "22": "kommune", "30": "regul", "31": "regul", "32": "regul",
                  "33": "regul", "34": "regul", "35": "regul"}


def _plan_type(text: str) -> str:
    t = text.strip().lower()
    t = _SOSI_PLANTYPE.get(t.split(".")[0], t)
    if t.startswith("kommune"):
        return KP
    if t.startswith(("regul", "bebyggelse")):
        return RP
    return ""


def in_group(frame: pd.DataFrame, group: FormalGroup) -> np.ndarray:
    """Boolean mask of zones whose arealformål is in ``group`` for their plan type."""
    codes = numeric(frame, "arealformal")
    ptype = plan_types(frame)
    mask = in_ranges(codes, group.any)
    mask |= (ptype == KP) & in_ranges(codes, group.kommuneplan)
    mask |= (ptype == RP) & in_ranges(codes, group.reguleringsplan)
    return mask


def applies(frame: pd.DataFrame, rule: Rule, rules: RuleSet,
            groups: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Which zones a rule applies to (its ``applies_to`` formål group, or all).

    ``groups`` is a dict the caller keeps across rules, so each group mask is computed once.
    """
    if rule.applies_to == ALL_FORMAL:
        return np.ones(len(frame), dtype=bool)
    if groups is not None:
        if rule.applies_to not in groups:
            groups[rule.applies_to] = in_group(frame, rules.formal_groups[rule.applies_to])
        return groups[rule.applies_to]
    return in_group(frame, rules.formal_groups[rule.applies_to])


def in_force_regulation(frame: pd.DataFrame, rules: RuleSet) -> np.ndarray:
    """Zones in a reguleringsplan that is law (planstatus in ``business.in_force_planstatus``)."""
    status = numeric(frame, "planstatus")
    return (plan_types(frame) == RP) & np.isin(status, np.asarray(rules.business.in_force_planstatus, float))


def kp_reserve(frame: pd.DataFrame, rules: RuleSet) -> np.ndarray:
    """Zones that are a land reserve settled in an adopted kommuneplan: KP, planstatus in force, framtidig."""
    status = numeric(frame, "planstatus")
    use = numeric(frame, "arealbruksstatus")
    b = rules.business
    return ((plan_types(frame) == KP) & np.isin(status, np.asarray(b.in_force_planstatus, float))
            & np.isin(use, np.asarray(b.reserve_arealbruksstatus, float)))


def plan_building_line(frame: pd.DataFrame, field: str) -> np.ndarray:
    """The plan's own building line per zone from ``field`` (text as given; None where the plan sets none)."""
    values = column(frame, field).to_numpy(dtype=object)
    out = np.full(len(frame), None, dtype=object)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            continue
        text = str(v).strip()
        if text and text.lower() not in ("nan", "none", "0", "false", "nei", "no"):
            out[i] = text
    return out


def settled_within(frame: pd.DataFrame, years: int, today: pd.Timestamp | None = None) -> np.ndarray:
    """Zones whose plan was adopted (``vedtaksdato``) less than ``years`` ago; unknown dates are False."""
    dates = pd.to_datetime(column(frame, "vedtaksdato"), errors="coerce", format="mixed")
    now = pd.Timestamp.now() if today is None else today
    return (dates > now - pd.DateOffset(years=years)).fillna(False).to_numpy(dtype=bool)
