"""CORS: off by default; when origins are configured, reads are allowed and writes only if enabled too."""

from __future__ import annotations

from pathlib import Path

from tests.geo_service.auth.conftest import make_client
from tests.idp import TestIdentityProvider

ORIGIN = "https://kart.kongsberg.kommune.no"


def preflight(client, method: str, path: str = "/layers/uploads"):
    return client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": "authorization"})


def test_cors_default_off_reads_on_writes_opt_in(workspace: Path, idp: TestIdentityProvider) -> None:
    with make_client(workspace, idp) as client:
        response = client.get("/collections", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-origin" not in preflight(client, "POST").headers
    with make_client(workspace, idp, cors_origins=[ORIGIN]) as client:
        assert client.get("/collections", headers={"Origin": ORIGIN}).headers["access-control-allow-origin"] == ORIGIN
        assert "access-control-allow-origin" not in client.get(
            "/collections", headers={"Origin": "https://evil.example"}).headers
        assert preflight(client, "GET", "/collections").status_code == 200
        refused = preflight(client, "POST")
        assert refused.status_code == 400 and "POST" not in refused.headers.get("access-control-allow-methods", "")
        assert "DELETE" not in preflight(client, "DELETE", "/admin/layers/jorder").headers.get(
            "access-control-allow-methods", "")
    with make_client(workspace, idp, cors_origins=[ORIGIN], cors_allow_writes=True) as client:
        allowed = preflight(client, "POST")
        assert allowed.status_code == 200 and "POST" in allowed.headers["access-control-allow-methods"]
