"""Removal (soft delete, undo) and rollback over HTTP, admin only, audited; the analysis inputs drop a removed layer."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from constraints.publish import current_inputs
from geo_service.auth.keys import create_key
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.conftest import farmland_grid


def test_remove_restore_rollback(workspace: Path, app_client: TestClient) -> None:
    store = app_client.app.state.store
    GeoPackageStore(workspace).publish("jorder", farmland_grid().iloc[:10],
                                       LayerMeta(LayerKind.farmland, "Feil jorder", "lastet ved en feil", "ukjent"))
    admin = {"X-API-Key": create_key(store, "admin", "admin", [])[1]}
    editor = {"X-API-Key": create_key(store, "editor", "editor", ["3303"])[1]}

    assert app_client.delete("/admin/layers/jorder", headers=editor).status_code == 403
    assert app_client.delete("/admin/layers/jorder").status_code == 401
    removed = app_client.delete("/admin/layers/jorder", headers=admin)
    assert removed.status_code == 200 and removed.json()["versions"] == 2
    assert app_client.get("/collections/jorder").status_code == 404
    assert app_client.get("/collections/jorder/items").status_code == 404
    assert "jorder" not in [c["id"] for c in app_client.get("/collections").json()["collections"]]
    assert "jorder" not in current_inputs(store).versions()  # the analysis is recomputed without it
    listed = app_client.get("/admin/layers/removed", headers=admin).json()["layers"]
    assert [(r["id"], r["versions"]) for r in listed] == [("jorder", 2)]

    assert app_client.post("/admin/layers/jorder/restore", headers=admin).json()["version"] == 2
    assert app_client.get("/collections/jorder").json()["featureCount"] == 10
    assert "jorder" in current_inputs(store).versions()

    rolled = app_client.post("/admin/layers/jorder/rollback", json={"version": 1}, headers=admin)
    assert rolled.status_code == 200
    collection = app_client.get("/collections/jorder").json()
    assert collection["title"] == "Jorder (syntetisk)" and collection["attribution"] == "synthetic"
    assert collection["featureCount"] == 100
    actions = [(e["action"], e["result"]) for e in app_client.get("/admin/audit", headers=admin).json()["entries"]]
    assert actions == [("rollback", "ok"), ("restore", "ok"), ("remove", "ok"),
                       ("http-write", "refused"), ("http-write", "refused")]  # the 401 and the 403 above
    assert app_client.post("/admin/layers/nope/restore", headers=admin).status_code == 404
