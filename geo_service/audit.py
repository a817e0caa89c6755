"""Record writes in the audit log: who (the principal), what, the source file (name and sha256), the result."""

from __future__ import annotations

import getpass
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from geo_service.auth.principal import Principal
from layers.access import AuditEntry
from layers.store import Store

log = logging.getLogger("geo_service.audit")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file (or of every file in a folder, in name order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def cli_actor() -> str:
    """How a shell user is named in the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def record(store: Store, actor: Principal | str, action: str, target: str, result: str, *,
           source_name: str = "", source_sha256: str = "", **detail: Any) -> None:
    """Append one entry; the audit log must never be the reason a write fails, so errors are swallowed late."""
    name = actor.actor if isinstance(actor, Principal) else actor
    store.append_audit(AuditEntry(name, action, target, result, None, source_name, source_sha256, detail))


@contextmanager
def audited(store: Store, actor: Principal | str, action: str, target: str, *, source_name: str = "",
            source_sha256: str = "", **detail: Any) -> Iterator[dict[str, Any]]:
    """Record ``ok`` when the block succeeds, ``refused``/``failed`` with the error when it raises.

    The block may add to the yielded dict (e.g. the version published); it lands in the entry's detail.
    """
    extra: dict[str, Any] = dict(detail)
    try:
        yield extra
    except Exception as exc:
        from geo_service.auth.errors import AuthError
        from layers.errors import LayerError

        result = "refused" if isinstance(exc, LayerError | AuthError | ValueError) else "failed"
        record(store, actor, action, target, result, source_name=source_name, source_sha256=source_sha256,
               error=" ".join(str(exc).split())[:500], **extra)
        raise
    record(store, actor, action, target, "ok", source_name=source_name, source_sha256=source_sha256, **extra)


class RefusalLog:
    """Writes refused for want of sign-in or role (401/403) in the audit log, at most ``per_minute`` entries a
    minute per process: a flood of refused requests must not become a flood of database writes. Refusals over
    the budget are counted, and the count rides on the next entry recorded (``suppressed_before``)."""

    def __init__(self, per_minute: int = 60) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._window = 0.0
        self._used = 0
        self._suppressed = 0

    def admit(self) -> int | None:
        """The refusals suppressed since the last admitted one, or None when this one is over the budget."""
        now = time.monotonic()
        with self._lock:
            if now - self._window >= 60.0:
                self._window, self._used = now, 0
            if self._used >= self.per_minute:
                self._suppressed += 1
                return None
            self._used += 1
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed

    def record(self, store: Store, actor: str, method: str, path: str, status: int, error: str,
               client: str) -> bool:
        """Record one refused write (unless over the budget); True if it was recorded."""
        suppressed = self.admit()
        if suppressed is None:
            return False
        detail: dict[str, Any] = {"status": status, "method": method, "error": " ".join(error.split())[:300],
                                  "client": client}
        if suppressed:
            detail["suppressed_before"] = suppressed
        try:
            record(store, actor, "http-write", path, "refused", **detail)
        except Exception:  # the audit log must never change the answer the client gets
            log.warning("could not record a refused write (%s %s) in the audit log", method, path, exc_info=True)
            return False
        return True
