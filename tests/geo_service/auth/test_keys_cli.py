"""``geo-service keys create|list|revoke`` and ``geo-service audit`` as a user runs them."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings
from tests.geo_service.test_cli import error_line, run


def test_keys_lifecycle_and_audit(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    created = run("keys", "create", "--name", "Flesberg GIS", "--role", "editor", "-m", "3334", "--days", "30",
                  "-w", ws, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert re.fullmatch(r"gsk_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}", secret), secret
    key_id = secret.split("_")[1]
    assert "not shown again" in created.stderr

    listed = run("keys", "list", "-w", ws, cwd=tmp_path).stdout
    assert key_id in listed and "Flesberg GIS" in listed and "3334" in listed and "active" in listed
    assert secret.split("_", 2)[2] not in listed

    with TestClient(create_app(Settings(workspace=ws, seed_demo=False, analysis_refresh_seconds=0))) as client:
        assert client.post("/admin/layers/x/rollback", json={"version": 1},
                           headers={"X-API-Key": secret}).status_code == 403  # editor, not admin
        assert run("keys", "revoke", key_id, "-w", ws, cwd=tmp_path).returncode == 0
        assert client.post("/admin/layers/x/rollback", json={"version": 1},
                           headers={"X-API-Key": secret}).status_code == 401
    assert "no active key" in error_line(run("keys", "revoke", key_id, "-w", ws, cwd=tmp_path))

    audit = run("audit", "-w", ws, cwd=tmp_path).stdout
    rows = [line for line in audit.splitlines() if "key-" in line]
    assert len(rows) == 2 and "key-revoke" in rows[0] and "key-create" in rows[1], audit
