"""Rules as data: the pydantic model of a rule set, loading with workspace overrides, hash and text table.

The default rule set ships with the package (``default_rules.yaml``); a workspace file in YAML or TOML with
the same layout is merged over it (rules matched by ``id``). Every distance is in metres in the working CRS.
"""

from __future__ import annotations

import hashlib
import json
import string
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from constraints.codes import CodeRanges, format_ranges
from constraints.errors import RuleSetError, UnknownRuleError
from layers.kinds import LayerKind

Theme = Literal["watercourse", "farmland", "heritage", "flood", "landslide", "road"]
RuleRisk = Literal["RED", "YELLOW"]
Level = Literal["objection", "internal"]  # internal: the municipality's own consideration, never an objection
CoverageMode = Literal["declared", "wall_to_wall", "hits_only", "known_sites", "region"]
TextKey = Literal["inside", "inside_reserve", "inside_settled", "near", "clear", "not_mapped", "exempt",
                  "exempt_line", "boundary"]
LimitKey = Literal["default", "municipality"]
Kommunenummer = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
SelectValue = int | str

ALL_FORMAL = "all"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader: ten times faster
DEFAULT_SOURCE = "constraints/default_rules.yaml (package default)"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Model):
    """One sentence in bokmål and English (a template with ``{placeholders}``, see ``default_rules.yaml``)."""

    nb: str
    en: str


class SourcedFact(_Model):
    """A fact a rule rests on and the keys of its sources (``RuleSet.sources``)."""

    fact: str
    source: tuple[str, ...]


class SettledReserve(_Model):
    """pbl § 5-5: a reserve settled in a kommuneplan adopted less than ``years`` ago gets ``risk`` instead."""

    risk: RuleRisk = "YELLOW"
    years: int = Field(default=10, gt=0)


class MarginalOverlap(_Model):
    """An overlap at most ``max_m2`` AND at most ``max_share`` of the zone is a boundary touch (YELLOW)."""

    max_m2: float = Field(default=50.0, ge=0)
    max_share: float = Field(default=0.01, ge=0, le=1)
    source: str = ""


class MunicipalityOverride(_Model):
    """A municipality's own distances for one rule (e.g. its watercourse belt set in the KPA)."""

    zone_m: float | None = Field(default=None, ge=0)
    proximity_m: float | None = Field(default=None, ge=0)
    note: str | None = None


class Rule(_Model):
    """One constraint rule: what hits, how far it reaches, how bad it is and who objects on which basis."""

    id: RuleId
    theme: Theme
    kind: LayerKind
    layer_ids: tuple[str, ...] | None = None  # restrict to these layers of `kind`; None = every such layer
    select: dict[str, tuple[SelectValue, ...]] = Field(default_factory=dict)  # ["*"] = any non-empty value
    zone_m: float = Field(ge=0)
    proximity_m: float | None = Field(default=None, ge=0)  # None = zone_m (no YELLOW band)
    max_zone_m: float | None = Field(default=None, ge=0)  # legal cap for municipality overrides
    risk: RuleRisk
    level: Level = "objection"
    applies_to: str = "building"  # a formal_groups name, or "all"
    exempt_in_force_regulation: bool = False
    exemption_basis: str | None = None
    exempt_plan_building_line: str | None = None  # zoning attribute holding the plan's own building line
    settled_reserve: SettledReserve | None = None  # pbl § 5-5 for reserves in an adopted kommuneplan
    marginal_overlap: bool = True  # a sliver below RuleSet.marginal_overlap is a boundary touch
    default_is_assumption: bool = False  # zone_m is the service's assumption until the municipality sets its own
    title_nb: str = ""
    title_en: str = ""
    authority: str
    legal_basis: str
    sources: tuple[SourcedFact, ...] = ()
    texts: dict[TextKey, Text] = Field(default_factory=dict)
    limit_texts: dict[LimitKey, Text] = Field(default_factory=dict)
    explanation_nb: str = ""  # legacy: filled from texts.inside when not given
    explanation_en: str = ""
    municipality_overrides: dict[Kommunenummer, MunicipalityOverride] = Field(default_factory=dict)
    enabled: bool = True

    @model_validator(mode="after")
    def _legacy_explanation(self) -> Rule:
        if not self.title_nb:
            object.__setattr__(self, "title_nb", self.id)
        if not self.title_en:
            object.__setattr__(self, "title_en", self.title_nb)
        inside = self.texts.get("inside")
        for lang in ("nb", "en"):
            if not getattr(self, f"explanation_{lang}") and inside is not None:
                object.__setattr__(self, f"explanation_{lang}", _generic(self, getattr(inside, lang), lang))
        return self

    @property
    def has_band(self) -> bool:
        """Whether a YELLOW proximity band exists anywhere (default or a municipality's own distances)."""
        zone, prox, _ = self.distances_for(None)
        return prox > zone or any(p > z for z, p, _ in (self.distances_for(k) for k in self.municipality_overrides))

    def text_keys(self) -> tuple[str, ...]:
        """The text keys this rule can produce (each must have a text, the rule's own or a default)."""
        keys = ["inside", "clear", "not_mapped"]
        if self.has_band:
            keys.append("near")
        if self.exempt_in_force_regulation:
            keys.append("exempt")
        if self.exempt_plan_building_line:
            keys.append("exempt_line")
        if self.marginal_overlap:
            keys.append("boundary")
        if self.settled_reserve is not None:
            keys += ["inside_reserve", "inside_settled"]
        return tuple(keys)

    @model_validator(mode="after")
    def _distances_are_consistent(self) -> Rule:
        problems: list[str] = []
        proximity = self.zone_m if self.proximity_m is None else self.proximity_m
        if proximity < self.zone_m:
            problems.append(f"field proximity_m: {proximity:g} m is less than zone_m {self.zone_m:g} m")
        if self.max_zone_m is not None and self.zone_m > self.max_zone_m:
            problems.append(f"field zone_m: {self.zone_m:g} m exceeds max_zone_m {self.max_zone_m:g} m")
        for knr, ov in self.municipality_overrides.items():
            zone = self.zone_m if ov.zone_m is None else ov.zone_m
            prox = ov.proximity_m if ov.proximity_m is not None else max(proximity, zone)
            if self.max_zone_m is not None and zone > self.max_zone_m:
                problems.append(
                    f"field municipality_overrides.{knr}.zone_m: municipality {knr} sets {zone:g} m, more than "
                    f"the legal maximum of {self.max_zone_m:g} m ({self.legal_basis})"
                )
            if prox < zone:
                problems.append(
                    f"field municipality_overrides.{knr}.proximity_m: municipality {knr} sets {prox:g} m, "
                    f"less than its zone_m {zone:g} m"
                )
        if self.exempt_in_force_regulation and not self.exemption_basis:
            problems.append("field exemption_basis: exempt_in_force_regulation needs the legal reason")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def distances_for(self, kommunenummer: str | None) -> tuple[float, float, str]:
        """``(zone_m, proximity_m, source)`` for a municipality; source is ``default`` or ``municipality:<knr>``."""
        proximity = self.zone_m if self.proximity_m is None else self.proximity_m
        ov = self.municipality_overrides.get(kommunenummer or "")
        if ov is None:
            return self.zone_m, proximity, "default"
        zone = self.zone_m if ov.zone_m is None else ov.zone_m
        prox = ov.proximity_m if ov.proximity_m is not None else max(proximity, zone)
        return zone, prox, f"municipality:{kommunenummer}"


class FormalGroup(_Model):
    """A named set of arealformål codes; see the comment in ``default_rules.yaml``."""

    description: str = ""
    any: CodeRanges = ()
    kommuneplan: CodeRanges = ()
    reguleringsplan: CodeRanges = ()


class BusinessConfig(_Model):
    """How business-area status is decided (DOMAIN.md)."""

    formal_groups: tuple[str, ...] = ("business", "business_combined")
    in_force_planstatus: tuple[int, ...] = (3,)
    reserve_arealbruksstatus: tuple[int, ...] = (2,)
    superseded_share: float = Field(default=0.99, gt=0, le=1)


class RuleSet(_Model):
    """The effective rules: formål groups, business settings and the constraint rules."""

    name: str
    version: str
    sources: dict[str, str] = Field(default_factory=dict)
    formal_groups: dict[str, FormalGroup]
    business: BusinessConfig = BusinessConfig()
    marginal_overlap: MarginalOverlap = MarginalOverlap()
    coverage: dict[LayerKind, CoverageMode] = Field(default_factory=dict)
    coverage_reasons: dict[str, Text] = Field(default_factory=dict)
    text_defaults: dict[TextKey, Text] = Field(default_factory=dict)
    rules: tuple[Rule, ...]
    _hash: str | None = PrivateAttr(default=None)
    _placeholders: dict[tuple[str, str], frozenset[str]] = PrivateAttr(default_factory=dict)

    def coverage_mode(self, kind: LayerKind) -> CoverageMode:
        """How a layer of ``kind`` says where it has mapped (``declared`` when the rule set is silent)."""
        return self.coverage.get(kind, "declared")

    def text(self, rule: Rule, key: str) -> Text | None:
        """The rule's text for ``key``, or the rule set's default for it."""
        return rule.texts.get(key) or self.text_defaults.get(key)  # type: ignore[call-overload]

    @model_validator(mode="after")
    def _references_resolve(self) -> RuleSet:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
            if rule.applies_to != ALL_FORMAL and rule.applies_to not in self.formal_groups:
                raise ValueError(
                    f"rule {rule.id!r}: applies_to {rule.applies_to!r} is not a formal group "
                    f"(known: {', '.join(sorted(self.formal_groups))}, or {ALL_FORMAL!r})"
                )
        for group in self.business.formal_groups:
            if group not in self.formal_groups:
                raise ValueError(f"business.formal_groups names unknown group {group!r}")
        problems = [p for rule in self.rules for p in self._text_problems(rule)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _text_problems(self, rule: Rule) -> list[str]:
        """Missing texts, unknown placeholders and unknown source keys of one rule."""
        problems: list[str] = []
        for fact in rule.sources:
            problems += [f"rule {rule.id!r}: source {key!r} is not in `sources` (known: {', '.join(sorted(self.sources))})"
                         for key in fact.source if key not in self.sources]
        for key in rule.text_keys():
            text = self.text(rule, key)
            if text is None:
                problems.append(f"rule {rule.id!r}: no text for outcome {key!r} (add texts.{key} or text_defaults.{key})")
                continue
            for lang in ("nb", "en"):
                bad = _placeholders(getattr(text, lang)) - PLACEHOLDERS
                if bad:
                    problems.append(f"rule {rule.id!r}: texts.{key}.{lang} uses unknown placeholder(s) "
                                    f"{', '.join(sorted(bad))} (known: {', '.join(sorted(PLACEHOLDERS))})")
        if rule.default_is_assumption and "default" not in rule.limit_texts:
            problems.append(f"rule {rule.id!r}: default_is_assumption needs limit_texts.default")
        return problems

    @property
    def active_rules(self) -> tuple[Rule, ...]:
        """Rules with ``enabled: true``, in file order."""
        return tuple(r for r in self.rules if r.enabled)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id, or :class:`UnknownRuleError`."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise UnknownRuleError(rule_id, [r.id for r in self.rules])

    def canonical_json(self) -> str:
        """The effective rules as canonical JSON (sorted keys, no whitespace): the input of :meth:`hash`."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def hash(self) -> str:
        """Stable sha256 (hex) of the effective rules; derived layers record it as provenance (computed once)."""
        if self._hash is None:
            self._hash = hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()
        return self._hash

    def placeholders(self, rule: Rule, key: str) -> frozenset[str]:
        """The placeholders the texts for ``key`` use, in either language (computed once per rule and key)."""
        found = self._placeholders.get((rule.id, key))
        if found is None:
            text = self.text(rule, key)
            found = frozenset() if text is None else frozenset(_placeholders(text.nb) | _placeholders(text.en))
            self._placeholders[(rule.id, key)] = found
        return found


PLACEHOLDERS = frozenset({
    "title", "authority", "legal_basis", "kommune", "zone_m", "proximity_m", "distance_m", "overlap_m2",
    "overlap_daa", "share_pct", "limit", "reason", "plan_line", "max_m2", "max_share_pct", "years", "note",
})


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def _generic(rule: Rule, template: str, lang: str) -> str:
    """A template with the rule's own values filled in and per-finding values left as words (legacy field)."""
    known = {"title": rule.title_nb if lang == "nb" else rule.title_en, "authority": rule.authority,
             "legal_basis": rule.legal_basis, "zone_m": f"{rule.zone_m:g}",
             "proximity_m": f"{rule.zone_m if rule.proximity_m is None else rule.proximity_m:g}"}
    other = "…"
    text = " ".join(template.split())
    try:
        return text.format_map({**{f: other for f in _placeholders(text)}, **known})
    except (KeyError, ValueError, IndexError):
        return text


# --------------------------------------------------------------------------------------------- loading


def load_rules(override: Path | None = None) -> RuleSet:
    """Load the packaged default rule set and merge a workspace override file over it.

    Parameters
    ----------
    override
        A YAML (``.yaml``/``.yml``) or TOML (``.toml``) file with the same layout as ``default_rules.yaml``.
        Rules are matched by ``id``; mappings are merged key by key, lists and scalars replace.
        A rule id not in the default adds a rule (it must then be complete); ``enabled: false`` switches one off.

    Returns
    -------
    RuleSet
        The validated effective rules.

    Raises
    ------
    RuleSetError
        If a file cannot be read or parsed, or the merged rules are invalid. The message names the file,
        the rule id and the field of every problem.
    """
    default_text = resources.files("constraints").joinpath("default_rules.yaml").read_text(encoding="utf-8")
    base = _parse(default_text, "yaml", DEFAULT_SOURCE)
    _validate(base, DEFAULT_SOURCE)  # the default must stand on its own
    if override is None:
        return _validate(base, DEFAULT_SOURCE)
    path = Path(override)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleSetError(path, [f"cannot read the file: {exc.strerror or exc}"]) from None
    fmt = "toml" if path.suffix.lower() == ".toml" else "yaml"
    patch = _parse(text, fmt, str(path))
    merged = _merge_rule_sets(base, patch, str(path))
    return _validate(merged, f"{path} (merged over the package default)")


def rules_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> RuleSet:
    """Validate a complete rule set given as a mapping (tests, API payloads)."""
    return _validate(dict(data), source)


def _parse(text: str, fmt: str, source: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text) if fmt == "toml" else yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise RuleSetError(source, [f"not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleSetError(source, [f"not valid TOML: {exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RuleSetError(source, [f"the top level must be a mapping, got {type(data).__name__}"])
    return data


def _rules_by_id(rules: Any, source: str) -> dict[str, dict[str, Any]]:
    """Accept ``rules`` as a list of mappings with ``id`` or as a mapping ``id -> fields``."""
    out: dict[str, dict[str, Any]] = {}
    if rules is None:
        return out
    if isinstance(rules, Mapping):
        for rid, fields in rules.items():
            if not isinstance(fields, Mapping):
                raise RuleSetError(source, [f"rules.{rid}: must be a mapping of fields"])
            out[str(rid)] = {**fields, "id": str(rid)}
        return out
    if not isinstance(rules, list):
        raise RuleSetError(source, ["rules: must be a list of rules or a mapping rule id -> fields"])
    for i, fields in enumerate(rules):
        if not isinstance(fields, Mapping) or "id" not in fields:
            raise RuleSetError(source, [f"rules[{i}]: each rule needs an 'id'"])
        out[str(fields["id"])] = dict(fields)
    return out


def _deep_merge(base: Any, patch: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(patch, Mapping):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return patch


def _merge_rule_sets(base: dict[str, Any], patch: dict[str, Any], source: str) -> dict[str, Any]:
    rules = _rules_by_id(base.get("rules"), DEFAULT_SOURCE)
    for rid, fields in _rules_by_id(patch.get("rules"), source).items():
        rules[rid] = _deep_merge(rules[rid], fields) if rid in rules else fields
    merged = _deep_merge({k: v for k, v in base.items() if k != "rules"},
                         {k: v for k, v in patch.items() if k != "rules"})
    merged["rules"] = list(rules.values())
    return merged


def _validate(data: dict[str, Any], source: str) -> RuleSet:
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RuleSetError(source, [_describe_error(err, data) for err in exc.errors()]) from None


def _describe_error(err: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """One line per pydantic error: ``rule 'watercourse-belt', field municipality_overrides.3399.zone_m: ...``."""
    loc = list(err.get("loc", ()))
    prefix = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules") or []
        rid = rules[loc[1]].get("id") if loc[1] < len(rules) and isinstance(rules[loc[1]], Mapping) else None
        prefix = f"rule {rid!r}" if rid else f"rules[{loc[1]}]"
        loc = loc[2:]
    # pydantic adds the validator/type name to some locations; keep only the data path
    path = ".".join(str(p) for p in loc if not (isinstance(p, str) and p.startswith(("function-", "union["))))
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    where = ", ".join(part for part in (prefix, f"field {path}" if path else "") if part)
    return f"{where}: {msg}" if where else msg


# ---------------------------------------------------------------------------------------------- describe


def describe_rules(rs: RuleSet) -> str:
    """A plain-text table of the effective rules, for ``geo-service rules check FILE``."""
    header = ("rule", "theme", "kind", "select", "zone m", "near m", "risk", "applies to", "authority", "legal basis")
    rows: list[tuple[str, ...]] = []
    for r in rs.rules:
        select = "; ".join(f"{k} in {','.join(map(str, v))}" for k, v in r.select.items()) or "all features"
        proximity = r.zone_m if r.proximity_m is None else r.proximity_m
        flag = "" if r.enabled else " (off)"
        rows.append((r.id + flag, r.theme, r.kind.value, select, f"{r.zone_m:g}", f"{proximity:g}", r.risk,
                     r.applies_to, r.authority, r.legal_basis))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [f"Rule set {rs.name} {rs.version}  sha256 {rs.hash()}", "", line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    overrides = [(r.id, knr, r.distances_for(knr)) for r in rs.rules for knr in sorted(r.municipality_overrides)]
    out += ["", "Municipality overrides:" if overrides else "Municipality overrides: none (defaults apply)"]
    out += [f"  {rid}  {knr}: zone {z:g} m, near {p:g} m" for rid, knr, (z, p, _) in overrides]
    out += ["", "Formål groups:"]
    for name, g in rs.formal_groups.items():
        parts = [f"{label} {', '.join(map(str, format_ranges(codes)))}"
                 for label, codes in (("any", g.any), ("KP", g.kommuneplan), ("RP", g.reguleringsplan)) if codes]
        out.append(f"  {name}: {'; '.join(parts)}")
    b = rs.business
    out.append(
        f"Business: groups {', '.join(b.formal_groups)}; in force planstatus {list(b.in_force_planstatus)}; "
        f"reserve arealbruksstatus {list(b.reserve_arealbruksstatus)}"
    )
    return "\n".join(out) + "\n"
