"""``/docs`` (Swagger UI, ``swagger-ui-dist``) and ``/redoc`` (ReDoc's standalone bundle, ``redoc``), both served
from the service's own static files, never a CDN (ReDoc without its Google Fonts link)."""

from __future__ import annotations

import html
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from geo_service.middleware import csp_nonce

router = APIRouter(include_in_schema=False)

SWAGGER = "vendor/swagger-ui"
REDOC = "vendor/redoc"
_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """The interactive API documentation; its inline script carries this response's CSP nonce."""
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{request.app.title} – API",
                               swagger_js_url=f"{root}/static/{SWAGGER}/swagger-ui-bundle.js",
                               swagger_css_url=f"{root}/static/{SWAGGER}/swagger-ui.css",
                               swagger_favicon_url=f"{root}/static/{SWAGGER}/favicon-32x32.png")
    return _with_nonce(request, bytes(page.body).decode())


def _with_nonce(request: Request, text: str) -> HTMLResponse:
    nonce = csp_nonce(request)
    if nonce:
        text = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', text)
    return HTMLResponse(text)


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """The API reference in ReDoc (read-only, one long page), from the service's own copy of ReDoc.

    Search is off: ReDoc runs it in a worker made from a ``blob:`` URL, which the service's Content Security
    Policy does not allow (``maps.assets`` also points ReDoc's sidebar logo, fetched from its CDN, at nothing).
    """
    root = html.escape(request.scope.get("root_path", "").rstrip("/"))
    title = html.escape(f"{request.app.title} – API")
    page = (f'<!DOCTYPE html><html><head><title>{title}</title><meta charset="utf-8"/>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="shortcut icon" href="{root}/static/{SWAGGER}/favicon-32x32.png">'
            '<style>body { margin: 0; padding: 0; }</style></head><body>'
            f'<redoc spec-url="{root}/openapi.json" disable-search="true"></redoc>'
            f'<script src="{root}/static/{REDOC}/redoc.standalone.js"></script></body></html>')
    return _with_nonce(request, page)
