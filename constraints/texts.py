"""The sentence shown with a finding: the rule's text for its outcome, filled with the finding's values.

Texts are data (``default_rules.yaml``: ``texts`` per rule, ``text_defaults``, ``limit_texts``,
``coverage_reasons``); this module only picks the right one and fills it in, in bokmål and English.
Numbers are written the way each language writes them (``12,5 m`` / ``12.5 m``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from constraints.risk import BOUNDARY, CLEAR, EXEMPT, HIT, NEAR, NOT_MAPPED
from constraints.rules import Rule, RuleSet

LANGS = ("nb", "en")

# coverage column value -> coverage_reasons key (see constraints.coverage for "undeclared"/"no-region")
_REASON_OF_COVERAGE = {"no-layer": "no-layer", "none": "none", "partial": "partial"}


@dataclass(frozen=True)
class FindingValues:
    """What one finding's text may say (all optional; missing values print as "…")."""

    zone_m: float | None = None
    proximity_m: float | None = None
    distance_m: float | None = None
    overlap_m2: float | None = None
    share: float | None = None
    source: str = "default"  # "default" or "municipality:<knr>"
    kommunenummer: str | None = None
    kommunenavn: str | None = None
    reason: str | None = None  # coverage_reasons key for not_mapped
    reason_values: tuple[tuple[str, str], ...] = ()  # {kind}, {layer}, {attribute} of the reason
    plan_line: str | None = None


def text_key(finding: str, *, reserve: bool = False, settled: bool = False, line_exempt: bool = False) -> str:
    """The text key for a finding (``hit`` → ``inside``, with the § 5-5 and building-line variants)."""
    if finding == HIT:
        return "inside_settled" if settled else "inside_reserve" if reserve else "inside"
    if finding == EXEMPT:
        return "exempt_line" if line_exempt else "exempt"
    if finding in (NEAR, CLEAR, NOT_MAPPED, BOUNDARY):
        return finding
    raise ValueError(f"unknown finding {finding!r}")


def text_keys(finding: np.ndarray, reserve: np.ndarray, settled: np.ndarray, line_exempt: np.ndarray) -> np.ndarray:
    """:func:`text_key` for arrays of findings (vectorised)."""
    keys = np.asarray(finding, dtype=object).copy()
    hit = keys == HIT
    keys[hit] = "inside"
    keys[hit & reserve] = "inside_reserve"
    keys[hit & settled] = "inside_settled"
    keys[(keys == EXEMPT) & line_exempt] = "exempt_line"
    return keys


def render(rules: RuleSet, rule: Rule, key: str, values: FindingValues, lang: str) -> str:
    """The sentence for ``key`` in ``lang`` ("nb" or "en"), filled with ``values``."""
    text = rules.text(rule, key)
    if text is None:
        raise KeyError(f"rule {rule.id!r} has no text for {key!r}")
    return _fill(getattr(text, lang), _mapping(rules, rule, values, lang))


def render_both(rules: RuleSet, rule: Rule, key: str, values: FindingValues) -> tuple[str, str]:
    """``(text_nb, text_en)``."""
    return render(rules, rule, key, values, "nb"), render(rules, rule, key, values, "en")


def limit_sentence(rule: Rule, values: FindingValues, lang: str) -> str:
    """Which limit applies in this municipality: its own (with its note) or the service's default assumption."""
    which = "municipality" if values.source.startswith("municipality:") else "default"
    text = rule.limit_texts.get(which)  # type: ignore[call-overload]
    if text is None:
        return ""
    override = rule.municipality_overrides.get(values.kommunenummer or "")
    note = override.note if override is not None and override.note else (
        "kilde ikke oppgitt i regelsettet" if lang == "nb" else "source not given in the rule set")
    sentence = _fill(getattr(text, lang), {"kommune": _kommune(values, lang), "zone_m": _num(values.zone_m, lang),
                                           "note": note})
    return sentence[:1].upper() + sentence[1:]


def _mapping(rules: RuleSet, rule: Rule, v: FindingValues, lang: str) -> _Lazy:
    """The placeholder values, each computed only if the template asks for it."""
    mo = rules.marginal_overlap

    def reason() -> str:
        if v.reason is None:
            return ""
        r = rules.coverage_reasons.get(v.reason) or rules.coverage_reasons.get("unknown")
        return _fill(getattr(r, lang), {"kind": rule.kind.value, "layer": rule.kind.value, "attribute": "…",
                                        **dict(v.reason_values)}) if r else ""

    return _Lazy({
        "title": lambda: rule.title_nb if lang == "nb" else rule.title_en,
        "authority": lambda: rule.authority,
        "legal_basis": lambda: rule.legal_basis,
        "kommune": lambda: _kommune(v, lang),
        "zone_m": lambda: _num(v.zone_m, lang),
        "proximity_m": lambda: _num(v.proximity_m, lang),
        "distance_m": lambda: _num(v.distance_m, lang, decimals=1 if (v.distance_m or 0) < 10 else 0),
        "overlap_m2": lambda: _area(v.overlap_m2, lang),
        "overlap_daa": lambda: _num(None if v.overlap_m2 is None else v.overlap_m2 / 1000, lang,
                                    decimals=1 if (v.overlap_m2 or 0) >= 100 else 3),
        "share_pct": lambda: _num(None if v.share is None else 100 * v.share, lang, decimals=2),
        "limit": lambda: limit_sentence(rule, v, lang),
        "reason": reason,
        "plan_line": lambda: _plan_line(v.plan_line, lang),
        "max_m2": lambda: _num(mo.max_m2, lang),
        "max_share_pct": lambda: _num(100 * mo.max_share, lang),
        "years": lambda: str(rule.settled_reserve.years) if rule.settled_reserve else "10",
        "note": lambda: "",
    })


class _Lazy(dict):  # type: ignore[type-arg]
    """format_map mapping whose values are computed when a template names them ("…" for unknown names)."""

    def __init__(self, makers: dict[str, Any]) -> None:
        super().__init__()
        self._makers = makers

    def __missing__(self, key: str) -> str:
        maker = self._makers.get(key)
        value = maker() if maker is not None else "…"
        self[key] = value
        return value


def used_placeholders(rules: RuleSet, rule: Rule, key: str) -> frozenset[str]:
    """The placeholders the texts for ``key`` use, in either language (what a finding's values must vary by)."""
    names = rules.placeholders(rule, key)
    return names | {"kommune", "zone_m"} if "limit" in names else names


def _fill(template: str, mapping: Mapping[str, Any]) -> str:
    values = mapping if isinstance(mapping, _Lazy) else _Missing(mapping)
    text = " ".join(template.split()).format_map(values)
    return text.replace(". .", ".").replace(" .", ".").replace("..", ".")


class _Missing(dict):  # type: ignore[type-arg]
    """format_map mapping that prints "…" for a placeholder without a value."""

    def __missing__(self, key: str) -> str:
        return "…"


def _num(value: float | None, lang: str, decimals: int | None = None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "…"
    if decimals is None:
        text = f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"
    else:
        text = f"{value:,.{decimals}f}".replace(",", " ")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "nb" else text


def _area(m2: float | None, lang: str) -> str:
    if m2 is None:
        return "…"
    return _num(m2, lang, decimals=0 if m2 >= 10 else 2)


def _kommune(v: FindingValues, lang: str) -> str:
    if not v.kommunenummer:
        return "kommunen" if lang == "nb" else "the municipality"
    name = v.kommunenavn or ("kommune" if lang == "nb" else "municipality")
    return f"{name} ({v.kommunenummer})"


def _plan_line(value: str | None, lang: str) -> str:
    if value is None or str(value).strip() == "":
        return "…"
    text = str(value).strip()
    try:
        return f"{_num(float(text.replace(',', '.')), lang)} m"
    except ValueError:
        return text


class TextCache:
    """Rendered texts for many findings of one rule: equal values are rendered once."""

    def __init__(self, rules: RuleSet, rule: Rule) -> None:
        self.rules, self.rule = rules, rule
        self._seen: dict[tuple[str, FindingValues], tuple[str, str]] = {}

    def __call__(self, key: str, values: FindingValues) -> tuple[str, str]:
        """``(text_nb, text_en)`` for one finding."""
        k = (key, values)
        found = self._seen.get(k)
        if found is None:
            found = self._seen[k] = render_both(self.rules, self.rule, key, values)
        return found


def reason_key(coverage: str, undeclared: bool, no_region: bool) -> str:
    """The coverage_reasons key of a not-mapped finding."""
    if coverage in ("no-layer", "missing-attribute"):
        return coverage
    if undeclared:
        return "undeclared"
    if no_region:
        return "no-region"
    return _REASON_OF_COVERAGE.get(coverage, coverage if coverage.startswith("missing") else "unknown")
