"""Exposure and limits at the HTTP edge (issue 9, items 4 and 9): links never reflect an unchecked Host,
descriptions name no server path, every response carries the security headers, and oversized headers,
bodies and sites are refused with JSON bodies before any work; a full site-check gate answers 503."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.limits import WorkGate
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.conftest import farmland_grid

SITE = "/analyses/site-check"


def _app(workspace: Path, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(workspace=workspace, seed_demo=False, analysis_refresh_seconds=0,
                                          **settings)))


def _hrefs(body: object) -> list[str]:
    if isinstance(body, dict):
        return [v for k, v in body.items() if k in ("href", "$id") and isinstance(v, str)] + \
            [h for v in body.values() for h in _hrefs(v)]
    if isinstance(body, list):
        return [h for v in body for h in _hrefs(v)]
    return []


def test_an_unknown_host_is_refused_and_never_reflected(client: TestClient) -> None:
    response = client.get("/collections", headers={"host": "evil.example"})
    assert response.status_code == 400 and response.json()["code"] == "InvalidHost"
    assert "GEO_SERVICE_ALLOWED_HOSTS" in response.json()["description"]
    ok = client.get("/collections", headers={"host": "localhost:8000"})
    assert ok.status_code == 200
    assert {h.split("/collections")[0] for h in _hrefs(ok.json())} == {"http://localhost:8000"}


def test_links_start_with_the_public_url_whatever_the_headers(workspace: Path) -> None:
    with _app(workspace, public_url="https://kart.example.no/geo/", allowed_hosts=["*"]) as c:
        body = c.get("/collections", headers={"host": "evil.example", "x-forwarded-host": "evil2.example"}).json()
        page = c.get("/collections/jorder/items?limit=5", headers={"host": "evil.example"}).json()
    hrefs = _hrefs(body) + _hrefs(page)
    assert len(hrefs) > 10
    assert all(h.startswith("https://kart.example.no/geo/collections") for h in hrefs), hrefs[:3]


def test_forwarded_headers_count_only_from_trusted_proxies(workspace: Path) -> None:
    forwarded = {"x-forwarded-proto": "https", "x-forwarded-host": "kart.example.no", "x-forwarded-prefix": "/geo"}
    with _app(workspace) as c:  # no trusted proxy: the headers are ignored
        assert c.get("/", headers=forwarded).json()["links"][0]["href"] == "http://testserver/"
    with _app(workspace, trusted_proxies=["testclient"]) as c:  # TestClient's peer address is "testclient"
        assert c.get("/", headers=forwarded).json()["links"][0]["href"] == "https://kart.example.no/geo/"
        rfc = {"forwarded": 'for=1.2.3.4;proto=https;host="maps.example.no"'}
        assert c.get("/", headers=rfc).json()["links"][0]["href"] == "https://maps.example.no/"


def test_descriptions_name_the_source_file_not_the_server_path(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    store.publish("ar5", farmland_grid(), LayerMeta(LayerKind.farmland, "AR5", "Arealressurs",
                                                    provenance={"source": "/srv/secret/kommune/AR5_3303.gml"}))
    with _app(tmp_path / "ws") as c:
        description = c.get("/collections/ar5").json()["description"]
        listing = c.get("/collections").text
    assert "AR5_3303.gml" in description
    assert "/srv" not in description and "secret" not in listing


@pytest.mark.parametrize("path", ["/", "/collections/jorder/items?limit=1", "/collections/nope", "/docs",
                                  "/collections/jorder/map", "/static/geo-maps.js",
                                  "/collections/jorder/tiles/WebMercatorQuad/0/0/0"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]


def test_pages_scripts_carry_the_responses_nonce(client: TestClient) -> None:
    first, second = client.get("/collections/jorder/map"), client.get("/collections/jorder/map")
    nonces = []
    for response in (first, second):
        nonce = response.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
        scripts = response.text.count("<script")
        assert scripts > 3 and response.text.count(f'<script nonce="{nonce}"') == scripts
        nonces.append(nonce)
    assert nonces[0] != nonces[1]  # one per response, even for a cached page


def test_oversized_headers_are_431(client: TestClient) -> None:
    response = client.get("/", headers={"x-padding": "a" * 20_000})
    assert response.status_code == 431 and response.json()["code"] == "RequestHeaderFieldsTooLarge"
    assert client.get("/", headers={"x-padding": "a" * 8_000}).status_code == 200


def test_oversized_bodies_are_413_before_parsing(client: TestClient) -> None:
    big = b'{"type":"Polygon","coordinates":[[' + b"[9.6,59.6]," * 600_000 + b"[9.6,59.6]]]}"
    assert len(big) > 5 * 2**20
    response = client.post(SITE, content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLarge"

    def chunks():  # no Content-Length: counted while it is read
        for start in range(0, len(big), 2**20):
            yield big[start:start + 2**20]

    response = client.post(SITE, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "PayloadTooLarge"


def _ring(n: int, cx: float = 9.65, cy: float = 59.665, r: float = 0.004) -> list[list[float]]:
    import math

    pts = [[cx + r * math.cos(2 * math.pi * k / n), cy + r * 0.5 * math.sin(2 * math.pi * k / n)] for k in range(n)]
    return [*pts, pts[0]]


def test_site_limits_vertices_parts_holes_and_area(workspace: Path) -> None:
    with _app(workspace, site_max_vertices=1_000, site_max_parts=3, site_max_holes=2,
              site_max_area_km2=1.0) as c:
        many_vertices = c.post(SITE, json={"type": "Polygon", "coordinates": [_ring(2_000)]})
        assert many_vertices.status_code == 413 and "2001 vertices" in many_vertices.json()["description"]
        parts = [[_ring(8, 9.6 + k * 0.01, 59.6, 0.002)] for k in range(4)]
        many_parts = c.post(SITE, json={"type": "MultiPolygon", "coordinates": parts})
        assert many_parts.status_code == 413 and "4 polygons" in many_parts.json()["description"]
        holes = [_ring(16, r=0.01)] + [_ring(6, 9.645 + k * 0.003, 59.665, 0.0005)[::-1] for k in range(3)]
        many_holes = c.post(SITE, json={"type": "Polygon", "coordinates": holes})
        assert many_holes.status_code == 413 and "3 holes" in many_holes.json()["description"]
        too_big = c.post(SITE, json={"type": "Polygon", "coordinates": [_ring(64, r=0.05)]})  # ~ 7 km²
        assert too_big.status_code == 400 and "km²" in too_big.json()["description"]
        fine = c.post(SITE, json={"type": "Polygon", "coordinates": [_ring(64)]})
        assert fine.status_code == 200 and fine.json()["area_m2"] > 0


def test_site_checks_past_the_gate_get_503_with_retry_after(workspace: Path) -> None:
    site = {"type": "Polygon", "coordinates": [_ring(32)]}
    with _app(workspace) as c:
        gate = WorkGate(concurrency=1, queue=0, wait_s=3)
        c.app.state.site_gate = gate
        c.portal.call(gate._slots.acquire)  # another request holds the only slot
        busy = c.post(SITE, json=site)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "3"
        assert busy.json()["code"] == "ServiceUnavailable"
        assert c.get("/collections/jorder").status_code == 200  # everyone else is still served
        gate._slots.release()
        assert c.post(SITE, json=site).status_code == 200


def test_the_time_budget_stops_a_check(workspace: Path) -> None:
    with _app(workspace, site_check_budget_seconds=1e-9) as c:
        response = c.post(SITE, json={"type": "Polygon", "coordinates": [_ring(32)]})
    assert response.status_code == 413 and "budget" in response.json()["description"]


def test_site_check_html_escapes_what_the_client_sent(client: TestClient) -> None:
    payload = "<img src=x onerror=alert(1)>"
    body = {"type": "Feature", "properties": {"navn": payload}, "geometry": {"type": "Polygon",
                                                                             "coordinates": [_ring(16)]}}
    response = client.post(f"{SITE}?f=html", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert payload not in response.text


def test_a_live_server_refuses_a_1_mb_header(live_server: str) -> None:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(live_server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("GET", "/conformance")
    conn.putheader("X-Padding", "a" * 2**20)
    conn.endheaders()
    response = conn.getresponse()  # httptools reads it all; EdgeGuard refuses it before any handler
    assert response.status == 431
    assert json.loads(response.read())["code"] == "RequestHeaderFieldsTooLarge"
    conn.close()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", "/conformance", headers={"X-Padding": "a" * 4_000})
    ok = conn.getresponse()
    assert ok.status == 200 and ok.getheader("x-content-type-options") == "nosniff"
    conn.close()
