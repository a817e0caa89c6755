"""``geo-service keys create|list|revoke`` and ``geo-service audit`` as a user runs them (in-process CLI runner;
the console script itself is exercised by tests/geo_service/test_cli.py)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from geo_service.cli import app
from geo_service.factory import create_app
from geo_service.settings import Settings

RUNNER = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})


def run(*args: str | Path):
    return RUNNER.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_keys_lifecycle_and_audit(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    created = run("keys", "create", "--name", "Flesberg GIS", "--role", "editor", "-m", "3334", "--days", "30",
                  "-w", ws)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert re.fullmatch(r"gsk_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}", secret), secret
    key_id = secret.split("_")[1]
    assert "not shown again" in created.stderr

    listed = run("keys", "list", "-w", ws).stdout
    assert key_id in listed and "Flesberg GIS" in listed and "3334" in listed and "active" in listed
    assert secret.split("_", 2)[2] not in listed

    with TestClient(create_app(Settings(workspace=ws, seed_demo=False, analysis_refresh_seconds=0))) as client:
        assert client.post("/admin/layers/x/rollback", json={"version": 1},
                           headers={"X-API-Key": secret}).status_code == 403  # editor, not admin
        assert run("keys", "revoke", key_id, "-w", ws).exit_code == 0
        assert client.post("/admin/layers/x/rollback", json={"version": 1},
                           headers={"X-API-Key": secret}).status_code == 401
    assert "revoked" in run("keys", "list", "-w", ws).stdout
    again = run("keys", "revoke", key_id, "-w", ws)
    assert again.exit_code == 2 and again.stderr.strip() == f"error: no active key '{key_id}'; see `geo-service keys list`"
    bad = run("keys", "create", "--name", "x", "--role", "root", "-w", ws)
    assert bad.exit_code == 2 and "unknown role 'root'" in bad.stderr and bad.stdout == ""

    audit = run("audit", "-w", ws).stdout
    rows = [line for line in audit.splitlines() if "key-" in line]
    assert len(rows) == 2 and "key-revoke" in rows[0] and "key-create" in rows[1], audit
