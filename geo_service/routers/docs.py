"""``/docs``: Swagger UI served from the service's own static files (``swagger-ui-dist``), never a CDN."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse

from geo_service.middleware import csp_nonce

router = APIRouter(include_in_schema=False)

SWAGGER = "vendor/swagger-ui"
_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """The interactive API documentation; its inline script carries this response's CSP nonce."""
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{request.app.title} – API",
                               swagger_js_url=f"{root}/static/{SWAGGER}/swagger-ui-bundle.js",
                               swagger_css_url=f"{root}/static/{SWAGGER}/swagger-ui.css",
                               swagger_favicon_url=f"{root}/static/{SWAGGER}/favicon-32x32.png")
    text = bytes(page.body).decode()
    nonce = csp_nonce(request)
    if nonce:
        text = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', text)
    return HTMLResponse(text)


@router.get("/redoc")
def redoc() -> RedirectResponse:
    """ReDoc is not bundled (it would load from a CDN): the same document in Swagger UI."""
    return RedirectResponse("docs", status_code=307)
