"""Sign-in and roles: OIDC tokens from a local identity provider and API keys, against a write route.

Every way around the roles listed in issue 10 is a test here: expired, wrong-audience, wrong-issuer, unsigned
and foreign-signed tokens, revoked/expired/wrong keys, a lower role; plus sign-in required for reading.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from geo_service.auth.keys import create_key
from layers.access import ApiKeyRecord
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.auth.conftest import make_client
from tests.geo_service.conftest import farmland_grid
from tests.idp import TestIdentityProvider, new_key


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def two_versions(workspace: Path) -> Path:
    """jorder gets a version 2 with half the fields."""
    store = GeoPackageStore(workspace)
    store.publish("jorder", farmland_grid().iloc[:50], LayerMeta(LayerKind.farmland, "Jorder v2"))
    return workspace


def rollback(client: TestClient, headers: dict[str, str] | None = None):
    return client.post("/admin/layers/jorder/rollback", json={"version": 1}, headers=headers or {})


def test_admin_token_rolls_back_and_is_audited(two_versions: Path, app_client: TestClient,
                                               idp: TestIdentityProvider) -> None:
    assert app_client.get("/collections/jorder").json()["featureCount"] == 50
    response = rollback(app_client, bearer(idp.token("ola", ["GeoService.Admin"])))
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert app_client.get("/collections/jorder").json()["featureCount"] == 100
    entries = app_client.get("/admin/audit", headers=bearer(idp.token("ola", ["admin"]))).json()["entries"]
    assert [(e["actor"], e["action"], e["target"], e["result"], e["detail"]["version"]) for e in entries] == [
        ("oidc:ola", "rollback", "jorder", "ok", 1)]


def test_anonymous_write_is_401_with_www_authenticate(two_versions: Path, app_client: TestClient) -> None:
    response = rollback(app_client)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer realm=")
    assert response.json()["code"] == "Unauthorized"
    assert app_client.get("/collections/jorder").json()["featureCount"] == 50  # nothing changed


def test_editor_token_gets_403(two_versions: Path, app_client: TestClient, idp: TestIdentityProvider) -> None:
    response = rollback(app_client, bearer(idp.token("kari", ["GeoService.Editor"], ["3303"])))
    assert response.status_code == 403
    assert response.json() == {"code": "Forbidden",
                               "description": "your role (editor) may not do this; the admin role is needed"}
    assert app_client.get("/collections/jorder").json()["featureCount"] == 50


def _unsigned(idp: TestIdentityProvider) -> str:
    good = jwt.decode(idp.token("mallory", ["admin"]), options={"verify_signature": False})
    return jwt.encode(good, key=None, algorithm="none", headers={"kid": idp.kid})


BAD_TOKENS = {
    "expired": (lambda idp: idp.token("ola", ["admin"], expires_in=-3600), "expired"),
    "wrong audience": (lambda idp: idp.token("ola", ["admin"], audience="api://another-app"), "not meant"),
    "wrong issuer": (lambda idp: idp.token("ola", ["admin"], issuer="https://evil.example"), "not issued by"),
    "unsigned (alg none)": (_unsigned, "invalid token"),
    "signed by another key": (lambda idp: idp.token("ola", ["admin"], key=new_key()), "invalid token"),
    "unknown key id": (lambda idp: idp.token("ola", ["admin"], key=new_key(), kid="other"), "signing key"),
    "not a JWT": (lambda idp: "abc.def.ghi", "invalid token"),
}


@pytest.mark.parametrize("case", BAD_TOKENS, ids=list(BAD_TOKENS))
def test_bad_tokens_are_refused(case: str, two_versions: Path, app_client: TestClient,
                                idp: TestIdentityProvider) -> None:
    make, words = BAD_TOKENS[case]
    response = rollback(app_client, bearer(make(idp)))
    assert response.status_code == 401, response.text
    assert words in response.json()["description"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert app_client.get("/collections/jorder").json()["featureCount"] == 50


def test_api_keys_roles_revocation_and_expiry(two_versions: Path, app_client: TestClient) -> None:
    store = app_client.app.state.store
    _, reader = create_key(store, "Lesenøkkel", "reader", [])
    admin_record, admin = create_key(store, "FME admin", "admin", [])
    assert rollback(app_client, bearer(reader)).status_code == 403
    assert rollback(app_client, {"X-API-Key": admin[:-2] + "xx"}).status_code == 401  # wrong secret
    assert rollback(app_client, {"X-API-Key": admin}).status_code == 200
    assert store.revoke_api_key(admin_record.key_id)
    refused = rollback(app_client, bearer(admin))
    assert refused.status_code == 401 and "revoked" in refused.json()["description"]
    # a key whose expiry has passed (written straight to the store: create_key refuses past dates)
    _, expired = create_key(store, "old", "admin", [])
    old = store.get_api_key(expired.split("_")[1])
    from dataclasses import replace

    store.add_api_key(replace(old, key_id="0123456789ab", expires=datetime.now(UTC) - timedelta(days=1)))
    stale = "gsk_0123456789ab_" + expired.split("_", 2)[2]
    response = rollback(app_client, bearer(stale))
    assert response.status_code == 401 and "expired" in response.json()["description"]
    assert store.get_api_key(admin_record.key_id).secret_hash.startswith("$argon2id$")
    assert admin.split("_", 2)[2] not in store.get_api_key(admin_record.key_id).secret_hash


def test_reading_is_public_by_default_and_can_require_sign_in(workspace: Path, idp: TestIdentityProvider) -> None:
    with make_client(workspace, idp) as open_client:
        assert open_client.get("/collections/jorder/items?limit=1").status_code == 200
    with make_client(workspace, idp, auth_required_for_read=True) as closed:
        refused = closed.get("/collections/jorder/items?limit=1")
        assert refused.status_code == 401 and refused.json()["code"] == "Unauthorized"
        assert closed.get("/collections/jorder/tiles/WebMercatorQuad/14/8722/4755").status_code == 401
        ok = closed.get("/collections/jorder/items?limit=1", headers=bearer(idp.token("les", [])))
        assert ok.status_code == 200 and len(ok.json()["features"]) == 1
        assert closed.get("/collections", headers=bearer(idp.token("x", [], expires_in=-60))).status_code == 401


def test_key_record_never_holds_the_secret(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    record, secret = create_key(store, "Kongsberg GIS", "editor", ["3303", "3334"])
    assert isinstance(record, ApiKeyRecord) and record.municipalities == ("3303", "3334")
    raw = (tmp_path / "ws" / "catalog.sqlite").read_bytes()
    assert secret.split("_", 2)[2].encode() not in raw
    with pytest.raises(ValueError, match="unknown municipality code"):
        create_key(store, "x", "editor", ["0301"])
    with pytest.raises(ValueError, match="unknown role"):
        create_key(store, "x", "superuser", [])
