"""Progress reporting hook: domain code says what it does; the CLI decides how to show it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Receives stage changes and work done; the CLI implements it with a rich progress bar."""

    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class NoProgress:
    """A progress hook that shows nothing (library use, tests, the HTTP API)."""

    def stage(self, name: str, total: int | None = None) -> None:
        """Ignore the stage."""

    def advance(self, amount: int = 1) -> None:
        """Ignore the advance."""
