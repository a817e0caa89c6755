"""``geo-service maps …``: export the investor or planner map as one standalone HTML file.

The file holds Leaflet, our script and stylesheet and the data inline; it works opened from disk
(``file://``) with no server. Registered on the main app in ``geo_service.cli``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from constraints.rules import load_rules
from geo_service.cli_analysis import refresh_and_report
from geo_service.cli_common import WorkspaceOpt, err, out, settings_for, user_errors
from geo_service.stores import open_store
from maps.errors import UnknownMap
from maps.i18n import LANGS, parse_lang

maps_app = typer.Typer(help="Interactive maps: export the investor or planner map as a standalone HTML file.",
                       no_args_is_help=True)


@maps_app.command("export")
def maps_export(
    name: Annotated[str, typer.Argument(help="which map: investor or planner")],
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write, e.g. investor.html")],
    lang: Annotated[str, typer.Option(help="language: nb (bokmål) or en")] = "nb",
    basemap: Annotated[bool, typer.Option(help="include the configured basemap (the only request the file "
                                               "makes; off: fully offline)")] = True,
    refresh: Annotated[bool, typer.Option(help="recompute stale derived collections first")] = True,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write a standalone map page (assets and data inline; vector-tile layers are left out)."""
    with user_errors():
        from maps.pages import MAP_NAMES, export_page  # folium: imported only for this command

        if name not in MAP_NAMES:
            raise UnknownMap(f"no map named {name!r}; choose one of: {', '.join(MAP_NAMES)}")
        if lang.strip().lower() not in ("nb", "no", "nob", "en", "eng"):
            raise ValueError(f"--lang {lang!r}: use one of {', '.join(LANGS)}")
        settings = settings_for(workspace)
        store = open_store(settings)
        if refresh:
            refresh_and_report(store, settings)
        report = export_page(store, name, output, load_rules(settings.effective_rules_file()),
                             lang=parse_lang(lang), basemap_url=settings.basemap_url if basemap else None,
                             basemap_attribution=settings.basemap_attribution)
    out.print(f"wrote {report.path} ({report.name} map, {report.lang}, {report.size_bytes / 1e6:.1f} MB); "
              "open it in a browser, no server needed", highlight=False, soft_wrap=True)
    if basemap and settings.basemap_url:
        err.print("note: the basemap tiles are fetched from the configured basemap URL when online; "
                  "--no-basemap writes a file that makes no request at all", highlight=False, soft_wrap=True)
