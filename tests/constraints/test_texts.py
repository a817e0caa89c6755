"""Issue 14 point 9: every rule walked through every outcome it can give, through the engine, in bokmål and
English; the sentence shown must be the one true for that outcome and name the legal basis and the authority.

Synthetic geometry in EPSG:25832: one 100 m x 100 m zone at the origin; per outcome one feature placed so that
outcome must follow (inside, near, clear, not mapped, exempt, boundary touch, pbl § 5-5 reserve).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from constraints.overlay import analyse_zones
from constraints.rules import Rule, RuleSet, load_rules

from .conftest import WORLD, frame, layer, zoning

ZONE = box(0, 0, 100, 100)
RULES = load_rules()

# words each outcome's sentence must contain (any of them), per language
MARKERS: dict[str, dict[str, tuple[str, ...]]] = {
    "inside": {"nb": ("ligger i", "ligger innenfor", "omfatter", "i området"),
               "en": ("lies in", "lies within", "contains", "in the area")},
    "near": {"nb": ("m unna",), "en": ("m away",)},
    "clear": {"nb": ("ingen", "utenfor"), "en": ("no ", "outside")},
    "not_mapped": {"nb": ("ikke kartlagt her",), "en": ("not mapped here",)},
    "exempt": {"nb": ("gjelder ikke", "går foran"), "en": ("does not apply", "do not apply", "prevails")},
    "boundary": {"nb": ("grenseberøring", "Juster formålsgrensen"), "en": ("boundary touch", "Adjust the zoning")},
}
# formål code used for a zone a rule applies to
CODE = {"building": 1300, "farmland_consuming": 1300, "vulnerable_functions": 1160}


def _attrs(rule: Rule) -> dict[str, Any]:
    """Attribute values that the rule's ``select`` accepts."""
    return {k: ("016/8" if v[0] == "*" else v[-1] if k == "gjentaksintervall" else v[0])
            for k, v in rule.select.items()}


def _feature(rule: Rule, where: str) -> shapely.Geometry:
    """A feature giving the outcome ``where`` for a 100 x 100 m zone at the origin."""
    zone_m, prox, _ = rule.distances_for("3303")
    if where == "inside":
        return box(-50, -50, 150, 150) if zone_m == 0 else Point(50, 50)
    if where == "boundary":  # a sliver reaching 0.05 m into the zone along 20 m of its east edge
        return box(99.95, 40, 130, 60) if zone_m == 0 else LineString([(100 + zone_m - 0.05, 40),
                                                                        (100 + zone_m - 0.05, 60)])
    if where == "near":
        return Point(100 + (zone_m + prox) / 2, 50)
    return box(3_000, 3_000, 3_050, 3_050)  # clear / not mapped: far beyond every band


def _run(rule: Rule, where: str, *, plantype: str = "kommuneplan", arealbruksstatus: int = 1,
         extra: dict[str, Any] | None = None, coverage: shapely.Geometry = WORLD) -> pd.Series:
    attrs = _attrs(rule)
    feats = frame([_feature(rule, where)], **{k: [v] for k, v in attrs.items()})
    layers = {"target": layer("target", rule.kind.value, feats, coverage=coverage)}
    zones = zoning([ZONE], arealformal=[CODE[rule.applies_to]], plantype=plantype,
                   arealbruksstatus=arealbruksstatus)
    for k, v in (extra or {}).items():
        zones[k] = [v]
    rs = RuleSet.model_validate({**RULES.model_dump(), "rules": [rule.model_dump()]})
    findings = analyse_zones(zones, layers, rs)
    return findings.set_index("rule_id").loc[rule.id]


def _cases(rule: Rule) -> list[tuple[str, str, dict[str, Any]]]:
    """(text key, placement, options) for every text key the rule can produce."""
    cases: list[tuple[str, str, dict[str, Any]]] = [("inside", "inside", {}), ("clear", "clear", {}),
                                                    ("not_mapped", "clear", {"coverage": box(5e5, 5e5, 5e5 + 1, 5e5 + 1)})]
    keys = rule.text_keys()
    if "near" in keys:
        cases.append(("near", "near", {}))
    if "boundary" in keys:
        cases.append(("boundary", "boundary", {}))
    if "exempt" in keys:
        cases.append(("exempt", "near" if rule.has_band else "inside", {"plantype": "reguleringsplan"}))
    if "exempt_line" in keys:
        cases.append(("exempt_line", "inside", {"extra": {rule.exempt_plan_building_line: "20"}}))
    if "inside_reserve" in keys:
        cases.append(("inside_reserve", "inside", {"arealbruksstatus": 2}))
        recent = date.today().replace(year=date.today().year - 3).isoformat()
        cases.append(("inside_settled", "inside", {"arealbruksstatus": 2, "extra": {"vedtaksdato": recent}}))
    return cases


CASES = [(r.id, key, where, opts) for r in RULES.active_rules for key, where, opts in _cases(r)]


def test_every_rule_has_every_text_it_can_need() -> None:
    assert len(RULES.active_rules) == 16
    for rule in RULES.active_rules:
        for key in rule.text_keys():
            assert RULES.text(rule, key) is not None, (rule.id, key)
    # the walk below covers all six outcomes for the rules that can give them
    assert {key for _, key, _, _ in CASES} >= {"inside", "near", "clear", "not_mapped", "exempt", "boundary"}


@pytest.mark.parametrize(("rule_id", "key", "where", "opts"), CASES,
                         ids=[f"{r}-{k}" for r, k, _, _ in CASES])
def test_the_sentence_is_true_for_the_outcome(rule_id: str, key: str, where: str, opts: dict[str, Any]) -> None:
    rule = RULES.rule(rule_id)
    f = _run(rule, where, **opts)
    outcome = {"inside_reserve": "inside", "inside_settled": "inside", "exempt_line": "exempt"}.get(key, key)
    assert f["outcome"] == outcome, (f["outcome"], f["note"])
    expected_risk = {"clear": "GREEN", "exempt": "GREEN", "not_mapped": "NOT_MAPPED", "boundary": "YELLOW",
                     "near": "YELLOW"}.get(outcome, rule.risk)
    if rule.level == "internal" and outcome in ("inside", "near", "boundary"):
        expected_risk = "INTERNAL"
    if key == "inside_settled":
        expected_risk = rule.settled_reserve.risk  # type: ignore[union-attr]
    assert f["risk"] == expected_risk
    assert f["rule_title_nb"] == rule.title_nb and f["rule_title_en"] == rule.title_en
    for lang in ("nb", "en"):
        text = f[f"text_{lang}"]
        assert text == f[f"explanation_{lang}"]  # the legacy field shows the same true sentence
        assert text.startswith(rule.title_nb if lang == "nb" else rule.title_en)
        assert rule.legal_basis in text, (lang, text)
        assert rule.authority in text, (lang, text)
        assert "…" not in text and "{" not in text, text  # every value the sentence names is filled in
        assert any(m in text for m in MARKERS[outcome][lang]), (lang, text)
        if outcome == "near":
            d = f"{f['distance_m']:.0f}" if f["distance_m"] >= 10 else f"{f['distance_m']:.1f}"
            assert (d.replace(".", ",") if lang == "nb" else d) in text
        if key in ("inside_reserve", "inside_settled"):
            assert "§ 5-5" in text
        if key == "exempt_line":
            assert "20 m" in text
        if outcome == "not_mapped":
            assert ("utenfor det kartlaget oppgir" if lang == "nb" else "outside what the layer says") in text


@pytest.mark.parametrize("rule_id", [r.id for r in RULES.active_rules if r.theme == "heritage"])
def test_heritage_green_says_no_known_site_never_clear_ground(rule_id: str) -> None:
    rule = RULES.rule(rule_id)
    f = _run(rule, "clear", coverage=None)  # Askeladden is a register: absence means no *known* site
    assert f["outcome"] == "clear" and f["risk"] == "GREEN"
    if rule_id == "heritage-automatic":
        assert "no known site" in f["text_en"] and "ingen kjente kulturminner" in f["text_nb"]
        assert "§ 9" in f["text_en"] and "§ 9" in f["text_nb"]


def test_watercourse_texts_say_which_limit_applies_per_municipality(tmp_path) -> None:
    override = tmp_path / "r.yaml"
    override.write_text('rules:\n  - id: watercourse-belt\n    municipality_overrides:\n'
                        '      "3303": {zone_m: 50, note: "KPA 2022-2030 bestemmelse 3.4"}\n', encoding="utf-8")
    rs = load_rules(override)
    river = frame([LineString([(140, -1_000), (140, 1_000)])])  # 40 m east of the zones
    zones = zoning([ZONE, ZONE], arealformal=[1300, 1300], kommunenummer=["3303", "4026"], fids=[1, 2])
    layers = {"elv": layer("elv", "watercourse", river)}
    f = analyse_zones(zones, layers, rs).set_index(["zone_id", "rule_id"])
    own, default = f.loc[(1, "watercourse-belt")], f.loc[(2, "watercourse-belt")]
    assert own["outcome"] == default["outcome"] == "inside"
    assert "Kongsberg (3303) has set 50 m in its master plan (KPA 2022-2030 bestemmelse 3.4)" in own["text_en"]
    assert "Kongsberg (3303) har fastsatt 50 m i kommuneplanens arealdel" in own["text_nb"]
    assert ("Tinn (4026) has not had its own limit configured; the service assumes 100 m (the legal maximum)"
            in default["text_en"])
    assert "tjenesten antar 100 m (lovens maksimum)" in default["text_nb"]
    assert "assumes" not in own["text_en"]


def test_overall_objection_texts_are_published_with_titles_that_tell_rules_apart() -> None:
    sites = frame([box(40, 40, 60, 60), box(20, 20, 30, 30)], vernetype=["AUT", "VED"])
    zones = zoning([ZONE], arealformal=[1300])
    f = analyse_zones(zones, {"km": layer("km", "heritage", sites)}, RULES).set_index("rule_id")
    aut, ved = f.loc["heritage-automatic"], f.loc["heritage-decision"]
    assert aut["outcome"] == ved["outcome"] == "inside" and aut["risk"] == ved["risk"] == "RED"
    assert aut["rule_title_en"] != ved["rule_title_en"]
    assert "5 m safety zone" in aut["text_en"] and "§ 6" in aut["text_en"]
    assert "follow from the protection decision" in ved["text_en"] and "§ 6" not in ved["text_en"]
    assert "Riksantikvaren" in ved["text_nb"] and "Riksantikvaren" not in aut["text_nb"]


def test_many_findings_render_the_same_sentences_as_one_by_one(tmp_path) -> None:
    # 40 zones (grouped rendering) against each zone alone (rendered one by one): the same sentences
    override = tmp_path / "r.yaml"
    override.write_text('rules:\n  - id: watercourse-belt\n    municipality_overrides:\n      "4005": {zone_m: 50}\n',
                        encoding="utf-8")
    rs = load_rules(override)
    river = frame([LineString([(0, -1_000), (0, 10_000)])])
    ar5 = frame([box(-500, -1_000, 60, 10_000)], arealtype=[21])
    geoms = [box(5 * i + 1, 200 * i, 5 * i + 101, 200 * i + 100) for i in range(40)]
    zones = zoning(geoms, arealformal=[1300] * 40, kommunenummer=["3303", "4005"] * 20,
                   plantype=["reguleringsplan"] * 10 + ["kommuneplan"] * 30, fids=list(range(40)))
    layers = {"elv": layer("elv", "watercourse", river), "ar5": layer("ar5", "farmland", ar5)}
    together = analyse_zones(zones, layers, rs).set_index(["zone_id", "rule_id"])
    assert len(together) == 40 * (len(rs.active_rules) - 1)  # flood-zone-1000 is for formål 1160-1169 only
    outcomes = set(together["outcome"])
    assert {"inside", "near", "exempt", "not_mapped"} <= outcomes
    for i in (0, 1, 7, 25, 33, 39):
        alone = analyse_zones(zones.iloc[[i]], layers, rs).set_index(["zone_id", "rule_id"])
        for key in alone.index:
            assert together.loc[key, "text_en"] == alone.loc[key, "text_en"]
            assert together.loc[key, "text_nb"] == alone.loc[key, "text_nb"]
