"""Browser sign-in: the sign-in form (double-submit CSRF), the session cookie's flags, CSRF on cookie writes,
revocation ending a session, and user text escaped on the /admin page."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from geo_service.auth.keys import create_key
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.conftest import farmland_grid
from tests.idp import TestIdentityProvider

XSS = '<img src=x onerror="alert(1)">'


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def sign_in(client: TestClient, credential: str) -> str:
    """Sign in through the form; returns the session's CSRF token (from the page's meta tag)."""
    page = client.get("/admin/sign-in")
    done = client.post("/admin/sign-in", data={"credential": credential, "csrf_token": form_token(page.text)},
                       follow_redirects=False)
    assert done.status_code == 303, done.text
    admin = client.get("/admin")
    return re.search(r'name="csrf-token" content="([^"]+)"', admin.text).group(1)  # type: ignore[union-attr]


def test_sign_in_form_cookie_and_csrf(workspace: Path, app_client: TestClient) -> None:
    store = app_client.app.state.store
    GeoPackageStore(workspace).publish("jorder", farmland_grid().iloc[:5], LayerMeta(LayerKind.farmland, XSS, XSS, XSS))
    record, secret = create_key(store, "Kongsberg admin", "admin", [])

    first = app_client.get("/admin", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].endswith("/admin/sign-in?lang=nb")
    page = app_client.get("/admin/sign-in")
    assert "Logg inn" in page.text and "gs_csrf" in page.headers["set-cookie"]
    assert "Sign in" in app_client.get("/admin/sign-in?lang=en").text

    # the sign-in form itself needs its CSRF token
    missing = app_client.post("/admin/sign-in", data={"credential": secret}, follow_redirects=False)
    assert missing.status_code == 403 and missing.json()["code"] == "Forbidden"
    wrong = app_client.post("/admin/sign-in", data={"credential": secret, "csrf_token": "forged"},
                            follow_redirects=False)
    assert wrong.status_code == 403
    bad_key = app_client.post("/admin/sign-in", data={"credential": secret[:-3] + "abc",
                                                      "csrf_token": form_token(app_client.get("/admin/sign-in").text)})
    assert bad_key.status_code == 401 and "wrong API key secret" in bad_key.text

    token = form_token(app_client.get("/admin/sign-in").text)
    done = app_client.post("/admin/sign-in", data={"credential": secret, "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("gs_session="))
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags and "secure" not in flags

    admin = app_client.get("/admin")
    assert admin.status_code == 200 and "Kongsberg admin" in admin.text
    assert XSS not in admin.text and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in admin.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', admin.text).group(1)  # type: ignore[union-attr]

    # a write with the session cookie needs the session's CSRF token (header or form field)
    body = {"version": 1}
    assert app_client.post("/admin/layers/jorder/rollback", json=body).status_code == 403
    assert app_client.post("/admin/layers/jorder/rollback", json=body,
                           headers={"X-CSRF-Token": "forged"}).json()["code"] == "Forbidden"
    ok = app_client.post("/admin/layers/jorder/rollback", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["title"] == "Jorder (syntetisk)"

    # revoking the key ends the browser session on the next request
    store.revoke_api_key(record.key_id)
    assert app_client.get("/admin", follow_redirects=False).status_code == 303
    assert app_client.post("/admin/layers/jorder/rollback", json=body,
                           headers={"X-CSRF-Token": csrf}).status_code == 401


def test_session_cookie_is_secure_on_https_and_oidc_sign_in(workspace: Path, idp: TestIdentityProvider) -> None:
    from tests.geo_service.auth.conftest import make_client

    with make_client(workspace, idp) as client:
        client.base_url = client.base_url.copy_with(scheme="https")  # type: ignore[attr-defined]
        token = form_token(client.get("/admin/sign-in").text)
        done = client.post("/admin/sign-in", data={"credential": idp.token("kari", ["GeoService.Editor"], ["3303"]),
                                                   "csrf_token": token}, follow_redirects=False)
        assert done.status_code == 303, done.text
        cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("gs_session=")).lower()
        assert "secure" in cookie and "httponly" in cookie
        page = client.get("/admin")
        assert "kari" in page.text and "editor" in page.text and "3303" in page.text
        assert 'id="upload-form"' in page.text and 'class="rollback"' not in page.text  # editors do not roll back
        # a forged cookie is no session
        client.cookies.clear()
        client.cookies.set("gs_session", "forged")
        assert client.get("/admin", follow_redirects=False).status_code == 303
