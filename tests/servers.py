"""Run the real ``geo-service serve`` in its own process for tests that need a live HTTP server.

A separate process, not a thread: GDAL clients (pyogrio) and the browser driver hold the GIL while they wait.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_workspace(workspace: Path, log: Path, env: dict[str, str] | None = None,
                    timeout: float = 60) -> Iterator[str]:
    """Serve ``workspace`` (no demo seeding) on a free port; yield its base URL; stop it afterwards.

    Output goes to the file ``log``, not a pipe: access logs would fill a pipe and stall the server.
    """
    port = free_port()
    exe = Path(sys.executable).with_name("geo-service")
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--workspace", str(workspace),
                                 "--no-seed-demo"], stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/conformance", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"geo-service serve did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
