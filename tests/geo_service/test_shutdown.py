"""SIGTERM stops a real ``geo-service serve`` within 10 s whatever the state (issue 9, item 12): its PostGIS
stopped, or replaced by a black hole that accepts connections and never answers, with requests and the
refresh loop waiting on the database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.conftest import farmland_grid
from tests.postgis_cluster import Cluster, why_unavailable
from tests.servers import free_port

DEADLINE_S = 10.0


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A PostgreSQL server of this test's own, so it can be taken away."""
    reason = why_unavailable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostGIS tests must run in CI but cannot: {reason}", pytrace=False)
        pytest.skip(reason)
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _serve(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).with_name("geo-service")
    env = {**os.environ, "GEO_SERVICE_DATABASE_URL": url, "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0.5",
           "GEO_SERVICE_DATABASE_POOL_SIZE": "2"}
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--no-seed-demo"], stdout=sink,
                                stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/collections/jorder", timeout=2):
                return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"serve did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def _hang_requests(base: str, n: int = 4) -> None:
    def get() -> None:
        try:
            urllib.request.urlopen(f"{base}/collections/jorder/items?limit=5", timeout=60).read()
        except OSError:
            pass

    for _ in range(n):
        threading.Thread(target=get, daemon=True).start()


def _black_hole(port: int) -> socket.socket:
    """A listener on the database's port that accepts connections and never says a word."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server


@pytest.mark.parametrize("gone", ["stopped", "black-hole"])
def test_sigterm_exits_within_10_s_when_postgis_is_gone(own_cluster: Cluster, tmp_path: Path, gone: str) -> None:
    from layers.postgis_store import PostGISStore

    url = own_cluster.new_database()
    with PostGISStore(url, pool_size=1) as store:
        store.publish("jorder", farmland_grid(), LayerMeta(LayerKind.farmland, "Jorder (syntetisk)"))
    proc, base = _serve(url, tmp_path / "serve.log")
    hole = None
    try:
        port = int(url.split("@127.0.0.1:")[1].split("/")[0])
        own_cluster.stop()
        if gone == "black-hole":
            hole = _black_hole(port)
        _hang_requests(base)
        time.sleep(2)  # requests and the refresh loop now wait on the database
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - started
        assert proc.returncode is not None, f"still running {took:.1f} s after SIGTERM"
        assert took < DEADLINE_S, f"took {took:.1f} s to exit: {(tmp_path / 'serve.log').read_text()[-1500:]}"
        print(f"\n[shutdown] PostGIS {gone}: exited {took:.1f} s after SIGTERM (code {proc.returncode})")
    finally:
        if proc.poll() is None:
            proc.kill()
        if hole is not None:
            hole.close()
