"""Typed errors of the constraint engine; ``geo_service/errors.py`` maps them to HTTP statuses once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class ConstraintsError(Exception):
    """Base class of every error raised by ``constraints``."""


class CRSMismatchError(ConstraintsError):
    """Inputs of one analysis are not in the same CRS (the engine never reprojects silently)."""

    def __init__(self, expected: tuple[str, str], mismatched: Sequence[tuple[str, str]]) -> None:
        self.expected = expected
        self.mismatched = list(mismatched)
        others = "; ".join(f"layer {name!r} is in {crs}" for name, crs in self.mismatched)
        super().__init__(
            f"CRS mismatch: layer {expected[0]!r} is in {expected[1]}, but {others}. "
            "Reproject the layers to the working CRS on ingest (the analysis never reprojects silently)."
        )


class MissingCRSError(ConstraintsError):
    """A layer has no CRS at all."""

    def __init__(self, layer: str) -> None:
        self.layer = layer
        super().__init__(f"layer {layer!r} has no CRS; ingest must assign one before analysis")


class NonMetricCRSError(ConstraintsError):
    """The analysis CRS is not a projected CRS in metres (buffers would be in degrees)."""

    def __init__(self, layer: str, crs: str) -> None:
        self.layer = layer
        self.crs = crs
        super().__init__(
            f"layer {layer!r} is in {crs}, which is not a projected CRS in metres; "
            "analyse in the working CRS (EPSG:25832), never buffer in degrees"
        )


class MissingColumnError(ConstraintsError):
    """A rule selects on an attribute a constraint layer does not have."""

    def __init__(self, layer: str, column: str, rule_id: str | None = None) -> None:
        self.layer = layer
        self.column = column
        self.rule_id = rule_id
        by = f" required by rule {rule_id!r}" if rule_id else ""
        super().__init__(f"layer {layer!r} has no column {column!r}{by}")


class RuleSetError(ConstraintsError):
    """A rule file is unreadable or invalid. ``problems`` holds one line per problem."""

    def __init__(self, source: str | Path, problems: Sequence[str]) -> None:
        self.source = str(source)
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid rule set in {self.source}:\n{listing}")


class UnknownRuleError(ConstraintsError):
    """A rule id was asked for that the rule set does not contain."""

    def __init__(self, rule_id: str, known: Sequence[str]) -> None:
        self.rule_id = rule_id
        super().__init__(f"unknown rule {rule_id!r}; the rule set has: {', '.join(known)}")


class SiteGeometryError(ConstraintsError):
    """A site to check has no usable geometry."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot check the site: {reason}")


class SiteTooComplex(SiteGeometryError):
    """A site has more vertices, parts or holes than the service checks (the limits are settings)."""


class SiteCheckOverBudget(SiteGeometryError):
    """A site check ran past its time budget and was stopped (a simpler outline checks faster)."""
