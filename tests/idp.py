"""A local OpenID Connect identity provider for tests: RSA keys made here, discovery document and JWKS
served over HTTP on 127.0.0.1, tokens signed with PyJWT. Nothing of the verification is mocked."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "api://geo-service-test"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TestIdentityProvider:
    """Serves ``/.well-known/openid-configuration`` and ``/jwks.json``; ``token(...)`` signs tokens."""

    __test__ = False  # not a pytest class

    def __init__(self, kid: str = "test-key-1") -> None:
        self.key = new_key()
        self.kid = kid
        self.requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests += 1
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.jwks_url}
                elif self.path == "/jwks.json":
                    jwk = json.loads(RSAAlgorithm.to_jwk(provider.key.public_key()))
                    body = {"keys": [{**jwk, "kid": provider.kid, "use": "sig", "alg": "RS256"}]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.jwks_url = f"{self.issuer}/jwks.json"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> dict[str, str]:
        """Settings pointing the service at this provider."""
        return {"GEO_SERVICE_OIDC_ISSUER": self.issuer, "GEO_SERVICE_OIDC_AUDIENCE": AUDIENCE}

    def token(self, subject: str = "kari", roles: list[str] | None = None, municipalities: list[str] | None = None,
              *, audience: str = AUDIENCE, issuer: str | None = None, expires_in: int = 600,
              key: rsa.RSAPrivateKey | None = None, kid: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {"sub": subject, "iss": issuer or self.issuer, "aud": audience, "iat": now,
                   "exp": now + expires_in, "roles": roles or [], "municipalities": municipalities or [], **claims}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})
