"""Rules as data, the overlay engine, findings and risk, business-area status, land-reserve accounting.

Public entry points (see each module for details)::

    rules = load_rules(override_path)                        # constraints.rules
    index = ConstraintIndex(layers, rules)                   # build once per layer versions + rules
    result = run_analysis(zoning, layers, rules, index=index)  # findings, objection_risk, business_areas, land_reserve
    report = check_site(polygon, index, rules, kommunenummer)  # one drawn site, DOK-arealanalyse style
"""

from constraints.analysis import ZoneAnalysis, run_analysis
from constraints.business import BUSINESS_COLUMNS, business_areas
from constraints.errors import (
    ConstraintsError,
    CRSMismatchError,
    MissingColumnError,
    MissingCRSError,
    NonMetricCRSError,
    RuleSetError,
    SiteGeometryError,
    UnknownRuleError,
)
from constraints.findings import FINDING_COLUMNS
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer, check_crs
from constraints.overlay import RISK_COLUMNS, analyse_zones, objection_risk
from constraints.reserve import RESERVE_COLUMNS, land_reserve, land_reserve_csv, land_reserve_json
from constraints.risk import Risk
from constraints.rules import Rule, RuleSet, describe_rules, load_rules
from constraints.site import SiteReport, check_site

__all__ = [
    "BUSINESS_COLUMNS", "FINDING_COLUMNS", "RESERVE_COLUMNS", "RISK_COLUMNS",
    "CRSMismatchError", "ConstraintIndex", "ConstraintLayer", "ConstraintsError", "MissingCRSError",
    "MissingColumnError", "NonMetricCRSError", "Risk", "Rule", "RuleSet", "RuleSetError", "SiteGeometryError",
    "SiteReport", "UnknownRuleError", "ZoneAnalysis",
    "analyse_zones", "business_areas", "check_crs", "check_site", "describe_rules", "land_reserve",
    "land_reserve_csv", "land_reserve_json", "load_rules", "objection_risk", "run_analysis",
]
