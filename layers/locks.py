"""Who holds a named store lock (``Store.exclusive``), since when, and taking one only if it is free.

Used for the derived refresh: the collections say ``refreshing`` while some process (the CLI's background
refresh, a server's refresh loop, another replica) holds the ``derived-layers`` lock, and many quick publishes
queue at most one further refresh (:func:`try_exclusive`).

* GeoPackage workspace: the lock is an ``flock`` on ``.locks/<name>.lock``; a test with a shared, non-blocking
  ``flock`` tells whether it is held; the holder writes the time it took it to ``.locks/<name>.since``
  (:func:`refreshing`).
* PostGIS: the lock is a session advisory lock; ``pg_locks`` tells whether it is granted, and the holding
  session's ``state_change`` (it went idle right after taking the lock) since when.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from layers.store import Store


def _lock_file(store: Store, name: str) -> Path | None:
    workspace = getattr(store, "workspace", None)
    return None if workspace is None else Path(workspace) / ".locks" / f"{name}.lock"


@contextmanager
def refreshing(store: Store, name: str) -> Iterator[None]:
    """Inside ``store.exclusive(name)``: record since when it is held (GeoPackage; PostGIS knows it itself)."""
    path = _lock_file(store, name)
    if path is not None:
        path.with_suffix(".since").write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
    yield


def held_since(store: Store, name: str) -> datetime | None:
    """When the lock ``name`` was taken, if some process (this one included) holds it now; else None."""
    path = _lock_file(store, name)
    if path is not None:
        if not path.exists():
            return None
        with open(path, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _since_file(path.with_suffix(".since"))
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None
    return _pg_held_since(store, name)


def _since_file(path: Path) -> datetime:
    try:
        return datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):  # taken a moment ago, the time not yet written
        return datetime.now(UTC)


def _pg_held_since(store: Any, name: str) -> datetime | None:
    from layers.postgis_store import _NAMED_LOCK_CLASS

    with store._connection() as conn:
        row = conn.execute(
            "SELECT a.state_change FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = %s::bigint::oid "
            "AND l.objid = (hashtext(%s)::bigint & 4294967295)::oid", (_NAMED_LOCK_CLASS, name)).fetchone()
    if row is None:
        return None
    return row[0] if row[0] is not None else datetime.now(UTC)


@contextmanager
def try_exclusive(store: Store, name: str) -> Iterator[bool]:
    """Take the lock ``name`` only if it is free: yields True while holding it, False (at once) if it was not."""
    path = _lock_file(store, name)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    from layers.postgis_store import _NAMED_LOCK_CLASS

    with store._connection() as conn:  # type: ignore[attr-defined]
        (got,) = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_NAMED_LOCK_CLASS, name)).fetchone()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_NAMED_LOCK_CLASS, name))
