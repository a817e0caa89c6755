"""API keys and the audit log kept with the catalog, on both stores (same answers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from layers.access import ApiKeyRecord, AuditEntry
from layers.store import Store


def test_keys_and_audit_round_trip(store: Store) -> None:
    created = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    key = ApiKeyRecord("a1b2c3d4e5f6", "Kongsberg GIS", "editor", ("3303", "3334"), "$argon2id$v=19$x",
                       created, created + timedelta(days=90))
    store.add_api_key(key)
    assert store.get_api_key("a1b2c3d4e5f6") == key
    assert store.get_api_key("ffffffffffff") is None
    assert store.revoke_api_key("a1b2c3d4e5f6") is True
    assert store.revoke_api_key("a1b2c3d4e5f6") is False  # already revoked
    (listed,) = store.api_keys()
    assert listed.revoked is not None and listed.municipalities == ("3303", "3334")

    store.append_audit(AuditEntry("key:a1b2c3d4e5f6", "upload", "u-1", "ok", source_name="plan æøå.gpkg",
                                  source_sha256="ab" * 32, detail={"features": 12}))
    store.append_audit(AuditEntry("oidc:kari", "publish", "plan", "refused", detail={"error": "outside 3303"}))
    newest, oldest = store.audit_entries()
    assert (newest.actor, newest.action, newest.target, newest.result, newest.detail) == (
        "oidc:kari", "publish", "plan", "refused", {"error": "outside 3303"})
    assert (oldest.source_name, oldest.source_sha256, oldest.detail) == ("plan æøå.gpkg", "ab" * 32, {"features": 12})
    assert newest.entry_id > oldest.entry_id and newest.at is not None and newest.at.tzinfo is not None
    assert [e.action for e in store.audit_entries(target="u-1")] == ["upload"]
    assert len(store.audit_entries(limit=1)) == 1
