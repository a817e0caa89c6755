"""What every ``geo-service`` command shares: consoles, the workspace option, settings, error handling."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer
from rich.console import Console
from rich.text import Text

from constraints.errors import ConstraintsError
from geo_service.settings import Settings
from layers.errors import LayerError
from sites.errors import SitesError

# markup=False: user text (file names like "plan [bold red]gammel.gpkg", titles, field values) prints verbatim
out = Console(markup=False)
err = Console(stderr=True, markup=False)

WorkspaceOpt = Annotated[Path | None, typer.Option("--workspace", "-w", envvar="GEO_SERVICE_WORKSPACE",
                                                    help="workspace folder (default ./workspace)")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="wait for the derived refresh (objection-risk, "
                                                    "business-areas) and say what was recomputed")]


def settings_for(workspace: Path | None, **extra: Any) -> Settings:
    """Settings from the environment / geo-service.toml, with ``--workspace`` winning when given."""
    values: dict[str, Any] = dict(extra)
    if workspace is not None:
        values["workspace"] = workspace
    return Settings(**values)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every error into one line on stderr and exit code 2; never a traceback.

    Domain errors carry their own message (problem and fix). Out of disk space is said so whatever raised it;
    any other failure is named by its type and first line (``GEO_SERVICE_DEBUG=1`` shows the traceback).
    """
    try:
        yield
    except (typer.Exit, typer.Abort, click.exceptions.ClickException):
        raise
    except (LayerError, ConstraintsError, SitesError, ValueError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; nothing half-written is served (an interrupted publish is cleaned up at the next start)")
    except Exception as exc:
        if os.environ.get("GEO_SERVICE_DEBUG"):
            raise
        from layers.ingest import is_out_of_space  # imported here: most commands never need the readers

        if is_out_of_space(exc):
            fail(f"no space left on the disk ({_first_line(exc)}); free space and run the command again")
        if isinstance(exc, OSError):
            fail(f"{exc.strerror or _first_line(exc)}: {exc.filename or ''}".rstrip(": "))
        fail(f"unexpected {type(exc).__name__}: {_first_line(exc)} (a bug: please report it with the command; "
             "GEO_SERVICE_DEBUG=1 shows the details)")


def fail(message: str) -> NoReturn:
    """Print ``error: MESSAGE`` as one line (verbatim, never markup) and exit with code 2."""
    err.print(Text("error: ", style="bold red") + Text(" ".join(message.split())), highlight=False,
              soft_wrap=True)
    raise typer.Exit(2)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
