"""What every ``geo-service`` command shares: consoles, the workspace option, settings, error handling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from constraints.errors import ConstraintsError
from geo_service.settings import Settings
from layers.errors import LayerError
from sites.errors import SitesError

out = Console()
err = Console(stderr=True)

WorkspaceOpt = Annotated[Path | None, typer.Option("--workspace", "-w", envvar="GEO_SERVICE_WORKSPACE",
                                                    help="workspace folder (default ./workspace)")]


def settings_for(workspace: Path | None, **extra: Any) -> Settings:
    """Settings from the environment / geo-service.toml, with ``--workspace`` winning when given."""
    values: dict[str, Any] = dict(extra)
    if workspace is not None:
        values["workspace"] = workspace
    return Settings(**values)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn domain errors into one line on stderr and exit code 2; never a traceback."""
    try:
        yield
    except (LayerError, ConstraintsError, SitesError, ValueError) as exc:
        message = " ".join(str(exc).split()) if isinstance(exc, LayerError) else str(exc)
        # Text, not markup: file names such as "plan [gammel].gpkg" must print verbatim
        err.print(Text("error: ", style="bold red") + Text(message), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
