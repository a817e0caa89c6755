"""Link building for OGC API responses: from the configured public URL, never from an unchecked header.

The base of every link is, in order: ``GEO_SERVICE_PUBLIC_URL`` when set; the ``Forwarded`` /
``X-Forwarded-Proto|Host|Prefix`` headers when the request comes from a trusted proxy
(``GEO_SERVICE_TRUSTED_PROXIES``); else the request's own scheme and ``Host``, which ``EdgeGuard`` has
checked against ``GEO_SERVICE_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from fastapi import Request

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
HTML = "text/html"

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-]+)*$")


def base_url(request: Request) -> str:
    """The service root as clients reach it (see the module docstring)."""
    settings = request.app.state.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    root = request.scope.get("root_path", "").rstrip("/")
    forwarded = _forwarded(request) if _trusted(request, settings.trusted_proxies) else {}
    scheme = forwarded.get("proto", request.url.scheme)
    host = forwarded.get("host", request.headers.get("host", ""))
    prefix = forwarded.get("prefix", "")
    if scheme not in ("http", "https") or not _HOST.match(host) or not _PREFIX.match(prefix):
        return str(request.base_url).rstrip("/")
    return f"{scheme}://{host}{prefix}{root}"


def _trusted(request: Request, proxies: list[str]) -> bool:
    client = request.client.host if request.client else None
    return "*" in proxies or (client is not None and client in proxies)


def _forwarded(request: Request) -> dict[str, str]:
    """proto/host/prefix from RFC 7239 ``Forwarded`` (first hop) or the ``X-Forwarded-*`` headers."""
    out: dict[str, str] = {}
    header = request.headers.get("forwarded")
    if header:
        for pair in header.split(",")[0].split(";"):
            key, _, value = pair.strip().partition("=")
            if key.lower() in ("proto", "host"):
                out[key.lower()] = value.strip('"')
    for key in ("proto", "host", "prefix"):
        value = request.headers.get(f"x-forwarded-{key}")
        if value and key not in out:
            out[key] = value.split(",")[0].strip()
    if "prefix" in out:
        out["prefix"] = out["prefix"].rstrip("/")
    return out


def link(href: str, rel: str, type_: str = JSON, title: str | None = None) -> dict[str, str]:
    """One OGC link object."""
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def with_query(request: Request, **changes: object) -> str:
    """The current request URL with some query parameters replaced (``None`` removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    url = f"{base_url(request)}{request.url.path}"
    return f"{url}?{urlencode(params)}" if params else url
