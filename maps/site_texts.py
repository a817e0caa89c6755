"""The site-check report's sentences as data (``site_texts.yaml``): one per theme and outcome, nb and en."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import yaml

from maps.i18n import Lang

OUTCOMES = ("inside", "near", "clear", "not_mapped", "exempt", "boundary")
_FINDING_TO_OUTCOME = {"hit": "inside", "near": "near", "clear": "clear", "not_mapped": "not_mapped",
                       "exempt": "exempt"}
BOUNDARY_M2 = 5.0  # a hit smaller than this is a digitising sliver (used only when the finding has no outcome)
_NO_DISTANCE = re.compile(r"\s*\([^()]*\{distance\}[^()]*\)|;[^;]*\{distance\}[^;.]*")


@lru_cache(maxsize=1)
def texts() -> dict[str, Any]:
    """The parsed ``site_texts.yaml``."""
    return yaml.safe_load(resources.files("maps").joinpath("site_texts.yaml").read_text(encoding="utf-8"))


def pick(entry: dict[str, str] | None, lang: Lang, fallback: str = "") -> str:
    """``entry[lang]`` or the fallback."""
    return entry.get(lang, fallback) if entry else fallback


def outcome_of(finding: dict[str, Any]) -> str:
    """The outcome of a finding: its own ``outcome`` when the rule set gives one, else derived from the
    finding word (hit / near / clear / not_mapped / exempt) and the hit area (a sliver is ``boundary``)."""
    own = finding.get("outcome")
    if own in OUTCOMES:
        return str(own)
    hit_m2 = finding.get("hit_area_m2", finding.get("overlap_m2"))
    if hit_m2 is None:
        hit_m2 = float(finding.get("overlap_daa") or 0.0) * 1000
    word = finding.get("finding")
    if word:
        outcome = _FINDING_TO_OUTCOME.get(str(word), "clear")
    else:  # stored findings (objection-risk) keep the risk, area and distance, not the word: derive it
        risk, distance = finding.get("risk"), finding.get("distance_m")
        touching = float(hit_m2) > 0 or (distance is not None and float(distance) == 0.0)
        if risk == "NOT_MAPPED":
            outcome = "not_mapped"
        elif risk in ("RED", "YELLOW"):
            outcome = "inside" if touching else "near"
        else:
            outcome = "exempt" if touching else "clear"
    if outcome == "inside" and 0 < float(hit_m2) < BOUNDARY_M2:
        return "boundary"
    return outcome


def statement(theme: str, outcome: str, lang: Lang, values: dict[str, str]) -> str:
    """The sentence true for this theme and outcome, with the formatted values filled in."""
    template = pick(texts()["statements"].get(theme, {}).get(outcome), lang)
    if values.get("distance") in (None, "", "–"):
        template = _NO_DISTANCE.sub("", template)
    return template.format_map(_Blank(values))


def next_step(theme: str, outcome: str, lang: Lang) -> str:
    """What to do next for this theme and outcome."""
    return pick(texts()["next_steps"].get(theme, {}).get(outcome), lang)


def rule_title(rule_id: str, lang: Lang, finding: dict[str, Any] | None = None) -> str:
    """The rule's title: the finding's own ``rule_title_<lang>`` when present, else ours, else the id."""
    own = (finding or {}).get(f"rule_title_{lang}")
    if own:
        return str(own)
    ours = texts()["rule_titles"].get(rule_id)
    return pick(ours, lang, rule_id) if ours else _rule_set_titles().get((rule_id, lang), rule_id)


@cache
def _rule_set_titles() -> dict[tuple[str, str], str]:
    """The rule set's own titles (``title_nb``/``title_en`` in constraints/default_rules.yaml)."""
    from constraints.rules import load_rules

    return {(r.id, lang): str(getattr(r, f"title_{lang}", None) or r.id) for r in load_rules().rules
            for lang in ("nb", "en")}


def label(group: str, key: Any, lang: Lang) -> str:
    """A short label from one of the yaml's groups (outcomes, themes, coverage, zone_source, ar5_names)."""
    return pick(texts()[group].get(key), lang, str(key))


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "–"
