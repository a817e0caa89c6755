"""Every rule has a sentence for every outcome in both languages, true for the numbers it is given, and the
outcome of a stored finding (objection-risk) is derived from its risk, area and distance."""

from __future__ import annotations

import re

import pytest

from constraints.rules import load_rules
from maps.site_report import rule_row
from maps.site_texts import OUTCOMES, next_step, outcome_of, rule_title, statement

VALUES = {"hit_m2": "1 234 m²", "hit_daa": "1,2 daa", "share": "12,5 %", "distance": "164 m",
          "zone": "100 m (standard)", "proximity": "200 m"}


@pytest.mark.parametrize("rule", load_rules().rules, ids=lambda r: r.id)
def test_each_rule_has_each_outcome_in_both_languages(rule) -> None:  # type: ignore[no-untyped-def]
    titles = {rule_title(rule.id, "nb"), rule_title(rule.id, "en")}
    assert rule.id not in titles  # a real title, not the id
    for outcome in OUTCOMES:
        for lang in ("nb", "en"):
            text = statement(rule.theme, outcome, lang, VALUES)  # type: ignore[arg-type]
            assert text and "{" not in text and "–" not in text, (rule.id, outcome, lang)
            assert next_step(rule.theme, outcome, lang), (rule.id, outcome, lang)  # type: ignore[arg-type]
        nb = statement(rule.theme, outcome, "nb", VALUES)
        assert not re.search(r"\b(the|site|within|mapped|default)\b", nb), nb


def test_sentences_follow_the_outcome_not_the_rule() -> None:
    near = {"rule_id": "watercourse-belt", "risk": "YELLOW", "finding": "near", "hit_area_m2": 0.0, "share": 0.0,
            "distance_m": 164.0, "zone_m": 100.0, "proximity_m": 200.0, "zone_m_source": "default",
            "coverage": "full"}
    row = rule_row("watercourse", near, "nb")
    assert row.outcome == "near" and row.text.startswith("Nærmeste vassdrag ligger 164 m fra området")
    assert row.hit_daa == "–" and row.distance == "164 m"
    clear = dict(near, risk="GREEN", finding="clear", distance_m=None)
    assert rule_row("watercourse", clear, "en").text == "No watercourse within 200 m of the site."
    sliver = dict(near, risk="RED", finding="hit", hit_area_m2=2.0, distance_m=0.0)
    assert rule_row("watercourse", sliver, "nb").outcome == "boundary"
    own = dict(near, outcome="exempt", text_nb="Regelsettets egen tekst.")
    assert rule_row("watercourse", own, "nb").text == "Regelsettets egen tekst."  # the rule set's own text wins


@pytest.mark.parametrize(("finding", "outcome"), [
    ({"risk": "RED", "overlap_m2": 5_000.0, "distance_m": 0.0}, "inside"),
    ({"risk": "YELLOW", "overlap_m2": 0.0, "distance_m": 164.0}, "near"),
    ({"risk": "YELLOW", "overlap_m2": 0.0, "distance_m": 0.0}, "inside"),  # a line crossing the zone
    ({"risk": "GREEN", "overlap_m2": 0.0, "distance_m": 580.0}, "clear"),
    ({"risk": "GREEN", "overlap_m2": 800.0, "distance_m": 0.0}, "exempt"),
    ({"risk": "NOT_MAPPED", "overlap_m2": 0.0, "distance_m": None}, "not_mapped"),
    ({"risk": "RED", "overlap_m2": 1.5, "distance_m": 0.0}, "boundary"),
])
def test_outcome_of_stored_findings(finding: dict, outcome: str) -> None:
    assert outcome_of(finding) == outcome


def test_every_theme_and_risk_of_the_rule_set_has_both_languages() -> None:
    """Walk the rule set: each theme and each risk value a report or a map popup can show has a bokmål and an
    English name (not the code), and the report page shows them and the site's assessment in its language."""
    from html import unescape as html_unescape

    from constraints.risk import Risk
    from maps.i18n import MESSAGES
    from maps.site_report import RISK_LABEL, render_report_panel, report_view
    from maps.site_texts import label

    rules = load_rules().rules
    themes = sorted({r.theme for r in rules})
    assert {"landslide", "farmland", "watercourse"} <= set(themes)
    for theme in themes:
        names = {lang: label("themes", theme, lang) for lang in ("nb", "en")}
        assert theme not in names.values() and names["nb"] != names["en"], (theme, names)  # type: ignore[comparison-overlap]
        assert set(MESSAGES[f"theme.{theme}"]) == {"nb", "en"}, theme  # the map popups' name
    risks = {r.value for r in Risk}  # every value a finding can carry
    assert "INTERNAL" in risks
    for risk in risks:
        assert RISK_LABEL[risk]["nb"] and RISK_LABEL[risk]["en"] and RISK_LABEL[risk]["nb"] != RISK_LABEL[risk]["en"]
        assert set(MESSAGES[f"risk.{risk}"]) == {"nb", "en"}, risk
    report = {"objection_risk": "YELLOW", "area_m2": 2000.0, "area_daa": 2.0, "kommunenavn": "Kongsberg",
              "assessment_nb": "Vurdert som nytt byggeformål.", "assessment_en": "Assessed as new building.",
              "themes": [{"theme": r.theme, "rules": [{
                  "rule_id": r.id, "risk": "INTERNAL" if r.level == "internal" else "YELLOW", "finding": "near",
                  "hit_area_m2": 0.0, "distance_m": 40.0, "zone_m": 15.0, "proximity_m": 50.0,
                  "zone_m_source": "default", "coverage": "full", "authority": "a", "legal_basis": "b"}]}
                  for r in rules]}
    for lang, other in (("nb", "en"), ("en", "nb")):
        html = render_report_panel(report_view(report, lang))  # type: ignore[arg-type]
        assert report[f"assessment_{lang}"] in html and report[f"assessment_{other}"] not in html
        for theme in themes:
            assert f'<span class="sr-theme">{label("themes", theme, lang)}</span>' in html  # type: ignore[arg-type]
        assert ">INTERNAL<" not in html and ">landslide<" not in html
        assert RISK_LABEL["INTERNAL"][lang] in html_unescape(html)
