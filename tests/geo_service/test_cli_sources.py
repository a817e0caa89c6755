"""``geo-service sources list | sync`` as GIS staff run it, against a replay server on 127.0.0.1; and the
server's scheduled sync, one at a time across processes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from geo_service.settings import Settings
from geo_service.source_scheduler import SourceScheduler
from layers.gpkg_store import GeoPackageStore
from tests.geo_service.test_cli import error_line, run
from tests.layers.sources.test_sources_sync import RA_GML, wfs_handler
from tests.replay import replay  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(not RA_GML.is_file(), reason=f"{RA_GML} is missing")


def workspace_with_override(tmp_path: Path, url: str) -> Path:
    """A workspace whose sources.yaml points the Riksantikvaren source at the replay server (Drammen data)
    and switches off the sources that would go to the internet."""
    ws = tmp_path / "ws"
    ws.mkdir()
    override = {"defaults": {"region": {"bbox": [10.0, 59.6, 10.4, 59.9], "municipalities": ["3301"]},
                             "page_size": 4},
                "sources": [{"id": "ra-kulturminner-lokaliteter", "url": f"{url}/wfs"},
                            *({"id": i, "enabled": False} for i in ("ra-kulturminner-enkeltminner", "nve-flomsoner",
                                                                     "nve-flom-aktsomhet", "kartverket-kommuner"))]}
    (ws / "sources.yaml").write_text(yaml.safe_dump(override, allow_unicode=True), encoding="utf-8")
    return ws


def test_sources_list_and_sync_from_the_command_line(replay, tmp_path: Path) -> None:  # noqa: F811
    replay.handler = wfs_handler([])
    ws = workspace_with_override(tmp_path, replay.url)
    listed = run("sources", "list", "-w", ws, cwd=tmp_path)
    assert listed.returncode == 0 and "ra-kulturminner-lokaliteter" in listed.stdout and "app:Lokalitet" in listed.stdout
    first = run("sources", "sync", "--all", "-w", ws, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "ra-kulturminner-lokaliteter: published version 1 (10 features, 3 pages)" in first.stdout
    second = run("sources", "sync", "ra-kulturminner-lokaliteter", "-w", ws, cwd=tmp_path)
    assert "unchanged (10 features, same content as version 1); nothing published" in second.stdout
    store = GeoPackageStore(ws)
    record = store.get_layer("ra-kulturminner-lokaliteter").current
    assert record.version == 1 and record.feature_count == 10
    assert store.get_layer("ra-kulturminner-lokaliteter").attribution.startswith("Inneholder data under Norsk lisens")
    assert "not modified" not in second.stdout and "1" in run("sources", "list", "-w", ws, cwd=tmp_path).stdout


def test_sync_errors_are_one_line(replay, tmp_path: Path) -> None:  # noqa: F811
    ws = workspace_with_override(tmp_path, replay.url)
    assert "no source 'nope'; known sources: ra-kulturminner-lokaliteter" in error_line(
        run("sources", "sync", "nope", "-w", ws, cwd=tmp_path))
    assert "give a source id or --all" in error_line(run("sources", "sync", "-w", ws, cwd=tmp_path))
    (ws / "sources.yaml").write_text("sources:\n  - id: x\n    title: X\n    url: http://x\n    kind: flood\n    protocol: ftp\n", encoding="utf-8")
    assert "source 'x': protocol: Input should be 'oapif' or 'wfs2'" in error_line(run("sources", "list", "-w", ws, cwd=tmp_path))


def test_scheduled_syncs_run_one_at_a_time_and_once_per_interval(replay, tmp_path: Path) -> None:  # noqa: F811
    pages: list[int] = []
    replay.handler = wfs_handler(pages)
    ws = workspace_with_override(tmp_path, replay.url)
    settings = Settings(workspace=ws, sources_sync_hours=6)
    store = GeoPackageStore(ws)
    schedulers = [SourceScheduler(store, settings), SourceScheduler(GeoPackageStore(ws), settings)]
    threads = [threading.Thread(target=s.run_once) for s in schedulers]  # two workers wake up together
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert pages == [0, 4, 8]  # one of them synced; the other found the run recent and skipped it
    assert [v.version for v in store.versions("ra-kulturminner-lokaliteter")] == [1]
    off = SourceScheduler(store, Settings(workspace=ws, sources_sync_hours=0)).start()
    assert off._thread is None  # 0 hours: no schedule
