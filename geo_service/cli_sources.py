"""``geo-service sources list | sync ID | sync --all``: national layers kept in step with their services."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from geo_service.cli_analysis import refresh_after_publish
from geo_service.cli_common import WaitOpt, WorkspaceOpt, err, out, settings_for, user_errors
from geo_service.stores import open_store
from layers.errors import LayerNotFound
from layers.sources import find_source, load_sources
from layers.sources.run import run_syncs
from layers.sources.sync import PROVENANCE_KEY

sources_app = typer.Typer(help="National sources: list them, sync one or all.", no_args_is_help=True)


@sources_app.command("list")
def sources_list(workspace: WorkspaceOpt = None) -> None:
    """The sources (shipped defaults merged with the workspace sources.yaml) and their last sync."""
    with user_errors():
        settings = settings_for(workspace)
        specs = load_sources(settings.effective_sources_file())
        store = open_store(settings)
    table = Table("id", "protocol", "kind", "enabled", "verified", "layer", "version", "last sync (UTC)")
    for spec in specs:
        version, synced = "", ""
        try:
            current = store.get_layer(spec.target).current
            version = str(current.version)
            synced = str((current.provenance.get(PROVENANCE_KEY) or {}).get("synced_at", ""))
        except LayerNotFound:
            pass
        table.add_row(spec.id, spec.protocol, spec.kind.value, "yes" if spec.enabled else "no", str(spec.verified),
                      spec.collection or spec.typename or "", version, synced)
    out.print(table)


@sources_app.command("sync")
def sources_sync(
    source_id: Annotated[str | None, typer.Argument(help="source id (see `sources list`)")] = None,
    all_sources: Annotated[bool, typer.Option("--all", help="sync every enabled source")] = False,
    workspace: WorkspaceOpt = None,
    wait: WaitOpt = False,
) -> None:
    """Fetch a source (or all enabled ones); publish a new version only when the content changed.

    After a publish the derived collections are refreshed in a background process; ``--wait`` waits for it.
    """
    with user_errors():
        if (source_id is None) == (not all_sources):
            raise ValueError("give a source id or --all (not both) / oppgi én kilde eller --all")
        settings = settings_for(workspace)
        specs = load_sources(settings.effective_sources_file())
        chosen = [s for s in specs if s.enabled] if all_sources else [find_source(specs, source_id or "")]
        store = open_store(settings)
        report = run_syncs(store, chosen, settings.sources_staging())
    for result in report.results:
        out.print(result.line(), highlight=False, soft_wrap=True)
        for warning in result.warnings:
            out.print(f"  warning: {warning}", highlight=False, soft_wrap=True)
    if any(r.status == "published" for r in report.results):
        with user_errors():
            refresh_after_publish(store, settings, wait=wait)
    if report.failures:
        for sid, message in report.failures:
            err.print(f"error: {sid}: {message}", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(2)
