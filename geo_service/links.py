"""Link building for OGC API responses."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
HTML = "text/html"


def base_url(request: Request) -> str:
    """The service root as clients reach it (honours the ASGI root path / proxy headers)."""
    return str(request.base_url).rstrip("/")


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
