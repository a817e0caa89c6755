"""Sign-in required for reading too (``GEO_SERVICE_AUTH_REQUIRED_FOR_READ``): an ASGI gate in front of
everything, the cached-tile fast path included. Off by default (reading is public)."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from geo_service.auth.deps import SAFE_METHODS
from geo_service.auth.errors import AuthError
from geo_service.auth.refusals import audit_refused_write

OPEN_PATHS = ("/admin", "/static/")  # the admin pages and routes check sign-in themselves (the page redirects)


class ReaderGate:
    """Answers 401 to anonymous requests when the settings require sign-in for reading."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        if not state.settings.auth_required_for_read:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            principal, _ = await run_in_threadpool(state.auth.identify, request)
            problem = None if principal.signed_in else "sign in to read this service (reading requires sign-in here)"
        except AuthError as exc:
            problem = str(exc)
        if problem is None:
            await self.app(scope, receive, send)
            return
        if request.method not in SAFE_METHODS:  # a write refused here is audited (a read is not)
            await run_in_threadpool(audit_refused_write, request, 401, problem)
        body = json.dumps({"code": "Unauthorized", "description": problem}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="geo-service"')]})
        await send({"type": "http.response.body", "body": body})
