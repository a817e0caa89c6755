"""The /admin web pages: sign-in (API key or token → signed session cookie), the upload/review page, and its
own assets. Forms carry CSRF tokens: a double-submit cookie before sign-in, the session's token after."""

from __future__ import annotations

import secrets
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader
from starlette.concurrency import run_in_threadpool

from geo_service.audit import record
from geo_service.auth.deps import Authenticator, PrincipalDep, get_authenticator
from geo_service.auth.errors import AuthError, CsrfFailed
from geo_service.auth.principal import Role
from geo_service.auth.sessions import PRESESSION_COOKIE, SESSION_COOKIE, cookie_options, same_token
from geo_service.dependencies import StoreDep
from layers.kinds import LayerKind

router = APIRouter(prefix="/admin", include_in_schema=False)
Lang = Annotated[str, Query(pattern="^(nb|en)$")]
_STATIC = {"admin.js": "text/javascript; charset=utf-8", "admin.css": "text/css; charset=utf-8"}
_NO_STORE = {"Cache-Control": "no-store"}


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=PackageLoader("geo_service", "templates"), autoescape=True)


@lru_cache(maxsize=1)
def texts() -> dict[str, dict[str, str]]:
    """Every sentence of the pages, per language (``geo_service/admin_texts.yaml``)."""
    return yaml.safe_load(resources.files("geo_service").joinpath("admin_texts.yaml").read_text(encoding="utf-8"))


def _render(name: str, lang: str, request: Request, **values: Any) -> str:
    root = str(request.base_url).rstrip("/")
    return _env().get_template(name).render(t=texts()[lang], lang=lang, other_lang="en" if lang == "nb" else "nb",
                                            root=root, **values)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, lang: Lang = "nb", error: str | None = None) -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    page = HTMLResponse(_render("sign_in.html", lang, request, csrf=csrf, error=error), headers=_NO_STORE)
    page.set_cookie(PRESESSION_COOKIE, csrf, **{**cookie_options(_secure(request), 3600), "samesite": "strict"})
    return page


@router.post("/sign-in")
async def sign_in(request: Request, store: StoreDep,
                  credential: Annotated[str, Form(max_length=8192)],
                  csrf_token: Annotated[str, Form(max_length=200)] = "",
                  lang: Lang = "nb") -> Response:
    auth: Authenticator = get_authenticator(request)
    if not same_token(request.cookies.get(PRESESSION_COOKIE), csrf_token):
        raise CsrfFailed("missing or wrong CSRF token on the sign-in form; reload the page and try again")
    try:
        principal = await run_in_threadpool(auth.from_token, credential.strip())
    except AuthError as exc:
        await run_in_threadpool(record, store, "anonymous", "sign-in", "admin", "refused", error=str(exc))
        return HTMLResponse(_render("sign_in.html", lang, request, csrf=request.cookies.get(PRESESSION_COOKIE, ""),
                                    error=str(exc)), status_code=401, headers=_NO_STORE)
    await run_in_threadpool(record, store, principal, "sign-in", "admin", "ok", role=principal.role.value)
    cookie, _ = auth.sessions.issue(principal)
    done = RedirectResponse(f"{str(request.base_url).rstrip('/')}/admin?lang={lang}", status_code=303)
    done.set_cookie(SESSION_COOKIE, cookie, **cookie_options(_secure(request), auth.sessions.max_age))
    done.delete_cookie(PRESESSION_COOKIE, path="/")
    return done


@router.post("/sign-out")
async def sign_out(request: Request, principal: PrincipalDep) -> Response:
    # current_principal has checked the session's CSRF token (a form post with a session cookie)
    done = RedirectResponse(f"{str(request.base_url).rstrip('/')}/admin/sign-in", status_code=303)
    done.delete_cookie(SESSION_COOKIE, path="/")
    return done


@router.get("", response_class=HTMLResponse)
def admin_page(request: Request, store: StoreDep, principal: PrincipalDep, lang: Lang = "nb") -> Response:
    if not principal.signed_in:
        return RedirectResponse(f"{str(request.base_url).rstrip('/')}/admin/sign-in?lang={lang}", status_code=303)
    auth: Authenticator = get_authenticator(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    session = auth.sessions.read(cookie) if cookie else None
    csrf = session[1] if session else ""
    is_admin = principal.role is Role.admin
    layers = store.list_layers()
    values = {
        "principal": principal, "csrf": csrf, "can_edit": principal.role.allows(Role.editor), "is_admin": is_admin,
        "kinds": [k.value for k in LayerKind], "layers": layers,
        "versions": {layer.id: store.versions(layer.id) for layer in layers},
        "removed": store.removed_layers() if is_admin else [],
        "audit": store.audit_entries(50) if is_admin else [], "texts_json": texts()[lang],
    }
    return HTMLResponse(_render("admin.html", lang, request, **values), headers=_NO_STORE)


@router.get("/static/{name}")
def admin_static(name: str) -> Response:
    if name not in _STATIC:
        return Response(status_code=404)
    body = resources.files("geo_service").joinpath("static", name).read_bytes()
    return Response(body, media_type=_STATIC[name], headers={"Cache-Control": "public, max-age=300"})
