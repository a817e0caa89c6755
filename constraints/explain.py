"""``geo-service rules explain RULE``: one rule in plain words, with its legal basis, sources and the values in
force in every municipality (its own limit or the service's default, and which)."""

from __future__ import annotations

from constraints.codes import format_ranges
from constraints.rules import Rule, RuleSet
from constraints.texts import FindingValues, limit_sentence
from layers.codes import KONGSBERGREGIONEN as KOMMUNER


def explain_rule(rules: RuleSet, rule_id: str, *, lang: str = "en") -> str:
    """The rule, its legal basis and authority, its facts with their sources, the effective values per
    municipality and the sentence shown for every outcome. Raises ``UnknownRuleError`` for an unknown id."""
    rule = rules.rule(rule_id)
    title = rule.title_nb if lang == "nb" else rule.title_en
    select = "; ".join(f"{k} in {', '.join(map(str, v))}" for k, v in rule.select.items()) or "every feature"
    group = rules.formal_groups.get(rule.applies_to)
    codes = "all formål" if group is None else ", ".join(
        str(c) for c in format_ranges(group.any) + format_ranges(group.kommuneplan) + format_ranges(group.reguleringsplan))
    lines = [
        f"{rule.id}: {title}{'' if rule.enabled else ' (switched off)'}",
        f"  theme {rule.theme}, layer kind {rule.kind.value} (coverage: {rules.coverage_mode(rule.kind)}), selects {select}",
        f"  applies to {rule.applies_to}: {codes}",
        f"  level {rule.level}; inside -> {'INTERNAL' if rule.level == 'internal' else rule.risk}"
        + (f", near -> {'INTERNAL' if rule.level == 'internal' else 'YELLOW'}" if rule.has_band else ""),
        f"  legal basis: {rule.legal_basis}",
        f"  authority:   {rule.authority}",
    ]
    exemptions = []
    if rule.exempt_in_force_regulation:
        exemptions.append(f"in-force reguleringsplan ({rule.exemption_basis})")
    if rule.exempt_plan_building_line:
        exemptions.append(f"the plan's own building line (zoning attribute {rule.exempt_plan_building_line})")
    if rule.settled_reserve:
        exemptions.append(f"pbl § 5-5: a reserve in a kommuneplan adopted < {rule.settled_reserve.years} years ago "
                          f"-> {rule.settled_reserve.risk}")
    lines.append(f"  exemptions: {'; '.join(exemptions) if exemptions else 'none'}")
    mo = rules.marginal_overlap
    if rule.marginal_overlap:
        lines.append(f"  boundary touch: overlap <= {mo.max_m2:g} m2 and <= {100 * mo.max_share:g} % of the zone "
                     "-> YELLOW")
    lines += ["", "Facts and sources:"]
    for fact in rule.sources:
        lines.append(f"  - {fact.fact}")
        lines += [f"      [{key}] {rules.sources.get(key, '(unknown source)')}" for key in fact.source]
    lines += ["", "Effective values per municipality:"]
    for knr, name in KOMMUNER.items():
        lines.append("  " + _municipality_line(rule, knr, name, lang))
    extra = sorted(set(rule.municipality_overrides) - set(KOMMUNER))
    lines += ["  " + _municipality_line(rule, knr, None, lang) for knr in extra]
    lines += ["", "Texts per outcome (templates; {placeholders} are filled per finding):"]
    for key in rule.text_keys():
        text = rules.text(rule, key)
        if text is not None:
            lines.append(f"  {key}: {' '.join(getattr(text, lang).split())}")
    return "\n".join(lines) + "\n"


def _municipality_line(rule: Rule, knr: str, name: str | None, lang: str) -> str:
    zone, prox, source = rule.distances_for(knr)
    which = "own limit" if source != "default" else (
        "DEFAULT ASSUMPTION (not set by the municipality)" if rule.default_is_assumption else "default")
    line = f"{knr} {name or ''}".rstrip() + f": zone {zone:g} m, near {prox:g} m ({which})"
    if rule.limit_texts:
        line += " - " + limit_sentence(rule, FindingValues(zone_m=zone, source=source, kommunenummer=knr,
                                                           kommunenavn=name), lang)
    return line
