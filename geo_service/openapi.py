"""The OpenAPI document says what the service answers: OGC exception bodies for 400/404/413/503, no 422.

FastAPI documents ``422`` for every operation with parameters, but this service answers a bad parameter
with ``400`` (OGC API – Features). ``install_openapi`` rewrites each operation once: ``422`` out, ``400``
in for every operation that takes parameters or a body, ``404`` for every path with a parameter, both with
the exception schema. Routes add the others they answer (413, 503) with :func:`error_responses`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

EXCEPTION_REF = "#/components/schemas/Exception"
EXCEPTION_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Exception", "required": ["code", "description"],
    "properties": {"code": {"type": "string"}, "description": {"type": "string"},
                   "parameter": {"type": "string"}},
}
DESCRIPTIONS = {
    400: "invalid parameter or body (OGC exception, names the parameter)",
    404: "no such collection, feature or tile",
    413: "request body or site too large (the limits are settings)",
    503: "busy: every site-check slot is taken; retry after the Retry-After header's seconds",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: these statuses with the OGC exception body."""
    return {status: {"description": DESCRIPTIONS[status],
                     "content": {"application/json": {"schema": {"$ref": EXCEPTION_REF}}}}
            for status in statuses}


def _complete(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Exception"] = EXCEPTION_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("422", None)
            wanted = []
            if operation.get("parameters") or operation.get("requestBody"):
                wanted.append(400)
            if "{" in path:
                wanted.append(404)
            for status, response in error_responses(*wanted).items():
                responses.setdefault(str(status), response)
    return document


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the completed document (built once, cached by FastAPI's convention)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
