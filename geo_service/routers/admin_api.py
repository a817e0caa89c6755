"""Administration over HTTP (admin role): rollback, the audit log. Every write is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from geo_service.audit import audited
from geo_service.auth.deps import AdminDep
from geo_service.dependencies import SettingsDep, StoreDep
from layers.access import AuditEntry, RemovedLayer
from layers.ids import check_layer_id

router = APIRouter(prefix="/admin", tags=["Administration"])


def audit_document(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry as JSON."""
    return {"id": entry.entry_id, "at": entry.at.isoformat() if entry.at else None, "actor": entry.actor,
            "action": entry.action, "target": entry.target, "result": entry.result,
            "sourceName": entry.source_name, "sourceSha256": entry.source_sha256, "detail": entry.detail}


@router.get("/audit", summary="The audit log of writes, newest first (admin)")
def audit_log(store: StoreDep, _: AdminDep,
              limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
              target: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    entries = store.audit_entries(limit, target)
    return {"entries": [audit_document(e) for e in entries], "numberReturned": len(entries)}


@router.post("/layers/{layer_id}/rollback", summary="Serve an earlier (or later) version again (admin)")
def rollback(layer_id: str, store: StoreDep, principal: AdminDep,
             version: Annotated[int, Body(embed=True, ge=1, le=2**31 - 1)]) -> dict[str, Any]:
    check_layer_id(layer_id)
    with audited(store, principal, "rollback", layer_id, version=version):
        layer = store.rollback(layer_id, version)
    return {"id": layer.id, "version": layer.current.version, "title": layer.title}


def removed_document(removed: RemovedLayer, retention_days: float) -> dict[str, Any]:
    """A removed layer and until when it can be restored."""
    return {"id": removed.id, "kind": removed.kind, "title": removed.title, "removed": removed.removed.isoformat(),
            "versions": removed.versions,
            "restorableUntil": (removed.removed + timedelta(days=retention_days)).isoformat()}


@router.delete("/layers/{layer_id}", summary="Remove a layer (admin): hidden at once, restorable for the "
                                             "retention period; the analysis is recomputed without it")
def remove(layer_id: str, store: StoreDep, settings: SettingsDep, principal: AdminDep) -> dict[str, Any]:
    check_layer_id(layer_id)
    with audited(store, principal, "remove", layer_id):
        removed = store.remove_layer(layer_id)
    return removed_document(removed, settings.layer_retention_days)


@router.post("/layers/{layer_id}/restore", summary="Undo the removal of a layer (admin)")
def restore(layer_id: str, store: StoreDep, principal: AdminDep) -> dict[str, Any]:
    check_layer_id(layer_id)
    with audited(store, principal, "restore", layer_id):
        store.restore_layer(layer_id)
        layer = store.get_layer(layer_id)
    return {"id": layer.id, "version": layer.current.version, "title": layer.title}


@router.get("/layers/removed", summary="Removed layers that can still be restored (admin)")
def removed_layers(store: StoreDep, settings: SettingsDep, _: AdminDep) -> dict[str, Any]:
    return {"layers": [removed_document(r, settings.layer_retention_days) for r in store.removed_layers()]}
