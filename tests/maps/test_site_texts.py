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
