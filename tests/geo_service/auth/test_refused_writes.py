"""Writes refused for want of sign-in or role (401/403) are in the audit log: who tried, what, from where, and
why; refused reads are not; a flood of refusals is capped per process and the rest counted. GeoPackage store;
SYNTHETIC layer."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.audit import RefusalLog
from geo_service.auth import refusals
from geo_service.auth.keys import create_key
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.auth.conftest import make_client
from tests.geo_service.conftest import farmland_grid
from tests.idp import TestIdentityProvider


def _refusals(client: TestClient, admin: dict[str, str]) -> list[tuple]:
    entries = client.get("/admin/audit", headers=admin).json()["entries"]
    return [(e["actor"], e["target"], e["detail"]["method"], e["detail"]["status"], e["detail"].get("suppressed_before"))
            for e in entries if e["action"] == "http-write"]


def test_refused_writes_are_audited(workspace: Path, app_client: TestClient,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refusals, "REFUSALS", RefusalLog())
    store = app_client.app.state.store
    GeoPackageStore(workspace).publish("jorder", farmland_grid().iloc[:10], LayerMeta(LayerKind.farmland, "Jorder"))
    admin = {"X-API-Key": create_key(store, "admin", "admin", [])[1]}
    editor_record, editor_secret = create_key(store, "editor", "editor", ["3303"])[:2]
    editor = {"X-API-Key": editor_secret}

    assert app_client.delete("/admin/layers/jorder").status_code == 401  # nobody signed in
    assert app_client.delete("/admin/layers/jorder", headers=editor).status_code == 403  # too low a role
    assert app_client.delete("/admin/layers/jorder", headers={"X-API-Key": "gs_not-a-key"}).status_code == 401
    assert app_client.get("/admin/audit").status_code == 401  # a refused read: not a write, not audited
    assert app_client.get("/collections/jorder").status_code == 200

    got = _refusals(app_client, admin)
    assert got == [("anonymous", "/admin/layers/jorder", "DELETE", 401, None),
                   (f"key:{editor_record.key_id} (editor)", "/admin/layers/jorder", "DELETE", 403, None),
                   ("anonymous", "/admin/layers/jorder", "DELETE", 401, None)][::-1]
    entry = next(e for e in app_client.get("/admin/audit", headers=admin).json()["entries"]
                 if e["detail"].get("status") == 403)
    assert entry["result"] == "refused" and "admin role is needed" in entry["detail"]["error"]
    assert entry["detail"]["client"] == "testclient"


def test_a_flood_of_refusals_is_capped_and_counted(workspace: Path, app_client: TestClient,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refusals, "REFUSALS", RefusalLog(per_minute=3))
    store = app_client.app.state.store
    admin = {"X-API-Key": create_key(store, "admin", "admin", [])[1]}
    for _ in range(10):
        assert app_client.post("/admin/layers/x/restore").status_code == 401
    assert len(_refusals(app_client, admin)) == 3  # the other 7 are counted, not written
    refusals.REFUSALS._window -= 60.0  # a minute later
    assert app_client.post("/admin/layers/x/restore").status_code == 401
    assert _refusals(app_client, admin)[0] == ("anonymous", "/admin/layers/x/restore", "POST", 401, 7)


def test_the_read_gate_audits_refused_writes_only(workspace: Path, idp: TestIdentityProvider,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(refusals, "REFUSALS", RefusalLog())
    with make_client(workspace, idp, auth_required_for_read=True) as closed:
        admin = {"X-API-Key": create_key(closed.app.state.store, "admin", "admin", [])[1]}
        assert closed.get("/collections").status_code == 401
        assert closed.post("/collections/jorder/items", json={}).status_code == 401
        assert _refusals(closed, admin) == [("anonymous", "/collections/jorder/items", "POST", 401, None)]
