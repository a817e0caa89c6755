"""Browser sessions: a signed, HttpOnly cookie (itsdangerous) carrying the principal and its CSRF token."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from geo_service.auth.principal import Principal, Role
from geo_service.settings import Settings

SESSION_COOKIE = "gs_session"
PRESESSION_COOKIE = "gs_csrf"  # double-submit token of the sign-in form (before there is a session)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def session_secret(settings: Settings) -> str:
    """The configured secret, else one generated once and kept (mode 0600) in the workspace."""
    if settings.session_secret:
        return settings.session_secret
    path = Path(settings.workspace) / ".secrets" / "session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # first writer wins when several workers start at once
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


class Sessions:
    """Makes and reads session cookies; each session carries its own CSRF token (synchronizer token)."""

    def __init__(self, settings: Settings) -> None:
        self.max_age = settings.session_max_age_seconds
        self._signer = URLSafeTimedSerializer(session_secret(settings), salt="geo-service-session")

    def issue(self, principal: Principal) -> tuple[str, str]:
        """A cookie value for ``principal`` and the session's CSRF token."""
        csrf = secrets.token_urlsafe(24)
        value = self._signer.dumps({"sub": principal.subject, "role": principal.role.value,
                                    "mun": list(principal.municipalities), "via": principal.method,
                                    "key": principal.key_id, "csrf": csrf})
        return value, csrf

    def read(self, cookie: str) -> tuple[Principal, str] | None:
        """The principal and CSRF token of a valid, unexpired cookie; None otherwise."""
        try:
            data: dict[str, Any] = self._signer.loads(cookie, max_age=self.max_age)
            principal = Principal(str(data["sub"]), Role(data["role"]), tuple(data["mun"]),
                                  f"session-{data['via']}", data.get("key"))
            return principal, str(data["csrf"])
        except (BadSignature, KeyError, ValueError, TypeError):
            return None


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two CSRF tokens (both must be present)."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def cookie_options(secure: bool, max_age: int) -> dict[str, Any]:
    """HttpOnly, SameSite=Lax, Secure on HTTPS, whole-site path."""
    return {"httponly": True, "samesite": "lax", "secure": secure, "max_age": max_age, "path": "/"}
