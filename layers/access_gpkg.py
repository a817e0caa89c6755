"""API keys and the audit log in the GeoPackage workspace's ``catalog.sqlite`` (mixed into the store)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from layers.access import ApiKeyRecord, AuditEntry, RemovedLayer

ACCESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, municipalities TEXT NOT NULL,
    secret_hash TEXT NOT NULL, created TEXT NOT NULL, expires TEXT, revoked TEXT);
CREATE TABLE IF NOT EXISTS audit_log (
    entry_id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, result TEXT NOT NULL, source_name TEXT NOT NULL, source_sha256 TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log (target, entry_id)
"""


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def upgrade_catalog(db: sqlite3.Connection) -> None:
    """Add the ``removed`` column to catalogs made before soft delete existed."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(layers)")}
    if "removed" not in columns:
        db.execute("ALTER TABLE layers ADD COLUMN removed TEXT")


class GeoPackageAccess:
    """The access half of ``GeoPackageStore``: needs its ``_catalog()`` and ``_write()``."""

    def _catalog(self) -> sqlite3.Connection: ...  # provided by the store

    def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...  # provided by the store

    def add_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new key (its hash only)."""
        with self._write() as db:
            db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (record.key_id, record.name, record.role, json.dumps(list(record.municipalities)),
                        record.secret_hash, _ts(record.created), _ts(record.expires), _ts(record.revoked)))

    def api_keys(self) -> list[ApiKeyRecord]:
        """Every key, oldest first (revoked ones too)."""
        rows = self._catalog().execute("SELECT * FROM api_keys ORDER BY created, key_id").fetchall()
        return [_key(r) for r in rows]

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id, or None."""
        row = self._catalog().execute("SELECT * FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else _key(row)

    def revoke_api_key(self, key_id: str) -> bool:
        """Mark a key revoked (kept for the audit trail); False when no such key was active."""
        with self._write() as db:
            cur = db.execute("UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL",
                             (_ts(datetime.now(UTC)), key_id))
        return cur.rowcount == 1

    def remove_layer(self, layer_id: str) -> RemovedLayer:
        """Soft-delete a layer: hidden from readers and the analysis; every version is kept."""
        from layers.errors import LayerNotFound

        with self._write() as db:
            cur = db.execute("UPDATE layers SET removed = ? WHERE id = ? AND removed IS NULL",
                             (_ts(datetime.now(UTC)), layer_id))
            if cur.rowcount != 1:
                raise LayerNotFound(f"no layer {layer_id!r} to remove; see `geo-service layers list`")
        return next(r for r in self.removed_layers() if r.id == layer_id)

    def restore_layer(self, layer_id: str) -> None:
        """Undo a removal (the layer serves its current version again)."""
        from layers.errors import LayerNotFound

        with self._write() as db:
            cur = db.execute("UPDATE layers SET removed = NULL WHERE id = ? AND removed IS NOT NULL", (layer_id,))
            if cur.rowcount != 1:
                raise LayerNotFound(f"no removed layer {layer_id!r}; removed layers: "
                                    f"{', '.join(r.id for r in self.removed_layers()) or 'none'}")

    def removed_layers(self) -> list[RemovedLayer]:
        """Soft-deleted layers, most recently removed first."""
        rows = self._catalog().execute(
            "SELECT l.id, l.kind, l.title, l.removed, (SELECT count(*) FROM versions v WHERE v.layer_id = l.id) "
            "FROM layers l WHERE l.removed IS NOT NULL ORDER BY l.removed DESC").fetchall()
        return [RemovedLayer(i, k, t, _dt(r), n) for i, k, t, r, n in rows]  # type: ignore[arg-type]

    def purge_removed(self, before: datetime) -> list[str]:
        """Delete for good the layers removed before ``before`` (catalog rows, then their files)."""
        import shutil

        with self._write() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM layers WHERE removed IS NOT NULL AND removed < ?",
                                            (_ts(before),))]
            for layer_id in ids:
                db.execute("DELETE FROM layers WHERE id = ?", (layer_id,))
                db.execute("DELETE FROM versions WHERE layer_id = ?", (layer_id,))
        for layer_id in ids:
            shutil.rmtree(self.workspace / "layers" / layer_id, ignore_errors=True)  # type: ignore[attr-defined]
        return ids

    def append_audit(self, entry: AuditEntry) -> None:
        """Append one entry to the audit log (never updated or deleted)."""
        with self._write() as db:
            db.execute("INSERT INTO audit_log (at, actor, action, target, result, source_name, source_sha256, "
                       "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (_ts(entry.at or datetime.now(UTC)), entry.actor, entry.action, entry.target, entry.result,
                        entry.source_name, entry.source_sha256, json.dumps(entry.detail, default=str)))

    def audit_entries(self, limit: int = 100, target: str | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries (of ``target`` only when given), newest first."""
        where, params = ("WHERE target = ?", (target,)) if target else ("", ())
        rows = self._catalog().execute(
            f"SELECT entry_id, at, actor, action, target, result, source_name, source_sha256, detail "
            f"FROM audit_log {where} ORDER BY entry_id DESC LIMIT ?", (*params, limit)).fetchall()
        return list(_entries(rows))


def _key(row: tuple) -> ApiKeyRecord:
    key_id, name, role, munis, secret_hash, created, expires, revoked = row
    return ApiKeyRecord(key_id, name, role, tuple(json.loads(munis)), secret_hash, _dt(created),  # type: ignore[arg-type]
                        _dt(expires), _dt(revoked))


def _entries(rows: list[tuple]) -> Iterator[AuditEntry]:
    for entry_id, at, actor, action, target, result, source_name, sha, detail in rows:
        yield AuditEntry(actor, action, target, result, _dt(at), source_name, sha, json.loads(detail), entry_id)
