"""One call for the whole zoning analysis (what ``geo-service analyse`` publishes as derived collections)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from constraints._parallel import run_tasks
from constraints.business import business_areas
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer
from constraints.overlay import analyse_zones, objection_risk
from constraints.reserve import land_reserve
from constraints.rules import RuleSet


@dataclass(frozen=True)
class ZoneAnalysis:
    """Derived results of one analysis run and what they were computed from."""

    findings: pd.DataFrame  # one row per (zone, rule): constraints.findings.FINDING_COLUMNS
    objection_risk: gpd.GeoDataFrame  # one row per zone: constraints.overlay.RISK_COLUMNS
    business_areas: gpd.GeoDataFrame  # one row per business zone: constraints.business.BUSINESS_COLUMNS
    land_reserve: pd.DataFrame  # one row per municipality: constraints.reserve.RESERVE_COLUMNS
    provenance: dict[str, Any]  # input layer versions, rules hash, repaired geometry counts
    # what ``convert`` made of objection_risk and business_areas (run_analysis), e.g. their storable frames
    converted: tuple[Any, Any] | None = None


# convert(name, frame, findings): called on each result frame in the thread that computed it
Convert = Callable[[str, gpd.GeoDataFrame, pd.DataFrame], Any]


def run_analysis(zoning: gpd.GeoDataFrame, constraints: Mapping[str, ConstraintLayer], rules: RuleSet, *,
                 built_up: gpd.GeoDataFrame | None = None, index: ConstraintIndex | None = None,
                 convert: Convert | None = None, published_only: bool = False) -> ZoneAnalysis:
    """Findings, objection risk, business areas and land reserve for a zoning layer in one pass.

    Parameters
    ----------
    zoning
        Zoning polygons (canonical columns, working CRS).
    constraints
        Constraint layers by id; a ``municipality`` layer fills missing kommunenummer and names.
    rules
        The effective rule set.
    built_up
        Optional built-up footprints, subtracted from the net available business area.
    index
        A prebuilt index for ``constraints`` and ``rules`` (built here when omitted).
    convert
        Called as ``convert("objection-risk" | "business-areas", frame, findings)`` right after each frame is
        computed, on the same thread: converting the objection risk for publishing (Python) overlaps with the
        net business areas (GEOS). Its results are ``ZoneAnalysis.converted``.
    published_only
        Leave out what only unpublished findings would show (see :func:`~constraints.overlay.analyse_zones`).

    Returns
    -------
    ZoneAnalysis
    """
    index = index if index is not None else ConstraintIndex(constraints, rules)
    findings = analyse_zones(zoning, constraints, rules, index=index, published_only=published_only)
    def then(name: str, frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, Any]:
        return frame, convert(name, frame, findings) if convert is not None else None

    # independent: the risk summary is mostly Python, the net business area mostly GEOS (off the GIL)
    (risk, risk_converted), (business, business_converted) = run_tasks(lambda task: task(), [
        lambda: then("objection-risk", objection_risk(zoning, findings, rules)),
        lambda: then("business-areas", business_areas(zoning, findings, rules, index, built_up=built_up))])
    reserve = land_reserve(business)
    provenance = dict(findings.attrs.get("provenance", {}))
    converted = (risk_converted, business_converted) if convert is not None else None
    return ZoneAnalysis(findings, risk, business, reserve, provenance, converted)
