"""The ``geo-service`` command line: serve, demo, layers add|list|versions|rollback.

Errors from the domain are printed as one line naming the problem and the fix, with exit code 2.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.table import Table
from typer.core import TyperGroup

from geo_service.audit import audited, cli_actor
from geo_service.cli_common import WaitOpt, WorkspaceOpt, err, out, settings_for, user_errors
from geo_service.stores import open_store
from layers.kinds import parse_kind

if TYPE_CHECKING:
    from rich.progress import Progress

# Commands whose modules are imported only when the command runs (or help lists them): ``geo-service analyse``
# must not pay for the imports of tiles, maps, programme, keys or sources (FastAPI, openpyxl, Pillow …).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "tiles": ("geo_service.cli_tiles", "tiles_app"),
    "rules": ("geo_service.cli_analysis", "rules_app"),
    "maps": ("geo_service.cli_maps", "maps_app"),
    "sources": ("geo_service.cli_sources", "sources_app"),
    "keys": ("geo_service.cli_keys", "keys_app"),
    "programme": ("geo_service.cli_programme", "programme_app"),
    "audit": ("geo_service.cli_keys", "audit"),
    "analyse": ("geo_service.cli_analysis", "analyse"),
}


class LazyGroup(TyperGroup):
    """The top-level command group: the commands in :data:`LAZY_COMMANDS` are built on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            self.add_command(_lazy_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


def _lazy_command(name: str) -> click.Command:
    module, attribute = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command: click.Command = typer.main.get_group(target)
    else:
        single = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


app = typer.Typer(help="Site-availability and planning service for Kongsbergregionen.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False, cls=LazyGroup)
layers_app = typer.Typer(help="Load, list, version and roll back layers.", no_args_is_help=True)
app.add_typer(layers_app, name="layers")

PROGRESS_THRESHOLD = 20_000  # features; smaller loads finish before a bar is worth drawing


class RichProgress:
    """Our ``layers.progress.Progress`` hook drawn as a rich progress bar (large loads only)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: Any = None

    def stage(self, name: str, total: int | None = None) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total or 0)
        if total is not None and total < PROGRESS_THRESHOLD:
            self._task = None
            return
        self._task = self._progress.add_task(name, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)


@contextmanager
def _progress() -> Iterator[RichProgress]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (SpinnerColumn(), TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as progress:
        yield RichProgress(progress)


@layers_app.command("add")
def layers_add(
    path: Annotated[Path, typer.Argument(help="file or folder: .gpkg .geojson .shp/.zip .fgb .gml .gdb")],
    layer_id: Annotated[str, typer.Option("--id", help="collection id, e.g. ar5-kongsberg")],
    kind: Annotated[str, typer.Option("--kind", help="municipality, zoning, watercourse, farmland, heritage, "
                                                     "flood, road, site or other")],
    layer: Annotated[str | None, typer.Option("--layer", help="layer to read from a multi-layer source")] = None,
    crs: Annotated[str | None, typer.Option("--crs", help="source CRS when the file has none, e.g. 25832")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="attribute encoding if not UTF-8")] = None,
    title: Annotated[str, typer.Option(help="title shown to users")] = "",
    description: Annotated[str, typer.Option(help="what the layer is")] = "",
    attribution: Annotated[str, typer.Option(help="licence and attribution text")] = "",
    force: Annotated[bool, typer.Option("--force", help="publish a wrong geometry type or features outside "
                                                        "the region anyway (missing required fields never)")] = False,
    workspace: WorkspaceOpt = None,
    wait: WaitOpt = False,
) -> None:
    """Check a layer against what its kind needs and publish it as a new version.

    The derived collections are refreshed after it in a background process (only the zones the change can
    affect); ``--wait`` waits for that refresh.
    """
    from geo_service.cli_analysis import refresh_after_publish
    from layers.checks import CheckContext, region_from_store
    from layers.ingest import ingest

    with user_errors():
        layer_kind = parse_kind(kind)
        settings = settings_for(workspace)
        store = open_store(settings)
        checks = CheckContext(region_from_store(store, settings.region_bbox), None, force)
        with audited(store, cli_actor(), "publish", layer_id, source_name=path.name, kind=layer_kind.value,
                     force=force) as detail, _progress() as progress:
            report = ingest(store, path, layer_id, layer_kind, layer=layer, crs=crs, encoding=encoding,
                            title=title, description=description, attribution=attribution, progress=progress,
                            checks=checks)
            detail["version"] = report.version
    for line in report.lines():
        out.print(line, highlight=False, soft_wrap=True)
    with user_errors():
        refresh_after_publish(store, settings, wait=wait)


@layers_app.command("list")
def layers_list(workspace: WorkspaceOpt = None) -> None:
    """List published layers with their current version."""
    with user_errors():
        layers = open_store(settings_for(workspace)).list_layers()
    table = Table("id", "kind", "version", "features", "geometry", "title")
    for layer in layers:
        table.add_row(layer.id, layer.kind.value, str(layer.current.version), str(layer.current.feature_count),
                      layer.current.geometry_type, layer.title)
    out.print(table)


@layers_app.command("versions")
def layers_versions(layer_id: Annotated[str, typer.Argument(help="collection id")],
                    workspace: WorkspaceOpt = None) -> None:
    """List every version of a layer; the current one is marked."""
    with user_errors():
        store = open_store(settings_for(workspace))
        current = store.get_layer(layer_id).current.version
        versions = store.versions(layer_id)
    table = Table("version", "current", "created (UTC)", "features", "source")
    for v in versions:
        table.add_row(str(v.version), "*" if v.version == current else "", v.created.strftime("%Y-%m-%d %H:%M:%S"),
                      str(v.feature_count), str(v.provenance.get("source", "")))
    out.print(table)


@layers_app.command("rollback")
def layers_rollback(layer_id: Annotated[str, typer.Argument(help="collection id")],
                    version: Annotated[int, typer.Argument(help="version to make current")],
                    workspace: WorkspaceOpt = None, wait: WaitOpt = False) -> None:
    """Make an earlier (or later) version current again; nothing is deleted.

    The derived collections are refreshed after it in a background process; ``--wait`` waits for that refresh.
    """
    from geo_service.cli_analysis import refresh_after_publish

    with user_errors():
        settings = settings_for(workspace)
        store = open_store(settings)
        layer = store.rollback(layer_id, version)
    out.print(f"{layer.id} now serves version {layer.current.version} ({layer.current.feature_count} features)")
    with user_errors():
        refresh_after_publish(store, settings, wait=wait)


@app.command("demo")
def demo(workspace: WorkspaceOpt = None,
         seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same data")] = 2005) -> None:
    """Publish the synthetic demo layers (a new version of each) into the workspace."""
    from geo_service.cli_analysis import refresh_and_report
    from layers.seed import publish_demo

    with user_errors():
        settings = settings_for(workspace)
        store = open_store(settings)
        with _progress() as progress:
            published = publish_demo(store, seed=seed, progress=progress)
    for record in published:
        out.print(f"published {record.layer_id} version {record.version}: {record.feature_count} features "
                  "(synthetic demo data)")
    with user_errors():
        refresh_and_report(store, settings)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    workspace: WorkspaceOpt = None,
    seed_demo: Annotated[bool, typer.Option(help="seed the demo data into an empty workspace")] = True,
) -> None:
    """Serve the workspace over HTTP (OGC API – Features); seeds the demo when the workspace is empty."""
    import uvicorn

    from geo_service.cli_analysis import refresh_and_report
    from layers.seed import is_empty, publish_demo

    with user_errors():
        settings = settings_for(workspace)
        store = open_store(settings)
        if seed_demo and is_empty(store):
            out.print("empty workspace: publishing the synthetic demo layers …")
            publish_demo(store)
        refresh_and_report(store, settings)
        close = getattr(store, "close", None)  # PostGIS: the workers open their own pools
        if close is not None:
            close()
    os.environ["GEO_SERVICE_WORKSPACE"] = str(settings.workspace.resolve())
    os.environ["GEO_SERVICE_SEED_DEMO"] = "false"  # seeded above, once, not by each worker
    source = _without_password(settings.database_url) if settings.database_url else settings.workspace.resolve()
    out.print(f"serving {source} at http://{host}:{port}/")
    uvicorn.run("geo_service.main:app_factory", factory=True, host=host, port=port, workers=workers,
                log_level="info", timeout_graceful_shutdown=settings.shutdown_seconds,
                h11_max_incomplete_event_size=settings.max_header_bytes)


def _without_password(url: str) -> str:
    """A database URL fit to print: the password (if any) replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    command: Callable[..., Any] = app
    command(args=argv if argv is not None else sys.argv[1:], prog_name="geo-service")
