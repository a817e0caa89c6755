"""One layer never blocks everyone: a layer missing a selected field is NOT_MAPPED, and a derived refresh that fails
(for any reason) leaves the last good versions serving, marked *behind*, logged once, never stopping a publish or
the server. Synthetic data near Kongsberg (EPSG:25832)."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, box

from constraints import incremental, publish
from constraints.rules import load_rules
from geo_service.analysis_service import AnalysisService
from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.conftest import ORIGIN, farmland_grid
from tests.geo_service.test_cli import run
from tests.servers import serve_workspace

X0, Y0 = ORIGIN


def zoning() -> gpd.GeoDataFrame:
    """Two synthetic business zones: one on the farmland grid, one 3 km away."""
    return gpd.GeoDataFrame({"arealformal": [1300, 1300], "plantype": ["kommuneplan"] * 2, "planstatus": [3, 3],
                             "arealbruksstatus": [2, 2], "kommunenummer": ["3303"] * 2, "planid": ["S1", "S2"]},
                            geometry=[box(X0 + 100, Y0 + 100, X0 + 300, Y0 + 300),
                                      box(X0 + 3000, Y0, X0 + 3200, Y0 + 200)], crs=25832)


def heritage_without_vernetype() -> gpd.GeoDataFrame:
    """Synthetic heritage points with a name but no vernetype column (as some municipal exports come)."""
    return gpd.GeoDataFrame({"navn": ["Gravhaug", "Tuft"]}, geometry=[Point(X0 + 150, Y0 + 150),
                                                                     Point(X0 + 3100, Y0 + 100)], crs=25832)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    store = GeoPackageStore(tmp_path / "ws")
    store.publish("jorder", farmland_grid(), LayerMeta(LayerKind.farmland, "Jorder (syntetisk)"))
    store.publish("plan", zoning(), LayerMeta(LayerKind.zoning, "Plan (syntetisk)"))
    return tmp_path / "ws"


def test_heritage_layer_without_vernetype_is_published_and_analysed_as_not_mapped(
        tmp_path: Path, workspace: Path) -> None:
    source = tmp_path / "kulturminner.geojson"
    heritage_without_vernetype().to_file(source, driver="GeoJSON")
    added = run("layers", "add", source, "--id", "kulturminner", "--kind", "heritage", "-w", workspace, "--wait",
                cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "recomputed objection-risk" in added.stdout and "warning" not in added.stderr
    analysed = run("analyse", "--force", "-w", workspace, cwd=tmp_path)
    assert analysed.returncode == 0, analysed.stderr
    store = GeoPackageStore(workspace)
    risk = store.read_frame(store.get_layer("objection-risk").current)
    assert sorted(risk["objection_risk"]) == ["NOT_MAPPED", "RED"]  # on the farmland grid: RED; away: not mapped
    for _, row in risk.iterrows():
        assert "heritage-automatic" in json.loads(row["not_mapped_rules"])
        notes = [f["explanation_en"] for f in json.loads(row["findings"]) if f["rule_id"] == "heritage-automatic"]
        assert notes  # the finding is there, with its rule texts
    findings = json.loads(risk.iloc[0]["findings"])
    assert {f["rule_id"] for f in findings} >= {"heritage-automatic", "farmland-jordvern"}


def test_failed_refresh_keeps_publish_and_server_start_and_marks_behind(tmp_path: Path, workspace: Path) -> None:
    """A broken rule file (a real cause): `layers add` exits 0 with a warning, `serve` starts, metadata says behind."""
    first = run("analyse", "-w", workspace, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    store = GeoPackageStore(workspace)
    good = store.get_layer("objection-risk").current.version
    (workspace / "rules.yaml").write_text("rules:\n  - id: farmland-jordvern\n    zone_m: -5\n", encoding="utf-8")
    source = tmp_path / "km.geojson"
    gpd.GeoDataFrame({"vernetype": ["AUT"]}, geometry=[Point(X0 + 150, Y0 + 150)], crs=25832).to_file(source)
    added = run("layers", "add", source, "--id", "km", "--kind", "heritage", "-w", workspace, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "published km version 1" in added.stdout
    warning = [line for line in added.stderr.splitlines() if line.strip()]
    assert len(warning) == 1 and warning[0].startswith("warning: the analysis is behind: RuleSetError")
    assert "Traceback" not in added.stderr
    assert store.get_layer("km").current.version == 1  # the publish stands
    assert store.get_layer("objection-risk").current.version == good  # the last good version serves
    failed = run("analyse", "-w", workspace, cwd=tmp_path)  # asked for the analysis itself: a one-line error
    assert failed.returncode == 2 and failed.stderr.startswith("error: the analysis failed: RuleSetError")
    with serve_workspace(workspace, tmp_path / "serve.log", timeout=60) as url:
        with urllib.request.urlopen(f"{url}/collections/objection-risk", timeout=10) as response:
            doc = json.load(response)
        with urllib.request.urlopen(f"{url}/collections/objection-risk/items?limit=5", timeout=10) as response:
            items = json.load(response)
    assert doc["version"] == good and doc["analysis"]["status"] == "behind"
    assert doc["analysis"]["failed"] is True and "RuleSetError" in doc["analysis"]["reason"]
    assert doc["analysis"]["message_nb"].startswith("Analysen er ikke oppdatert")
    assert len(items["features"]) == 2  # still served
    assert "the analysis is behind" in (tmp_path / "serve.log").read_text()


def test_refresh_failure_is_logged_once_backed_off_and_retried_when_an_input_changes(
        workspace: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Any exception in the engine (simulated here) must not escape the loop nor be logged every few seconds."""
    settings = Settings(workspace=workspace, seed_demo=False, analysis_refresh_seconds=0)
    store = GeoPackageStore(workspace)
    service = AnalysisService(store, settings)
    assert [r.layer_id for r in service.try_refresh()] == ["objection-risk", "business-areas"]
    assert service.status().status == "current"
    calls = []

    def broken(*args: object, **kwargs: object) -> object:
        calls.append(1)
        raise MemoryError("synthetic failure inside the engine")

    monkeypatch.setattr(publish, "run_analysis", broken)
    monkeypatch.setattr(incremental, "analyse_zones", broken)  # the engine of an incremental refresh
    store.publish("plan", zoning().iloc[:1].assign(planid="S1b"), LayerMeta(LayerKind.zoning, "Plan v2 (syntetisk)"))
    with caplog.at_level(logging.ERROR, logger="geo_service.analysis"):
        for _ in range(5):
            assert service.try_refresh() == []
    assert len(calls) == 1  # backed off: the same inputs are not retried at once
    assert len([r for r in caplog.records if "refreshing derived layers failed" in r.getMessage()]) == 1
    status = service.status()
    assert status.status == "behind" and status.failed and status.reason.startswith("MemoryError: synthetic")
    assert store.get_layer("objection-risk").current.version == 1
    with TestClient(create_app(settings)) as client:
        client.app.state.analysis.failure = service.failure  # the same process state, shown over HTTP
        doc = client.get("/collections/objection-risk").json()
        plain = client.get("/collections/plan").json()
        page = client.get("/maps/investor").text
        english = client.get("/maps/planner?lang=en").text
    assert '<div id="analysis-behind" role="alert"' in page  # the pages say so too, in their language
    assert "Analysen er ikke oppdatert" in page.split('id="analysis-behind"')[1][:800]
    assert "MemoryError" in english.split('id="analysis-behind"')[1][:800]
    assert doc["analysis"]["status"] == "behind" and doc["analysis"]["reason"] == status.reason
    assert doc["analysis"]["since"] and "analysis" not in plain
    monkeypatch.undo()
    store.publish("plan", zoning(), LayerMeta(LayerKind.zoning, "Plan v3 (syntetisk)"))  # an input changes
    assert [r.version for r in service.try_refresh()] == [2, 2]  # retried at once, and succeeds
    assert service.failure is None and service.status().status == "current"


def test_pending_refresh_reads_as_behind_with_since(workspace: Path) -> None:
    store = GeoPackageStore(workspace)
    rules = load_rules()
    assert publish.analysis_status(store, rules).status == "behind"  # never computed
    publish.refresh_derived(store, rules)
    assert publish.analysis_status(store, rules).to_dict() == {"status": "current"}
    record = store.publish("jorder", farmland_grid().iloc[:50], LayerMeta(LayerKind.farmland, "Jorder v2"))
    status = publish.analysis_status(store, rules)
    assert status.status == "behind" and not status.failed and status.since == record.created
    assert "recomputed" in status.reason and status.text("en").startswith("The analysis is behind")


def test_a_background_refresh_failure_is_shown_by_every_process(
        workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The refresh after `layers add` runs in its own process: its failure reaches a server through the audit log."""
    from constraints.refresh_record import ACTOR
    from geo_service.cli_analysis import refresh_and_report

    settings = Settings(workspace=workspace, seed_demo=False, analysis_refresh_seconds=0)
    store = GeoPackageStore(workspace)
    assert refresh_and_report(store, settings)

    def broken(*args: object, **kwargs: object) -> object:
        raise MemoryError("synthetic failure inside the engine")

    monkeypatch.setattr(publish, "run_analysis", broken)
    monkeypatch.setattr(incremental, "analyse_zones", broken)
    store.publish("plan", zoning().iloc[:1].assign(planid="S1b"), LayerMeta(LayerKind.zoning, "Plan v2 (syntetisk)"))
    assert not refresh_and_report(store, settings)  # what `geo-service analyse --queued` runs, in its process
    assert not refresh_and_report(store, settings)  # tried again on the same inputs
    monkeypatch.undo()

    entries = [e for e in store.audit_entries(10, "objection-risk") if e.actor == ACTOR]
    assert [e.result for e in entries] == ["failed", "failed"]
    assert entries[0].detail["inputs"] == {"jorder": 1, "plan": 2}
    other = GeoPackageStore(workspace)  # another process: no failure of its own
    status = publish.analysis_status(other, load_rules())
    assert status.status == "behind" and status.failed
    assert status.reason == "MemoryError: synthetic failure inside the engine"
    assert status.since == entries[-1].at.replace(tzinfo=status.since.tzinfo)  # since the first failed attempt
    with TestClient(create_app(settings)) as client:
        doc = client.get("/collections/objection-risk").json()
    assert doc["version"] == 1 and doc["analysis"]["failed"] is True
    assert doc["analysis"]["reason"].startswith("MemoryError")

    store.publish("plan", zoning(), LayerMeta(LayerKind.zoning, "Plan v3 (syntetisk)"))  # new inputs: pending again
    pending = publish.analysis_status(other, load_rules())
    assert pending.status == "behind" and not pending.failed and "recomputed" in pending.reason
