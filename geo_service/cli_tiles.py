"""``geo-service tiles …``: vector-tile commands (registered on the main app in ``geo_service.cli``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geo_service.cli_common import WorkspaceOpt, err, out, settings_for, user_errors
from geo_service.stores import open_store
from maps.export import DEFAULT_MAXZOOM, DEFAULT_MINZOOM, Engine, export_tiles
from maps.lowzoom import LowZoomGrids
from maps.tile_cache import TileCache
from maps.tiles import TileService, seed

tiles_app = typer.Typer(help="Vector tiles: export a layer as a PMTiles or MBTiles archive, seed the tile cache.",
                        no_args_is_help=True)


@tiles_app.command("export")
def tiles_export(
    layer_id: Annotated[str, typer.Argument(help="collection id")],
    output: Annotated[Path, typer.Option("--output", "-o", help="archive to write: FILE.pmtiles or FILE.mbtiles")],
    minzoom: Annotated[int, typer.Option(help="lowest zoom level")] = DEFAULT_MINZOOM,
    maxzoom: Annotated[int, typer.Option(help="highest zoom level")] = DEFAULT_MAXZOOM,
    engine: Annotated[str, typer.Option(help="auto (tippecanoe when installed, else GDAL), tippecanoe or gdal")]
    = "auto",
    workspace: WorkspaceOpt = None,
) -> None:
    """Tile a layer's current version into a static archive for a CDN or object store."""
    if engine not in ("auto", "tippecanoe", "gdal"):
        err.print(f"error: --engine {engine!r}: use auto, tippecanoe or gdal", markup=False, highlight=False)
        raise typer.Exit(2)
    with user_errors():
        store = open_store(settings_for(workspace))
        report = export_tiles(store, store.get_layer(layer_id), output, minzoom, maxzoom, engine=_engine(engine))
    out.print(f"wrote {report.path} ({report.bytes / 1e6:.1f} MB): layer {report.layer_id} version "
               f"{report.version}, {report.features} features, zoom {report.minzoom}-{report.maxzoom}, "
               f"{report.engine}", markup=False, highlight=False, soft_wrap=True)


@tiles_app.command("seed")
def tiles_seed(
    layer_id: Annotated[str, typer.Argument(help="collection id")],
    maxzoom: Annotated[int, typer.Option(help="highest zoom level to render")] = 10,
    minzoom: Annotated[int, typer.Option(help="lowest zoom level to render")] = 0,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", envvar="GEO_SERVICE_TILE_CACHE_DIR",
                                                   help="the disk tier of the tile cache the servers use")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Pre-render a layer's low zooms into the disk tier of the tile cache (after a publish, say)."""
    if cache_dir is None:
        err.print("error: --cache-dir or GEO_SERVICE_TILE_CACHE_DIR names the disk tier to fill", markup=False)
        raise typer.Exit(2)
    with user_errors():
        store = open_store(settings_for(workspace))
        layer = store.get_layer(layer_id)
        grids = LowZoomGrids(store, cache_dir)  # big polygon layers: their low zooms from the coverage grid
        report = seed(TileService(store, TileCache(max_bytes=0, disk_dir=cache_dir), grids), layer,
                      range(minzoom, maxzoom + 1))
    out.print(f"seeded {report.tiles} tiles of {layer.id} version {layer.current.version} (zoom {minzoom}-{maxzoom}, "
               f"{report.non_empty} with features, {report.bytes / 1e6:.1f} MB) into {cache_dir}",
               markup=False, highlight=False, soft_wrap=True)


def _engine(value: str) -> Engine:
    return "tippecanoe" if value == "tippecanoe" else "gdal" if value == "gdal" else "auto"
