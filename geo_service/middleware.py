"""The outer edge of every request (pure ASGI, in front of the tile fast path and the router).

``EdgeGuard`` refuses what no handler should see — a header block over ``max_header_bytes`` (431), a
``Host`` the service does not answer to (400), a body over ``max_body_bytes`` (413) — with the API's JSON
error bodies, and puts the security headers on every response: ``X-Content-Type-Options``,
``Referrer-Policy``, ``X-Frame-Options`` and a Content-Security-Policy whose script nonce is made per
request (pages put it on their inline scripts with :func:`csp_nonce`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request

from geo_service.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

NONCE_KEY = "csp_nonce"


def csp_nonce(request: Request) -> str | None:
    """This response's CSP script nonce (``None`` outside ``EdgeGuard``, e.g. a bare router in a test)."""
    return request.scope.get("state", {}).get(NONCE_KEY)


def content_security_policy(settings: Settings, nonce: str) -> str:
    """The policy every response carries: own origin only, scripts by nonce, the basemap's images allowed."""
    images = ["'self'", "data:", "blob:"]
    if settings.basemap_url:
        parts = urlsplit(settings.basemap_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            images.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",  # folium and Leaflet set style attributes; styles cannot run code
        f"img-src {' '.join(images)}",
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {settings.frame_ancestors}",
    ))


class BodyTooLarge(HTTPException):
    """Raised while the body is read: the router's error handler answers 413 with a JSON body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes; send a smaller or simpler "
                              "site / forespørselen er for stor")


def _error(status: int, code: str, description: str, extra_headers: list[tuple[bytes, bytes]] | None = None
           ) -> tuple[Message, Message]:
    body = json.dumps({"code": code, "description": description}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *(extra_headers or [])]
    return ({"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": body})


_SECURITY_NAMES = frozenset((b"x-content-type-options", b"referrer-policy", b"content-security-policy",
                             b"x-frame-options"))
_NONCE_MARK = "\x00nonce\x00"


class EdgeGuard:
    """Request limits, the Host check and security headers for every HTTP response (see the module doc).

    It is in front of the tile fast path, so its per-request work is kept small: the security headers are
    bytes made once (the CSP in two halves around the nonce), requests without a body read ``receive``
    unwrapped, and one closure per request adds the headers and notes that the response started.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        hosts = settings.hosts()
        self.any_host = "*" in hosts
        self.hosts = {h.lower().strip("[]") for h in hosts}
        self._hosts_seen: dict[bytes, bool] = {}
        self.frame_options = (b"DENY" if settings.frame_ancestors.strip() == "'none'" else
                              b"SAMEORIGIN" if settings.frame_ancestors.strip() == "'self'" else None)
        head, _, tail = content_security_policy(settings, _NONCE_MARK).partition(_NONCE_MARK)
        self._csp_head, self._csp_tail = head.encode(), tail.encode()
        self._static = [(b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"strict-origin-when-cross-origin")]
        if self.frame_options is not None:
            self._static.append((b"x-frame-options", self.frame_options))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[NONCE_KEY] = nonce
        security = [*self._static, (b"content-security-policy", self._csp_head + nonce.encode() + self._csp_tail)]
        started = False

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", [])
                if not _SECURITY_NAMES.isdisjoint([h[0].lower() for h in headers]):  # the app set its own: keep it
                    names = {name.lower() for name, _ in headers}
                    message["headers"] = [*headers, *((n, v) for n, v in security if n not in names)]
                else:
                    message["headers"] = [*headers, *security]
            await send(message)

        refusal, has_body = self._refusal(scope)
        if refusal is not None:
            for message in refusal:
                await send_secured(message)
            return
        bounded = receive
        if has_body:
            limit = body_limit(self.settings, scope)
            received = 0

            async def receive_bounded() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            bounded = receive_bounded
        try:
            await self.app(scope, bounded, send_secured)
        except BodyTooLarge:
            if started:
                raise
            for message in self._too_large():
                await send_secured(message)

    def _security_headers(self, nonce: str) -> list[tuple[bytes, bytes]]:
        return [*self._static, (b"content-security-policy", self._csp_head + nonce.encode() + self._csp_tail)]

    def _refusal(self, scope: Scope) -> tuple[tuple[Message, Message] | None, bool]:
        """The refusal to send, if any, and whether the request may carry a body (to bound while reading)."""
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        size = 0
        host = b""
        lengths: list[bytes] = []
        chunked = False
        for name, value in headers:
            size += len(name) + len(value) + 4
            if name == b"host":
                host = host or value
            elif name == b"content-length":
                lengths.append(value)
            elif name == b"transfer-encoding":
                chunked = True
        if size > self.settings.max_header_bytes:
            return _error(431, "RequestHeaderFieldsTooLarge",
                          f"the request headers hold {size} bytes; at most {self.settings.max_header_bytes} are "
                          "accepted / forespørselens hoder er for store"), False
        if not self.any_host and not self._known_host(host):
            return _error(400, "InvalidHost",
                          f"this service does not answer to the host {host.decode('latin-1')[:100]!r}; the operator "
                          "lists accepted names in GEO_SERVICE_ALLOWED_HOSTS / ukjent vertsnavn"), False
        for value in lengths:
            if not value.isdigit():
                return _error(400, "BadRequest", "Content-Length must be a number of bytes"), False
            if int(value) > body_limit(self.settings, scope) and scope.get("path") != UPLOAD_PATH:
                return self._too_large(), False  # an upload's size is answered by its own guard (uploads.py)
        return None, chunked or any(value != b"0" for value in lengths)

    def _known_host(self, host: bytes) -> bool:
        """Whether ``host`` names this service (answers for up to 64 Host values are remembered)."""
        known = self._hosts_seen.get(host)
        if known is None:
            known = _host_name(host.decode("latin-1")) in self.hosts
            if len(self._hosts_seen) < 64:
                self._hosts_seen[host] = known
        return known

    def _too_large(self) -> tuple[Message, Message]:
        return _error(413, "PayloadTooLarge", str(BodyTooLarge(self.settings.max_body_bytes).detail))


UPLOAD_PATH = "/layers/uploads"
UPLOAD_OVERHEAD = 64 * 1024  # the upload form's other fields and multipart boundaries


def body_limit(settings: Settings, scope: Scope) -> int:
    """Largest body of this request: uploads get ``upload_max_bytes`` (their own guard answers first)."""
    if scope.get("method") == "POST" and scope.get("path") == UPLOAD_PATH:
        return settings.upload_max_bytes + UPLOAD_OVERHEAD
    return settings.max_body_bytes


def _host_name(host: str) -> str:
    """The name part of a Host header (``[::1]:8000`` → ``::1``, ``Example.org:80`` → ``example.org``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
