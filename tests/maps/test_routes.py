"""The map routes over HTTP (in-process TestClient): pages, static assets, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings
from maps import assets


@pytest.fixture
def client(demo_workspace: Path) -> Iterator[TestClient]:
    settings = Settings(workspace=demo_workspace, seed_demo=False, basemap_url="", analysis_refresh_seconds=0)
    with TestClient(create_app(settings)) as c:
        yield c


def test_static_assets_are_served(client: TestClient) -> None:
    r = client.get("/static/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "max-age" in r.headers["cache-control"] and r.content.startswith(b"/* @preserve")
    assert client.get("/static/vendor/leaflet/images/layers.png").headers["content-type"] == "image/png"
    assert client.get("/static/geo-maps.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/../pyproject.toml", "/static/vendor/leaflet/package.json"])
def test_only_listed_assets(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_pages(client: TestClient) -> None:
    investor = client.get("/maps/investor")
    assert investor.status_code == 200 and investor.headers["content-type"].startswith("text/html")
    nonce = investor.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}" src="/static/geo-maps.js">' in investor.text and "L.tileLayer" not in investor.text
    assert 'href="/maps/investor?lang=en"' in investor.text  # the language switch (same origin, no Host header)
    assert "Available business land" in client.get("/maps/investor?lang=en").text
    planner = client.get("/maps/planner")
    assert planner.status_code == 200 and '"/collections/ar5/tiles/WebMercatorQuad/{z}/{x}/{y}' in planner.text
    preview = client.get("/collections/kommuner/map")
    assert preview.status_code == 200 and "Forhåndsvisning av kartlag: kommuner" in preview.text
    assert client.get("/collections/nope/map").json()["code"] == "NotFound"


def test_basemap_from_settings(demo_workspace: Path) -> None:
    url = "http://127.0.0.1:1/topo/{z}/{y}/{x}.png"
    settings = Settings(workspace=demo_workspace, seed_demo=False, basemap_url=url, analysis_refresh_seconds=0)
    with TestClient(create_app(settings)) as c:
        assert url in c.get("/maps/investor").text


def test_missing_assets_are_503(demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(assets.ASSETS_DIR_ENV, str(tmp_path))
    settings = Settings(workspace=demo_workspace, seed_demo=False, basemap_url="", analysis_refresh_seconds=0)
    with TestClient(create_app(settings)) as c:
        r = c.get("/maps/investor")
    assert r.status_code == 503 and "npm ci" in r.json()["description"]


def test_planner_data_route(client: TestClient, demo_workspace: Path) -> None:
    """The planner's heavy layers: named by version (cached for good), gzip on request, 404 naming the choices."""
    import re

    from constraints.publish import OBJECTION_RISK
    from layers.gpkg_store import GeoPackageStore

    page = client.get("/maps/planner").text
    url = re.search(r'"(/maps/planner/data/risk\?v=[0-9a-f]{16})"', page).group(1)
    assert f'<link rel="preload" href="{url}" as="fetch"' in page
    r = client.get(url, headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-encoding"] == "gzip"
    doc = r.json()  # httpx decodes the gzip; what travelled is a fraction of the JSON
    assert int(r.headers["content-length"]) < len(r.content) / 3
    store = GeoPackageStore(demo_workspace)
    risk = store.read_frame(store.get_layer(OBJECTION_RISK).current)
    assert sum(len(fc["features"]) for fc in doc.values()) == len(risk)
    stale = client.get("/maps/planner/data/risk?v=0000000000000000")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"  # never cached for good
    bad = client.get("/maps/planner/data/nope")
    assert bad.status_code == 404 and "zone-watercourse-belt" in bad.json()["description"]
