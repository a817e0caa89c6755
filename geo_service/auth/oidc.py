"""OpenID Connect bearer tokens: signature against the issuer's JWKS, issuer, audience and expiry (PyJWT)."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

import jwt
from jwt import PyJWKClient

from geo_service.auth.errors import InvalidCredentials
from geo_service.auth.principal import Principal, Role
from geo_service.settings import Settings

_HMAC = {"HS256", "HS384", "HS512", "none"}


class OidcVerifier:
    """Verifies access/ID tokens of one issuer; the JWKS is fetched once and re-fetched for unknown key ids."""

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_audience:
            raise ValueError("OIDC needs both GEO_SERVICE_OIDC_ISSUER and GEO_SERVICE_OIDC_AUDIENCE")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.algorithms = [a for a in settings.oidc_algorithms if a not in _HMAC]  # never symmetric or unsigned
        self.role_claim = settings.oidc_role_claim
        self.municipality_claim = settings.oidc_municipality_claim
        self.role_values = {k: Role(v) for k, v in settings.oidc_role_values.items()}
        self.leeway = settings.oidc_leeway_seconds
        self._jwks_url = settings.oidc_jwks_url
        self._client: PyJWKClient | None = None
        self._lock = threading.Lock()

    def _jwks(self) -> PyJWKClient:
        with self._lock:
            if self._client is None:
                url = self._jwks_url or _discover_jwks(self.issuer)
                self._client = PyJWKClient(url, cache_keys=True, lifespan=600, timeout=5)
            return self._client

    def principal(self, token: str) -> Principal:
        """The principal of a valid token, or ``InvalidCredentials`` saying what is wrong with it."""
        try:
            key = self._jwks().get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise InvalidCredentials("the token has expired; sign in again") from None
        except jwt.InvalidAudienceError:
            raise InvalidCredentials(f"the token is not meant for this service (audience must be {self.audience})") from None
        except jwt.InvalidIssuerError:
            raise InvalidCredentials(f"the token was not issued by {self.issuer}") from None
        except jwt.PyJWKClientError as exc:
            raise InvalidCredentials(f"the token's signing key is not the issuer's ({exc})") from None
        except jwt.InvalidTokenError as exc:
            raise InvalidCredentials(f"invalid token: {exc}") from None
        return Principal(str(claims["sub"]), self._role(claims), self._municipalities(claims), "oidc")

    def _role(self, claims: dict[str, Any]) -> Role:
        values = claims.get(self.role_claim, [])
        if isinstance(values, str):
            values = values.split()
        roles = [self.role_values[v] for v in values if isinstance(v, str) and v in self.role_values]
        return max(roles, key=lambda r: r.rank, default=Role.reader)  # a valid sign-in can at least read

    def _municipalities(self, claims: dict[str, Any]) -> tuple[str, ...]:
        values = claims.get(self.municipality_claim, [])
        if isinstance(values, str):
            values = values.replace(",", " ").split()
        return tuple(sorted({str(v).strip() for v in values if str(v).strip()}))


def _discover_jwks(issuer: str) -> str:
    """``jwks_uri`` from the issuer's ``/.well-known/openid-configuration``."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            document = json.load(response)
        return str(document["jwks_uri"])
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidCredentials(f"cannot read the issuer's discovery document {url}: {exc}") from None
