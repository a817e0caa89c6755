"""``layers add`` returns after publishing; the derived refresh follows in one background process at a time
(``--wait`` waits for it), and the derived collections say ``refreshing`` while it runs.

SYNTHETIC DATA: the two-municipality workspace of ``tests/constraints/test_incremental.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from constraints import publish
from constraints.publish import DERIVED_LOCK, OBJECTION_RISK, refresh_derived
from constraints.rules import load_rules
from geo_service.cli_refresh import LOG_NAME, wait_turn
from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.locks import held_since, refreshing, try_exclusive
from layers.store import LayerMeta, Store
from tests.constraints.test_incremental import build
from tests.geo_service.test_cli import run


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    store = GeoPackageStore(tmp_path / "ws")
    build(store)
    farmland = store.read_frame(store.get_layer("ar5").current)  # as `layers add` of a file publishes it
    farmland.to_file(tmp_path / "ar5-v1.geojson", driver="GeoJSON", index=False)
    ingest(store, tmp_path / "ar5-v1.geojson", "ar5", LayerKind.farmland)
    refresh_derived(store, load_rules())
    return tmp_path / "ws"


def _edited_farmland(store: Store, path: Path, n: int = 10, seed: int = 0) -> Path:
    """The current AR5 layer as a file with ``n`` parcels of another class (what a GIS engineer re-exports)."""
    frame = store.read_frame(store.get_layer("ar5").current)
    rng = np.random.default_rng(seed)
    picked = rng.choice(frame.index.to_numpy(), size=n, replace=False)
    frame.loc[picked, "arealtype"] = np.where(frame.loc[picked, "arealtype"] == 30, 21, 30)
    frame.to_file(path, driver="GeoJSON", index=False)
    return path


@contextmanager
def _running_refresh(store: Store) -> Iterator[None]:
    """Hold the derived lock from another thread, as a refresh in progress does."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store.exclusive(DERIVED_LOCK), refreshing(store, DERIVED_LOCK):
            taken.set()
            done.wait(60)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def _wait_for_log(workspace: Path, lines: int, timeout: float = 90.0) -> str:
    log = workspace / ".locks" / LOG_NAME
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8") if log.exists() else ""
        if text.count("background refresh finished") >= lines:
            return text
        time.sleep(0.2)
    raise AssertionError(f"no {lines} finished background refreshes in {timeout} s: {text!r}")


def test_add_returns_after_publishing_and_one_refresh_follows(tmp_path: Path, workspace: Path) -> None:
    store = GeoPackageStore(workspace)
    rules = load_rules()
    before = store.get_layer(OBJECTION_RISK).current.version
    with _running_refresh(store):  # a refresh is running: two quick publishes queue one more refresh, not two
        for k in range(2):
            added = run("layers", "add", _edited_farmland(store, tmp_path / f"ar5-{k}.geojson", seed=k), "--id", "ar5",
                        "--kind", "farmland", "-w", workspace, cwd=tmp_path)
            assert added.returncode == 0, added.stderr
            assert "refreshing objection-risk and business-areas in the background" in added.stdout
            assert store.get_layer(OBJECTION_RISK).current.version == before  # returned before the refresh
        status = publish.analysis_status(store, rules)
        assert status.status == "refreshing" and status.to_dict()["message_en"].startswith(
            "The analysis is being recomputed")
    log = _wait_for_log(workspace, 2)
    record = store.get_layer(OBJECTION_RISK).current
    assert record.version == before + 1  # one refresh for the two publishes
    assert record.provenance["inputs"]["ar5"] == store.get_layer("ar5").current.version == 4
    engine = record.provenance["engine"]
    assert engine["mode"] == "incremental" and 0 < engine["recomputed_zones"] < engine["zones"] / 2, engine
    assert f"objection-risk v{record.version}: incremental, {engine['recomputed_zones']} of" in log
    assert publish.analysis_status(store, rules).status == "current"


def test_queued_refreshes_never_pile_up(workspace: Path) -> None:
    """While a refresh runs, the first newcomer waits (holding the queue); every further one leaves at once."""
    store = GeoPackageStore(workspace)
    waited: list[bool] = []
    with _running_refresh(store):
        queued = threading.Event()  # the first newcomer holds the queue and now waits for the running refresh
        exclusive = store.exclusive

        def noting(name: str):
            if name == DERIVED_LOCK and threading.current_thread() is first:
                queued.set()
            return exclusive(name)

        store.exclusive = noting  # type: ignore[method-assign]
        first = threading.Thread(target=lambda: waited.append(wait_turn(store)), daemon=True)
        first.start()
        assert queued.wait(10)  # (polling the queue lock instead could take it just when the newcomer tries)
        assert [wait_turn(store), wait_turn(store)] == [False, False]
        assert first.is_alive()  # still waiting for the running refresh
    first.join(10)
    assert waited == [True]


def test_wait_prints_what_was_recomputed(tmp_path: Path, workspace: Path) -> None:
    store = GeoPackageStore(workspace)
    added = run("layers", "add", _edited_farmland(store, tmp_path / "ar5.geojson"), "--id", "ar5", "--kind",
                "farmland", "-w", workspace, "--wait", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    engine = store.get_layer(OBJECTION_RISK).current.provenance["engine"]
    assert engine["mode"] == "incremental" and engine["changed_layers"]["ar5"]["changed"] == 10
    assert (f"objection-risk v2: incremental, {engine['recomputed_zones']} of {engine['zones']} zones recomputed "
            "(ar5: 10 changed)") in added.stdout
    assert not (workspace / ".locks" / LOG_NAME).exists()  # nothing ran in the background


def test_rollback_refreshes_in_the_background_or_waits(tmp_path: Path, workspace: Path) -> None:
    """`layers rollback` is a publish too: it returns at once (one background refresh) unless told to --wait."""
    store = GeoPackageStore(workspace)
    added = run("layers", "add", _edited_farmland(store, tmp_path / "ar5.geojson"), "--id", "ar5", "--kind",
                "farmland", "-w", workspace, "--wait", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert store.get_layer(OBJECTION_RISK).current.provenance["inputs"]["ar5"] == 3
    back = run("layers", "rollback", "ar5", "2", "-w", workspace, "--wait", cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    record = store.get_layer(OBJECTION_RISK).current
    assert record.version == 3 and record.provenance["inputs"]["ar5"] == 2  # computed on the version rolled back to
    assert record.provenance["engine"]["mode"] == "incremental"
    assert "ar5 now serves version 2" in back.stdout and "objection-risk v3: incremental, " in back.stdout
    forward = run("layers", "rollback", "ar5", "3", "-w", workspace, cwd=tmp_path)
    assert forward.returncode == 0, forward.stderr
    assert "refreshing objection-risk and business-areas in the background" in forward.stdout
    _wait_for_log(workspace, 1)
    assert store.get_layer(OBJECTION_RISK).current.provenance["inputs"]["ar5"] == 3


def test_collections_say_refreshing_while_a_refresh_holds_the_lock(workspace: Path) -> None:
    store = GeoPackageStore(workspace)
    store.publish("ar5", store.read_frame(store.get_layer("ar5").current).iloc[:-1],
                  LayerMeta(LayerKind.farmland, "AR5 (syntetisk)"))
    app = create_app(Settings(workspace=workspace, analysis_refresh_seconds=0, seed_demo=False))
    with TestClient(app) as client:
        assert client.get("/collections/objection-risk").json()["analysis"]["status"] == "behind"
        assert held_since(store, DERIVED_LOCK) is None
        with _running_refresh(store):
            doc = client.get("/collections/objection-risk").json()["analysis"]
            assert doc["status"] == "refreshing" and doc["since"] and "being recomputed" in doc["message_en"]
            assert "beregnes på nytt" in doc["message_nb"]
            page = client.get("/maps/planner?lang=en").text
            assert "The analysis is being recomputed after an input layer changed" in page
            with try_exclusive(store, DERIVED_LOCK) as got:
                assert got is False
        assert client.get("/collections/objection-risk").json()["analysis"]["status"] == "behind"
