"""Sign-in errors: mapped to 401 (with ``WWW-Authenticate``) and 403 by ``geo_service.errors``."""

from __future__ import annotations


class AuthError(Exception):
    """Base of sign-in and permission errors; the message is shown to the user."""


class NotSignedIn(AuthError):
    """No credentials were given for a route that needs them (401)."""


class InvalidCredentials(AuthError):
    """A token or key was given but is not valid (expired, wrong issuer/audience, bad signature, revoked) (401)."""


class Forbidden(AuthError):
    """Signed in, but the role (or municipality) does not allow this (403)."""


class CsrfFailed(AuthError):
    """A form or cookie-authenticated write without the matching CSRF token (403)."""
