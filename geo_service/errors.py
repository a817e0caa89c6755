"""Map domain errors to HTTP status codes, once, at the edge (OGC exception JSON bodies)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from constraints import errors as ce
from geo_service.auth import errors as ae
from geo_service.auth.deps import SAFE_METHODS
from geo_service.auth.refusals import audit_refused_write
from geo_service.limits import SiteCheckBusy
from layers import edits, staging, upload_safety
from layers import errors as le
from layers.checks import KindCheckFailed
from maps.errors import MapAssetsMissing, OfflineAssetError
from maps.tiles import TileOutOfRange
from programme import errors as pe
from sites import errors as se

log = logging.getLogger("geo_service.errors")

STATUS_BY_ERROR: dict[type[Exception], tuple[int, str]] = {
    staging.UploadNotFound: (404, "NotFound"),
    staging.UploadConflict: (409, "Conflict"),
    staging.StagingFull: (507, "InsufficientStorage"),
    staging.UploadTimeout: (422, "UploadTimeout"),
    upload_safety.UploadTooLarge: (413, "PayloadTooLarge"),
    upload_safety.UnsafeUpload: (400, "UnsafeUpload"),
    KindCheckFailed: (422, "KindCheckFailed"),
    edits.VersionMismatch: (412, "PreconditionFailed"),
    edits.EditRefused: (422, "EditRefused"),
    le.LayerNotFound: (404, "NotFound"),
    le.VersionNotFound: (404, "NotFound"),
    le.FeatureNotFound: (404, "NotFound"),
    TileOutOfRange: (404, "NotFound"),
    le.InvalidQuery: (400, "InvalidParameterValue"),
    le.InvalidLayerId: (400, "InvalidParameterValue"),
    le.LayerError: (400, "BadRequest"),
    ce.SiteTooComplex: (413, "PayloadTooLarge"),
    ce.SiteCheckOverBudget: (413, "PayloadTooLarge"),
    ce.SiteGeometryError: (400, "InvalidParameterValue"),
    ce.RuleSetError: (500, "RuleSetError"),  # the server's own rule file is broken: an operator must fix it
    ce.ConstraintsError: (400, "BadRequest"),
    se.SiteNotFound: (404, "NotFound"),
    se.NoRoadNetwork: (404, "NotFound"),
    se.SearchCriteriaError: (400, "InvalidParameterValue"),
    se.RoutingError: (400, "InvalidParameterValue"),
    se.SitesConfigError: (500, "SitesConfigError"),  # the server's own sites.yaml is broken: an operator must fix it
    MapAssetsMissing: (503, "ServiceUnavailable"),  # npm ci was not run: the operator must install the assets
    OfflineAssetError: (500, "ServerError"),
    pe.EnquiryNotFound: (404, "NotFound"),
    pe.TransitionRefused: (409, "Conflict"),
    pe.InvalidEnquiry: (400, "InvalidParameterValue"),
    pe.AccessDenied: (403, "Forbidden"),
    pe.ProgrammeError: (400, "BadRequest"),
}


CODE_BY_STATUS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 406: "NotAcceptable",
                  413: "PayloadTooLarge", 415: "UnsupportedMediaType", 431: "RequestHeaderFieldsTooLarge",
                  503: "ServiceUnavailable"}


def _body(status: int, code: str, description: str, headers: dict[str, str] | None = None,
          **extra: object) -> JSONResponse:
    return JSONResponse({"code": code, "description": description, **extra}, status_code=status, headers=headers)


def _is_database_outage(exc: Exception) -> bool:
    """A PostGIS connection failure (psycopg / its pool), told apart without importing the optional driver."""
    module = type(exc).__module__.split(".")[0]
    return module in ("psycopg", "psycopg_pool") and type(exc).__name__ in (
        "OperationalError", "PoolTimeout", "PoolClosed", "InterfaceError", "ConnectionTimeout")


def install_error_handlers(app: FastAPI) -> None:
    """Register the one table of domain error → status mapping, and JSON bodies for every error."""

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        for cls in type(exc).__mro__:
            if cls in STATUS_BY_ERROR:
                status, code = STATUS_BY_ERROR[cls]
                parameter = getattr(exc, "parameter", "") or getattr(exc, "field", "")
                extra = {"parameter": parameter} if parameter or isinstance(exc, le.InvalidQuery) else {}
                if isinstance(getattr(exc, "report", None), dict):  # a refused upload: the report says why
                    extra["report"] = exc.report  # type: ignore[attr-defined]
                return _body(status, code, str(exc), **extra)
        return _body(500, "ServerError", "internal error")

    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        parameter = ""
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
            parameter = parameter or ".".join(loc)
            problems.append(f"{'.'.join(loc) or 'request'}: {err.get('msg')}")
        return _body(400, "InvalidParameterValue", "; ".join(problems), parameter=parameter)

    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODE_BY_STATUS.get(exc.status_code, "HTTPError")
        return _body(exc.status_code, code, str(exc.detail), headers=exc.headers)  # 405 keeps its Allow

    async def busy(_: Request, exc: SiteCheckBusy) -> JSONResponse:
        return _body(503, "ServiceUnavailable", str(exc), headers={"Retry-After": str(exc.retry_after)})

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if _is_database_outage(exc):
            log.warning("database unavailable answering %s %s: %s", request.method, request.url.path,
                        type(exc).__name__)
            return _body(503, "ServiceUnavailable", "the database is not reachable right now; try again shortly "
                                                    "/ databasen svarer ikke", headers={"Retry-After": "5"})
        log.error("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
        return _body(500, "ServerError", "internal error; the operator finds the details in the service log "
                                         "/ intern feil")

    async def auth_error(request: Request, exc: Exception) -> JSONResponse:
        unauthenticated = isinstance(exc, ae.NotSignedIn | ae.InvalidCredentials)
        if request.method not in SAFE_METHODS:  # a refused write attempt is audited (reads are not)
            await run_in_threadpool(audit_refused_write, request, 401 if unauthenticated else 403, str(exc))
        if unauthenticated:
            error = "" if isinstance(exc, ae.NotSignedIn) else ', error="invalid_token"'
            response = _body(401, "Unauthorized", str(exc))
            response.headers["WWW-Authenticate"] = f'Bearer realm="geo-service"{error}'
            return response
        return _body(403, "Forbidden", str(exc))

    app.add_exception_handler(ae.AuthError, auth_error)
    app.add_exception_handler(le.LayerError, domain_error)
    app.add_exception_handler(ce.ConstraintsError, domain_error)
    app.add_exception_handler(pe.ProgrammeError, domain_error)
    app.add_exception_handler(se.SitesError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(SiteCheckBusy, busy)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)  # the last resort: JSON without internals, and logged
