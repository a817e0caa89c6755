"""Writes refused at the edge (401/403) go to the audit log, within ``RefusalLog``'s budget."""

from __future__ import annotations

from starlette.requests import Request

from geo_service.audit import RefusalLog
from geo_service.auth.deps import SAFE_METHODS

REFUSALS = RefusalLog()  # per process


def audit_refused_write(request: Request, status: int, error: str) -> None:
    """Record a write (not GET/HEAD/OPTIONS) refused with 401/403: who (``anonymous`` unless signed in), the
    method and path, the reason and the client address. Blocking: call it on a worker thread."""
    store = getattr(request.app.state, "store", None)
    if store is None or request.method in SAFE_METHODS:
        return
    principal = getattr(request.state, "principal", None)
    actor = principal.actor if principal is not None and principal.signed_in else "anonymous"
    REFUSALS.record(store, actor, request.method, request.url.path[:300], status, error,
                    request.client.host if request.client else "")
