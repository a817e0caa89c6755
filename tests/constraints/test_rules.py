"""Rules as data: the packaged default, workspace overrides (YAML and TOML), validation messages, hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from constraints.errors import RuleSetError, UnknownRuleError
from constraints.rules import RuleSet, describe_rules, load_rules


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_rule_set_has_the_themes_and_legal_facts(rules: RuleSet) -> None:
    by_id = {r.id: r for r in rules.rules}
    farmland = by_id["farmland-jordvern"]
    assert farmland.select == {"arealtype": (21, 22, 23)} and farmland.applies_to == "farmland_consuming"
    assert farmland.risk == "RED" and farmland.authority == "Statsforvalteren (landbruk)"
    assert "pbl § 5-4" in farmland.legal_basis and "jordlova § 9" in farmland.legal_basis
    assert by_id["farmland-dyrkbar"].risk == "YELLOW" and by_id["farmland-dyrkbar"].kind == "cultivable_land"
    heritage = by_id["heritage-automatic"]
    assert heritage.zone_m == 5 and heritage.proximity_m == 50
    assert heritage.select == {"vernetype": ("AUT",)}  # § 6's 5 m zone is for automatic protection only
    decision = by_id["heritage-decision"]
    assert set(decision.select["vernetype"]) == {"VED", "FOR"} and decision.zone_m == 0
    assert "Riksantikvaren" in decision.authority and "§§ 15, 19, 22a" in decision.legal_basis
    assert by_id["heritage-unclarified"].risk == by_id["heritage-listed-church"].risk == "YELLOW"
    assert by_id["heritage-world-heritage"].risk == "YELLOW"
    belt = by_id["watercourse-belt"]
    assert belt.zone_m == 100 and belt.max_zone_m == 100 and belt.proximity_m == 200
    assert belt.legal_basis == "pbl § 1-8 femte ledd, § 11-11 nr. 5" and belt.default_is_assumption
    assert by_id["flood-zone"].risk == "RED" and "TEK17 § 7-2" in by_id["flood-zone"].legal_basis
    assert by_id["flood-zone-1000"].applies_to == "vulnerable_functions"
    assert by_id["flood-awareness"].risk == "YELLOW" and by_id["landslide-awareness"].risk == "YELLOW"
    assert by_id["landslide-hazard"].risk == "RED" and "TEK17 § 7-3" in by_id["landslide-hazard"].legal_basis
    assert {r.authority for r in rules.rules if r.theme in ("flood", "landslide")} == {"NVE"}
    assert by_id["road-main"].zone_m == 50 and by_id["road-main"].risk == "YELLOW"
    assert by_id["road-municipal"].zone_m == 15 and by_id["road-municipal"].select == {"vegkategori": ("K",)}
    assert by_id["road-municipal"].level == "internal"
    assert {r.theme for r in rules.rules} == {"watercourse", "farmland", "heritage", "flood", "landslide", "road"}
    assert all(r.explanation_nb and r.explanation_en for r in rules.rules)
    assert all(r.sources and all(k in rules.sources for f in r.sources for k in f.source) for r in rules.rules)


def test_hash_is_stable_and_changes_when_a_buffer_changes(tmp_path: Path) -> None:
    base = load_rules()
    assert base.hash() == load_rules().hash()
    assert len(base.hash()) == 64
    wider = load_rules(write(tmp_path, "w.yaml", "rules:\n  - id: heritage-automatic\n    zone_m: 10\n"))
    assert wider.rule("heritage-automatic").zone_m == 10
    assert wider.hash() != base.hash()
    same = load_rules(write(tmp_path, "s.yaml", "rules:\n  - id: heritage-automatic\n    zone_m: 5\n"))
    assert same.hash() == base.hash()  # the effective rules decide, not the files


def test_yaml_override_sets_a_municipality_belt_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, "rules.yaml", """
rules:
  - id: watercourse-belt
    municipality_overrides:
      "4005": {zone_m: 50}
""")
    rs = load_rules(path)
    belt = rs.rule("watercourse-belt")
    assert belt.distances_for("4005") == (50, 200, "municipality:4005")
    assert belt.distances_for("3303") == (100, 200, "default")
    assert belt.authority == "Statsforvalteren; NVE"  # untouched fields survive the merge
    assert len(rs.rules) == len(load_rules().rules)


def test_toml_override_with_rules_as_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "rules.toml", """
[rules.watercourse-belt.municipality_overrides."3334"]
zone_m = 60
proximity_m = 150

[rules.road-municipal]
enabled = false
""")
    rs = load_rules(path)
    assert rs.rule("watercourse-belt").distances_for("3334") == (60, 150, "municipality:3334")
    assert "road-municipal" not in {r.id for r in rs.active_rules}


def test_belt_wider_than_100_m_is_rejected_naming_file_rule_and_municipality(tmp_path: Path) -> None:
    path = write(tmp_path, "kongsberg.yaml", """
rules:
  - id: watercourse-belt
    municipality_overrides:
      "3303": {zone_m: 150}
""")
    with pytest.raises(RuleSetError) as err:
        load_rules(path)
    text = str(err.value)
    assert "kongsberg.yaml" in text
    assert "'watercourse-belt'" in text
    assert "municipality_overrides.3303.zone_m" in text and "municipality 3303" in text
    assert "150" in text and "100" in text


def test_validation_errors_name_rule_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", """
rules:
  - id: heritage-automatic
    risk: PURPLE
    zone_m: -3
  - id: new-rule
    theme: farmland
""")
    with pytest.raises(RuleSetError) as err:
        load_rules(path)
    problems = err.value.problems
    assert any("'heritage-automatic'" in p and "field risk" in p for p in problems)
    assert any("'heritage-automatic'" in p and "field zone_m" in p for p in problems)
    assert any("'new-rule'" in p and "field kind" in p and "required" in p.lower() for p in problems)
    assert err.value.source.startswith(str(path))


def test_unknown_municipality_code_and_formal_group_are_rejected(tmp_path: Path) -> None:
    bad_knr = write(tmp_path, "k.yaml", "rules:\n  - id: watercourse-belt\n    municipality_overrides:\n"
                                        "      Kongsberg: {zone_m: 50}\n")
    with pytest.raises(RuleSetError, match="municipality_overrides.Kongsberg"):
        load_rules(bad_knr)
    bad_group = write(tmp_path, "g.yaml", "rules:\n  - id: flood-zone\n    applies_to: housing\n")
    with pytest.raises(RuleSetError, match="applies_to 'housing' is not a formal group"):
        load_rules(bad_group)


def test_broken_files_are_reported_with_position(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match=r"not valid YAML at line \d+, column \d+"):
        load_rules(write(tmp_path, "broken.yaml", "rules:\n  - id: [unclosed\n"))
    with pytest.raises(RuleSetError, match="not valid TOML"):
        load_rules(write(tmp_path, "broken.toml", "[rules\n"))
    with pytest.raises(RuleSetError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_code_ranges_and_unknown_rule(rules: RuleSet) -> None:
    building = rules.formal_groups["building"]
    assert (1000, 1999) in building.any
    with pytest.raises(UnknownRuleError):
        rules.rule("nope")


def test_describe_rules_lists_every_rule_and_the_hash(tmp_path: Path) -> None:
    rs = load_rules(write(tmp_path, "o.yaml", "rules:\n  - id: watercourse-belt\n    municipality_overrides:\n"
                                              "      '4026': {zone_m: 40}\n"))
    text = describe_rules(rs)
    for r in rs.rules:
        assert r.id in text
    assert rs.hash() in text
    assert "4026: zone 40 m" in text
    assert "vegloven § 29" in text
