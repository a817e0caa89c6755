"""Site check: the findings for one drawn polygon, per theme, in the shape DOK-arealanalyse users know
(HIT-RED / HIT-YELLOW / NO-HIT-GREEN / NOT-MAPPED, hit area, distance, guidance, coverage)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from constraints.errors import SiteCheckOverBudget, SiteGeometryError, SiteTooComplex
from constraints.findings import M2_PER_DAA, coverage_label, finding_texts
from constraints.geometry import repair
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer
from constraints.measure import measure
from constraints.overlay import rule_outcome
from constraints.region import kommunenavn
from constraints.risk import Risk, outcome_of, worst
from constraints.rules import RuleSet

ASSESSMENT_NB = (
    "Stedssjekken vurderer området som om det skulle bebygges på nytt (nytt byggeformål): unntak som gjelder "
    "areal i vedtatt reguleringsplan (jordlova § 2, pbl § 1-8) eller planens egen byggegrense (vegloven § 29) er "
    "ikke brukt, og heller ikke pbl § 5-5. Innsigelsesrisikoen per arealformålsområde i samlingen "
    "«objection-risk» bruker disse unntakene; derfor kan et område der være grønt (unntatt) og rødt her."
)
ASSESSMENT_EN = (
    "The site check assesses the area as if it were to be built anew (a new building formål): exemptions for "
    "land in an in-force zoning plan (Land Act § 2, PBL § 1-8) or the plan's own building line (Roads Act § 29) "
    "are not applied, nor is PBL § 5-5. The per-zone objection risk in the 'objection-risk' collection applies "
    "those exemptions; so an area may be green (exempt) there and red here."
)


@dataclass(frozen=True)
class RuleResult:
    """One rule's finding for the site."""

    rule_id: str
    theme: str
    status: str  # HIT-RED / HIT-YELLOW / NO-HIT-GREEN / NOT-MAPPED
    risk: str
    finding: str  # hit / near / clear / not_mapped / boundary (a site check applies no exemption)
    outcome: str  # inside / near / clear / not_mapped / boundary
    level: str  # objection / internal
    rule_title_nb: str
    rule_title_en: str
    text_nb: str  # the sentence true for this outcome, naming legal basis and authority
    text_en: str
    hit_area_m2: float
    hit_area_daa: float
    share: float
    distance_m: float | None
    hit_ids: list[int]
    hit_layers: list[str]
    zone_m: float
    proximity_m: float
    zone_m_source: str
    coverage: str  # full / partial / none / no-layer
    coverage_text: str
    authority: str
    legal_basis: str
    guidance_nb: str
    guidance_en: str
    note_nb: str = ""  # why the rule could not use a layer (e.g. a field it selects on is missing)
    note_en: str = ""


@dataclass(frozen=True)
class ThemeResult:
    """The worst rule result of one theme (watercourse, farmland, heritage, flood, road)."""

    theme: str
    status: str
    risk: str
    rules: list[RuleResult]


@dataclass(frozen=True)
class SiteReport:
    """What a site check answers; ``to_dict()`` is the JSON body."""

    area_m2: float
    area_daa: float
    kommunenummer: str | None
    kommunenavn: str | None
    objection_risk: str
    status: str
    themes: list[ThemeResult]
    provenance: dict[str, Any] = field(default_factory=dict)
    elapsed_ms: float = 0.0
    assessment: str = "new-building"  # the site is checked as new building; no exemption is applied
    assessment_nb: str = ""
    assessment_en: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (NaN distances become None)."""
        return asdict(self)


@dataclass(frozen=True)
class SiteLimits:
    """How large and complex a site may be; the work of a check grows with each of these."""

    max_vertices: int = 50_000
    max_parts: int = 500
    max_holes: int = 1_000
    max_area_m2: float = 100e6  # 100 km²


def validate_site(geometry: BaseGeometry, limits: SiteLimits) -> None:
    """Refuse a site past ``limits`` (``SiteTooComplex``; ``SiteGeometryError`` for the area), before any work."""
    vertices = int(shapely.get_num_coordinates(geometry))
    if vertices > limits.max_vertices:
        raise SiteTooComplex(f"the outline has {vertices} vertices; at most {limits.max_vertices} are checked — "
                             "simplify it / omrisset har for mange punkter")
    parts = shapely.get_parts(geometry)
    if len(parts) > limits.max_parts:
        raise SiteTooComplex(f"the site has {len(parts)} polygons; at most {limits.max_parts} are checked "
                             "/ tomta har for mange deler")
    holes = int(shapely.get_num_interior_rings(parts).sum()) if len(parts) else 0
    if holes > limits.max_holes:
        raise SiteTooComplex(f"the site has {holes} holes; at most {limits.max_holes} are checked "
                             "/ tomta har for mange hull")
    area = float(shapely.area(geometry))
    if area > limits.max_area_m2:
        raise SiteGeometryError(f"the site covers {area / 1e6:.1f} km²; at most {limits.max_area_m2 / 1e6:g} km² "
                                "are checked at once — check a smaller area / tomta er for stor")


def check_site(geometry: BaseGeometry, constraints: ConstraintIndex | Mapping[str, ConstraintLayer],
               rules: RuleSet, kommunenummer: str | None = None, budget_s: float | None = None) -> SiteReport:
    """Check one site against every active rule, as if it were zoned for new building.

    Parameters
    ----------
    geometry
        The site (polygon; points and lines are accepted and have no area) in the working CRS (EPSG:25832).
    constraints
        A prebuilt :class:`~constraints.index.ConstraintIndex` (fast: build it once, check many sites) or the
        constraint layers by id (the index is built for this one call).
    rules
        The rule set; must be the one the index was built with.
    kommunenummer
        Municipality whose distances apply (watercourse belt); found from a municipality layer when None.
    budget_s
        Time budget: past it the check stops between two rules with ``SiteCheckOverBudget``.

    Returns
    -------
    SiteReport
        Per-theme status with the rule results, the overall risk (RED > YELLOW > NOT_MAPPED > GREEN),
        provenance (layer versions, rules hash) and the time taken.
    """
    started = time.perf_counter()
    index = constraints if isinstance(constraints, ConstraintIndex) else ConstraintIndex(constraints, rules)
    site = _site_geometry(geometry)
    zones = np.array([site], dtype=object)
    if kommunenummer is None and index.municipalities is not None:
        kommunenummer = index.municipalities.locate(zones)[0]
    area = float(shapely.area(site))
    results: list[RuleResult] = []
    names = index.municipalities.names() if index.municipalities is not None else {}
    area_arr = np.array([area])
    for rule in rules.active_rules:
        if budget_s is not None and time.perf_counter() - started > budget_s:
            raise SiteCheckOverBudget(f"the check took longer than its {budget_s:g} s budget; simplify or split "
                                      "the site / analysen tok for lang tid")
        zone, prox, source = rule.distances_for(kommunenummer)
        target = index.target(rule.id)
        m = measure(zones, np.array([zone]), target)
        # a site check treats the site as new building: no plan, so no exemption and no § 5-5
        risk, finding, _, keys = rule_outcome(rule, rules, m, area_arr, np.array([zone]), np.array([prox]),
                                              np.zeros(1, dtype=bool), None, None, None)
        text_nb, text_en = finding_texts(
            rules, rule, keys=keys, finding=finding, zone_m=np.array([zone]), proximity_m=np.array([prox]),
            source=np.array([source], dtype=object), distance_m=m.distance_m, overlap_m2=m.overlap_m2,
            share=m.overlap_m2 / area if area > 0 else np.zeros(1), kommunenummer=np.array([kommunenummer], dtype=object),
            coverage=m.coverage, coverage_basis=index.coverage.basis(target.layer_ids), names=names,
            plan_line=None, layer_ids=target.layer_ids, missing_fields=target.missing_fields)
        dist = float(m.distance_m[0])
        results.append(RuleResult(
            rule_id=rule.id, theme=rule.theme, status=Risk(risk[0]).dok_status, risk=str(risk[0]),
            finding=str(finding[0]), outcome=outcome_of(str(finding[0])), level=rule.level,
            rule_title_nb=rule.title_nb, rule_title_en=rule.title_en, text_nb=str(text_nb[0]),
            text_en=str(text_en[0]), hit_area_m2=float(m.overlap_m2[0]),
            hit_area_daa=float(m.overlap_m2[0]) / M2_PER_DAA,
            share=float(m.overlap_m2[0]) / area if area > 0 else 0.0,
            distance_m=None if np.isnan(dist) else dist,
            hit_ids=[int(x) for x in target.fids[m.hit_feature]],
            hit_layers=[target.layer_ids[i] for i in target.layer_of[m.hit_feature]],
            zone_m=zone, proximity_m=prox, zone_m_source=source, coverage=str(m.coverage[0]),
            coverage_text=coverage_label(str(m.coverage[0])), authority=rule.authority,
            legal_basis=rule.legal_basis, guidance_nb=str(text_nb[0]), guidance_en=str(text_en[0]),
            note_nb=target.missing_reason("nb"), note_en=target.missing_reason("en"),
        ))
    themes = []
    for theme in dict.fromkeys(r.theme for r in results):
        group = [r for r in results if r.theme == theme]
        theme_risk = worst(r.risk for r in group)
        themes.append(ThemeResult(theme=theme, status=theme_risk.dok_status, risk=theme_risk.value, rules=group))
    overall = worst(t.risk for t in themes)
    return SiteReport(
        area_m2=area, area_daa=area / M2_PER_DAA, kommunenummer=kommunenummer,
        kommunenavn=kommunenavn(kommunenummer, names), objection_risk=overall.value, status=overall.dok_status,
        themes=themes, provenance=index.provenance(), elapsed_ms=(time.perf_counter() - started) * 1000,
        assessment="new-building", assessment_nb=ASSESSMENT_NB, assessment_en=ASSESSMENT_EN,
    )


def _site_geometry(geometry: BaseGeometry) -> BaseGeometry:
    if geometry is None or not isinstance(geometry, BaseGeometry):
        raise SiteGeometryError(f"expected a shapely geometry, got {type(geometry).__name__}")
    if geometry.is_empty:
        raise SiteGeometryError("the geometry is empty")
    fixed, _ = repair(np.array([geometry], dtype=object))
    return fixed[0]
