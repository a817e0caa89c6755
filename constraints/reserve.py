"""Land-reserve accounting per municipality: business land by status, net available land and the dyrka jord
the reserves would consume, with the national farmland target as context."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from constraints.business import CONFLICT, PRE_APPROVED, RESERVE
from constraints.findings import M2_PER_DAA

NATIONAL_FARMLAND_TARGET: dict[str, Any] = {
    "max_rezoned_daa_per_year": 2000,
    "by_year": 2030,
    "decided_by": "Stortinget 2023 (oppdatert nasjonal jordvernstrategi)",
    "legal_basis": "jordlova § 9",
    "note_nb": "Nasjonalt mål: høyst 2 000 daa dyrka jord omdisponert per år innen 2030.",
    "note_en": "National target: at most 2 000 daa of cultivated land re-zoned per year by 2030.",
}

RESERVE_COLUMNS: tuple[str, ...] = (
    "kommunenummer", "kommunenavn",
    "pre_approved_daa", "reserve_daa", "conflict_daa",  # counted area by status
    "conflict_pre_approved_daa", "conflict_reserve_daa",
    "business_total_daa",  # pre-approved + reserve + conflict
    "net_available_daa",  # after RED constraints and built-up land
    "farmland_in_reserves_daa",  # dyrka jord inside reserves (incl. reserves in conflict)
    "n_pre_approved", "n_reserve", "n_conflict",
)

_COUNTED = (PRE_APPROVED, RESERVE, CONFLICT)


def counted_daa(business: pd.DataFrame) -> pd.Series:
    """The area a business zone counts for in every total the service shows (map legend, land-reserve report,
    API): ``counted_m2`` in dekar. For a reserve that is its unregulated remainder (the parts already covered by
    an in-force reguleringsplan are counted there, as pre-approved land), for every other zone the zone itself.
    """
    return business["counted_m2"].astype(float) / M2_PER_DAA


def land_reserve(business: pd.DataFrame) -> pd.DataFrame:
    """Account business land per municipality from :func:`~constraints.business.business_areas`.

    Returns one row per municipality (``kommunenummer`` None collects zones outside any known municipality)
    with :data:`RESERVE_COLUMNS`, sorted by kommunenummer; areas in dekar.
    """
    b = business[business["status"].isin(_COUNTED)].copy()
    if len(b) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in RESERVE_COLUMNS})
    b["knr"] = b["kommunenummer"].fillna("")
    b["daa"] = counted_daa(b)
    is_reserve = (b["status"] == RESERVE) | ((b["status"] == CONFLICT) & (b["conflict_of"] == RESERVE))
    b["reserve_farmland_daa"] = np.where(is_reserve, b["farmland_m2"] / M2_PER_DAA, 0.0)
    rows = []
    for knr, g in b.groupby("knr", sort=True):
        st = g["status"]
        rows.append({
            "kommunenummer": knr or None,
            "kommunenavn": next((n for n in g["kommunenavn"] if n), None),
            "pre_approved_daa": g.loc[st == PRE_APPROVED, "daa"].sum(),
            "reserve_daa": g.loc[st == RESERVE, "daa"].sum(),
            "conflict_daa": g.loc[st == CONFLICT, "daa"].sum(),
            "conflict_pre_approved_daa": g.loc[(st == CONFLICT) & (g["conflict_of"] == PRE_APPROVED), "daa"].sum(),
            "conflict_reserve_daa": g.loc[(st == CONFLICT) & (g["conflict_of"] == RESERVE), "daa"].sum(),
            "business_total_daa": g["daa"].sum(),
            "net_available_daa": g["net_available_daa"].sum(),
            "farmland_in_reserves_daa": g["reserve_farmland_daa"].sum(),
            "n_pre_approved": int((st == PRE_APPROVED).sum()),
            "n_reserve": int((st == RESERVE).sum()),
            "n_conflict": int((st == CONFLICT).sum()),
        })
    return pd.DataFrame(rows, columns=list(RESERVE_COLUMNS))


def land_reserve_csv(table: pd.DataFrame) -> str:
    """The accounting table as CSV text (UTF-8, comma, areas rounded to 0.1 daa)."""
    buf = io.StringIO()
    table.round(1).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def land_reserve_json(table: pd.DataFrame, provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """The accounting as a JSON-able dict: per municipality, region totals and the national target as context."""
    records = [{k: _plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
    sums = {c: round(float(table[c].sum()), 3) if len(table) else 0.0
            for c in RESERVE_COLUMNS if c.endswith("_daa")}
    counts = {c: int(table[c].sum()) if len(table) else 0 for c in RESERVE_COLUMNS if c.startswith("n_")}
    farmland = sums.get("farmland_in_reserves_daa", 0.0)
    target = NATIONAL_FARMLAND_TARGET["max_rezoned_daa_per_year"]
    return {
        "unit": "daa (1 daa = 1 000 m²)",
        "municipalities": records,
        "region": {**sums, **counts},
        "national_farmland_target": {
            **NATIONAL_FARMLAND_TARGET,
            "reserves_farmland_daa": farmland,
            "share_of_one_year_national_quota": round(farmland / target, 4),
        },
        "provenance": provenance or {},
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else round(float(value), 3)
    if isinstance(value, np.integer):
        return int(value)
    return value
