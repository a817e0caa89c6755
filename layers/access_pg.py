"""API keys and the audit log in the PostGIS catalog (``geo_catalog``; migration 0002), mixed into the store."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from psycopg import Connection

from layers.access import ApiKeyRecord, AuditEntry, RemovedLayer
from layers.migrations import CATALOG_SCHEMA

_KEY_COLS = "key_id, name, role, municipalities, secret_hash, created, expires, revoked"


class PostGISAccess:
    """The access half of ``PostGISStore``: needs its ``_connection()``."""

    def _connection(self) -> AbstractContextManager[Connection]: ...  # provided by the store

    def _catalog_changed(self) -> None: ...  # provided by the store: after committing a catalog change

    def add_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new key (its hash only)."""
        with self._connection() as conn:
            conn.execute(f"INSERT INTO {CATALOG_SCHEMA}.api_keys ({_KEY_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                         (record.key_id, record.name, record.role, list(record.municipalities), record.secret_hash,
                          record.created, record.expires, record.revoked))

    def api_keys(self) -> list[ApiKeyRecord]:
        """Every key, oldest first (revoked ones too)."""
        with self._connection() as conn:
            rows = conn.execute(f"SELECT {_KEY_COLS} FROM {CATALOG_SCHEMA}.api_keys ORDER BY created, key_id").fetchall()
        return [_key(r) for r in rows]

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id, or None."""
        with self._connection() as conn:
            row = conn.execute(f"SELECT {_KEY_COLS} FROM {CATALOG_SCHEMA}.api_keys WHERE key_id = %s",
                               (key_id,)).fetchone()
        return None if row is None else _key(row)

    def revoke_api_key(self, key_id: str) -> bool:
        """Mark a key revoked (kept for the audit trail); False when no such key was active."""
        with self._connection() as conn:
            cur = conn.execute(f"UPDATE {CATALOG_SCHEMA}.api_keys SET revoked = now() "
                               "WHERE key_id = %s AND revoked IS NULL", (key_id,))
        return cur.rowcount == 1

    def remove_layer(self, layer_id: str) -> RemovedLayer:
        """Soft-delete a layer: hidden from readers and the analysis; every version is kept."""
        from layers.errors import LayerNotFound

        with self._connection() as conn:
            cur = conn.execute(f"UPDATE {CATALOG_SCHEMA}.layers SET removed = now() WHERE id = %s AND removed IS NULL",
                               (layer_id,))
        self._catalog_changed()
        if cur.rowcount != 1:
            raise LayerNotFound(f"no layer {layer_id!r} to remove; see `geo-service layers list`")
        return next(r for r in self.removed_layers() if r.id == layer_id)

    def restore_layer(self, layer_id: str) -> None:
        """Undo a removal (the layer serves its current version again)."""
        from layers.errors import LayerNotFound

        with self._connection() as conn:
            cur = conn.execute(f"UPDATE {CATALOG_SCHEMA}.layers SET removed = NULL WHERE id = %s "
                               "AND removed IS NOT NULL", (layer_id,))
        self._catalog_changed()
        if cur.rowcount != 1:
            raise LayerNotFound(f"no removed layer {layer_id!r}; removed layers: "
                                f"{', '.join(r.id for r in self.removed_layers()) or 'none'}")

    def removed_layers(self) -> list[RemovedLayer]:
        """Soft-deleted layers, most recently removed first."""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT l.id, l.kind, l.title, l.removed, (SELECT count(*) FROM {CATALOG_SCHEMA}.versions v "
                f"WHERE v.layer_id = l.id) FROM {CATALOG_SCHEMA}.layers l WHERE l.removed IS NOT NULL "
                "ORDER BY l.removed DESC").fetchall()
        return [RemovedLayer(i, k, t, r, n) for i, k, t, r, n in rows]

    def purge_removed(self, before: datetime) -> list[str]:
        """Delete for good the layers removed before ``before``: catalog rows and version tables, one transaction."""
        from psycopg import sql

        with self._connection() as conn, conn.transaction():
            ids = [r[0] for r in conn.execute(f"SELECT id FROM {CATALOG_SCHEMA}.layers WHERE removed < %s "
                                              "FOR UPDATE", (before,))]
            for layer_id in ids:
                locations = [r[0] for r in conn.execute(
                    f"SELECT location FROM {CATALOG_SCHEMA}.versions WHERE layer_id = %s", (layer_id,))]
                conn.execute(f"DELETE FROM {CATALOG_SCHEMA}.layers WHERE id = %s", (layer_id,))
                conn.execute(f"DELETE FROM {CATALOG_SCHEMA}.versions WHERE layer_id = %s", (layer_id,))
                for location in locations:
                    schema, table = location.split(".", 1)
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))
        return ids

    def append_audit(self, entry: AuditEntry) -> None:
        """Append one entry to the audit log (never updated or deleted)."""
        with self._connection() as conn:
            conn.execute(
                f"INSERT INTO {CATALOG_SCHEMA}.audit_log (at, actor, action, target, result, source_name, "
                "source_sha256, detail) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::json)",
                (entry.at or datetime.now(UTC), entry.actor, entry.action, entry.target, entry.result,
                 entry.source_name, entry.source_sha256, json.dumps(entry.detail, default=str)))

    def audit_entries(self, limit: int = 100, target: str | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries (of ``target`` only when given), newest first."""
        where, params = ("WHERE target = %s", (target,)) if target else ("", ())
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT entry_id, at, actor, action, target, result, source_name, source_sha256, detail "
                f"FROM {CATALOG_SCHEMA}.audit_log {where} ORDER BY entry_id DESC LIMIT %s",
                (*params, limit)).fetchall()
        return [AuditEntry(actor, action, target, result, at, source_name, sha, detail or {}, entry_id)
                for entry_id, at, actor, action, target, result, source_name, sha, detail in rows]


def _key(row: tuple) -> ApiKeyRecord:
    key_id, name, role, munis, secret_hash, created, expires, revoked = row
    return ApiKeyRecord(key_id, name, role, tuple(munis), secret_hash, created, expires, revoked)
