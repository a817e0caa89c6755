"""The enquiry status workflow, read from ``workflow.yaml``: new → clarifying → sites offered → decision."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from programme.errors import TransitionRefused


@dataclass(frozen=True)
class Status:
    """One status: its labels, whether the enquiry is still open, and the weekly work it takes."""

    id: str
    nb: str
    en: str
    open: bool
    decision: bool
    hours_per_week: float

    def label(self, lang: str) -> str:
        return self.en if lang == "en" else self.nb


@dataclass(frozen=True)
class Workflow:
    statuses: dict[str, Status]
    transitions: dict[str, tuple[str, ...]]

    def status(self, status_id: str) -> Status:
        return self.statuses[status_id]

    def check(self, current: str, target: str, reason: str | None) -> None:
        """Raise ``TransitionRefused`` unless ``current`` → ``target`` is allowed (decisions need a reason)."""
        if target not in self.statuses:
            raise TransitionRefused(f"unknown status {target!r}; statuses: {', '.join(self.statuses)}")
        allowed = self.transitions.get(current, ())
        if target not in allowed:
            options = ", ".join(allowed) or "none (the enquiry is decided)"
            raise TransitionRefused(f"an enquiry in status {current!r} cannot go to {target!r}; allowed: {options}")
        if self.statuses[target].decision and not (reason or "").strip():
            raise TransitionRefused(f"a decision ({target!r}) needs a reason")

    @property
    def open_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.statuses.values() if s.open)

    @property
    def decision_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.statuses.values() if s.decision)


@cache
def workflow() -> Workflow:
    """The shipped workflow (validated once)."""
    data = yaml.safe_load(resources.files(__package__).joinpath("workflow.yaml").read_text(encoding="utf-8"))
    statuses = {k: Status(k, v["nb"], v["en"], bool(v["open"]), bool(v.get("decision", False)),
                          float(v.get("hours_per_week", 0))) for k, v in data["statuses"].items()}
    transitions = {k: tuple(v) for k, v in data["transitions"].items()}
    for source, targets in transitions.items():
        unknown = [t for t in (source, *targets) if t not in statuses]
        if unknown:
            raise ValueError(f"workflow.yaml: unknown status {unknown[0]!r} in transitions")
    return Workflow(statuses, transitions)
