"""Old layer versions leave the tile disk tier and the coverage-grid folder (``maps.tile_retention``): versions
older than the current one go, but the one just before it; newer ones, removed layers and other files stay.
The service prunes at start-up. SYNTHETIC folders and layer."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from maps.tile_retention import prune_versions
from tests.geo_service.conftest import farmland_grid


def _version_folders(folder: Path, layer: str, names: list[str]) -> None:
    for name in names:
        tile = folder / layer / name / "all" / "12" / "2170"
        tile.mkdir(parents=True)
        (tile / "1190.mvt").write_bytes(b"\x1a\x00")


def test_prune_keeps_the_current_and_the_previous_version(tmp_path: Path) -> None:
    _version_folders(tmp_path, "jorder", ["1-aaa", "2-bbb", "3-ccc", "4-ddd", "6-fff"])
    _version_folders(tmp_path, "fjernet", ["1-aaa"])  # a removed layer: it may be restored
    (tmp_path / "jorder" / "notes.txt").write_text("not a version folder")
    (tmp_path / "jorder" / "x-1").mkdir()

    removed = prune_versions(tmp_path, {"jorder": 4, "other": 2})
    assert sorted(p.name for p in removed) == ["1-aaa", "2-bbb"]
    left = sorted(p.name for p in (tmp_path / "jorder").iterdir())
    assert left == ["3-ccc", "4-ddd", "6-fff", "notes.txt", "x-1"]  # previous, current, newer (rolled back)
    assert (tmp_path / "fjernet" / "1-aaa").is_dir()
    assert prune_versions(tmp_path, {"jorder": 4}) == []  # nothing more to do
    assert prune_versions(tmp_path / "missing", {"jorder": 4}) == []


def test_the_service_prunes_its_tile_folders_at_start(tmp_path: Path) -> None:
    workspace, disk = tmp_path / "ws", tmp_path / "tiles"
    store = GeoPackageStore(workspace)
    for _ in range(3):
        store.publish("jorder", farmland_grid().iloc[:5], LayerMeta(LayerKind.farmland, "Jorder (syntetisk)"))
    assert store.get_layer("jorder").current.version == 3
    _version_folders(disk, "jorder", ["1-aaa", "2-bbb", "3-ccc"])  # the disk tier (tiles and grids)
    _version_folders(workspace / "tile-grids", "jorder", ["1-aaa", "2-bbb", "3-ccc"])  # grids without a disk tier
    for settings, folder in (({"tile_cache_dir": disk}, disk), ({}, workspace / "tile-grids")):
        with TestClient(create_app(Settings(workspace=workspace, seed_demo=False, analysis_refresh_seconds=0,
                                            **settings))):
            deadline = time.monotonic() + 10
            while (folder / "jorder" / "1-aaa").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert sorted(p.name for p in (folder / "jorder").iterdir()) == ["2-bbb", "3-ccc"]
