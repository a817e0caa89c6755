"""``geo-service analyse --scheduler``: a real Dask scheduler and two worker processes started here (SYNTHETIC)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from constraints.publish import BUSINESS_AREAS, OBJECTION_RISK, refresh_derived
from constraints.rules import load_rules
from layers.gpkg_store import GeoPackageStore
from tests.constraints.partition_workload import publish_workload
from tests.constraints.test_distributed import assert_same

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{path}" if path else str(ROOT), GEO_SERVICE_THREADS="1",
                DASK_DISTRIBUTED__WORKER__DAEMON="False")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; yields the scheduler address."""
    folder = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = [open(folder / f"{name}.log", "w") for name in ("scheduler", "worker-1", "worker-2")]  # noqa: SIM115
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], cwd=folder, env=_env(), stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        _wait_for_port(port, procs[0], folder / "scheduler.log")
        for i in (1, 2):
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1", "--memory-limit",
                 "1GB", "--no-dashboard", "--no-nanny", "--host", "127.0.0.1", "--name", f"worker-{i}"],
                cwd=folder, env=_env(), stdout=logs[i], stderr=subprocess.STDOUT))
        _wait_for_workers(address, 2)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the scheduler exited: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"no scheduler on port {port} after {timeout:g} s")


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(n, timeout=120)


def test_analyse_on_a_scheduler_with_two_workers(tmp_path: Path, scheduler: str) -> None:
    ws = tmp_path / "ws"
    store = GeoPackageStore(ws)
    publish_workload(store)
    refresh_derived(store, load_rules(), force=True)  # the single-process result: version 1
    risk_1 = store.read_frame(store.get_layer(OBJECTION_RISK).current)
    biz_1 = store.read_frame(store.get_layer(BUSINESS_AREAS).current)

    done = subprocess.run([str(BIN / "geo-service"), "analyse", "--scheduler", scheduler, "--force", "-w", str(ws),
                           "--json", str(tmp_path / "reserve.json")],
                          env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert f"on {scheduler} (2 workers)" in " ".join(done.stdout.split())
    assert "recomputed objection-risk: version 2, 429 features" in done.stdout
    risk_2 = store.read_frame(store.get_layer(OBJECTION_RISK).current)
    biz_2 = store.read_frame(store.get_layer(BUSINESS_AREAS).current)
    assert store.get_layer(BUSINESS_AREAS).current.version == 2
    assert_same(risk_1, risk_2, "objection-risk")
    assert_same(biz_1, biz_2, "business-areas")
    reserve = json.loads((tmp_path / "reserve.json").read_text())
    assert {m["kommunenummer"] for m in reserve["municipalities"]} >= {"3303", "3334", "3336", "4005"}
    assert reserve["region"]["n_reserve"] + reserve["region"]["n_conflict"] > 0


def test_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path) -> None:
    ws = tmp_path / "ws"  # the scheduler is asked before anything is read
    port = _free_port()  # nobody listens here
    done = subprocess.run([str(BIN / "geo-service"), "analyse", "--scheduler", f"127.0.0.1:{port}",
                           "--connect-timeout", "1", "-w", str(ws)],
                          env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")
    assert "Traceback" not in done.stderr
