"""FastAPI dependencies: the request's ``Principal``, and role checks for routes (401/403, CSRF on cookies)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from geo_service.auth.errors import CsrfFailed, Forbidden, InvalidCredentials, NotSignedIn
from geo_service.auth.keys import KeyVerifier, check_usable, looks_like_key
from geo_service.auth.oidc import OidcVerifier
from geo_service.auth.principal import ANONYMOUS, Principal, Role
from geo_service.auth.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Sessions, same_token
from geo_service.settings import Settings
from layers.store import Store

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Authenticator:
    """Turns a request's credentials into a ``Principal``; made once in the lifespan."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.keys = KeyVerifier(store)
        self.oidc = OidcVerifier(settings) if settings.oidc_issuer else None
        self.sessions = Sessions(settings)

    def from_token(self, token: str) -> Principal:
        """An API key or an OIDC bearer token."""
        if looks_like_key(token):
            return self.keys.principal(token)
        if self.oidc is None:
            raise InvalidCredentials("bearer tokens are not accepted here (no OIDC issuer configured); "
                                     "use an API key")
        return self.oidc.principal(token)

    def identify(self, request: Request) -> tuple[Principal, str | None]:
        """The principal and, for cookie sessions, the session's CSRF token (None for bearer/keys)."""
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise InvalidCredentials("use 'Authorization: Bearer <token or API key>'")
            return self.from_token(token.strip()), None
        api_key = request.headers.get("x-api-key")
        if api_key:
            return self.keys.principal(api_key), None
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            session = self.sessions.read(cookie)
            if session is None:
                return ANONYMOUS, None  # expired or forged cookie: as if signed out
            principal, csrf = session
            if principal.key_id is not None:  # a key revoked after sign-in ends the session
                record = self.store.get_api_key(principal.key_id)
                if record is None:
                    return ANONYMOUS, None
                try:
                    check_usable(record)
                except InvalidCredentials:
                    return ANONYMOUS, None
            return principal, csrf
        return ANONYMOUS, None


def get_authenticator(request: Request) -> Authenticator:
    """The authenticator made in the lifespan."""
    return request.app.state.auth


async def _csrf_given(request: Request) -> str | None:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return given


async def current_principal(request: Request,
                            auth: Annotated[Authenticator, Depends(get_authenticator)]) -> Principal:
    """Who is asking (``ANONYMOUS`` when nobody signed in); cookie-authenticated writes must carry the CSRF token."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    from starlette.concurrency import run_in_threadpool

    principal, csrf = await run_in_threadpool(auth.identify, request)  # Argon2 and the store block
    if (csrf is not None and request.method not in SAFE_METHODS
            and not same_token(csrf, await _csrf_given(request))):
        raise CsrfFailed("missing or wrong CSRF token; reload the page and try again")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(role: Role):
    """A dependency admitting ``role`` and above: 401 when nobody signed in, 403 for a lower role."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.signed_in:
            raise NotSignedIn(f"sign in to do this ({role.value} role needed): send 'Authorization: Bearer "
                              "<token or API key>' or sign in at /admin")
        if not principal.role.allows(role):
            raise Forbidden(f"your role ({principal.role.value}) may not do this; the {role.value} role is needed")
        return principal

    return check


ReaderDep = Annotated[Principal, Depends(require(Role.reader))]
EditorDep = Annotated[Principal, Depends(require(Role.editor))]
AdminDep = Annotated[Principal, Depends(require(Role.admin))]
