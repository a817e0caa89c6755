"""Security of the pages in real Chromium (issue 9, items 5, 8 and 9).

* Stored XSS: layers published with script payloads as title, attribution and attribute values. Their
  previews (inline GeoJSON and vector tiles) open no dialog, add no element from the payload, and show the
  text literally in the layer control, the attribution and the popup.
* CSP: the investor, planner and preview maps and ``/docs`` render under the service's
  Content-Security-Policy (script nonces) with zero violations, and ``/docs`` loads nothing from elsewhere.
* Page cache: unknown query parameters neither change the page nor add a cache entry.

Synthetic data; without Chromium or Playwright these tests skip locally and fail in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.maps.test_browser import Watched, _require_browser
from tests.servers import serve_workspace

TITLE = "<img src=x onerror=alert('title')>"
ATTRIBUTION = "<script>alert('attribution')</script><img src=x onerror=alert('attr')>"
VALUE = "<img src=x onerror=alert('value')>"
CSP_WATCH = """() => { window.__csp = []; document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); }"""


def _xss_frame(n: int) -> gpd.GeoDataFrame:
    """``n`` synthetic 200 m squares near Kongsberg with a script payload as an attribute value."""
    x0, y0 = 536_000.0, 6_614_000.0
    return gpd.GeoDataFrame({"navn": [VALUE] * n, "kode": list(range(n))},
                            geometry=[box(x0 + i * 200, y0, x0 + (i + 1) * 200, y0 + 200) for i in range(n)],
                            crs=25832)


@pytest.fixture(scope="module")
def xss_server(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo plus two hostile layers: 1 feature (inline GeoJSON) and 5 features (vector tiles)."""
    _require_browser()
    import shutil

    root = tmp_path_factory.mktemp("xss")
    workspace = root / "demo"
    shutil.copytree(demo_workspace, workspace)
    store = GeoPackageStore(workspace)
    for layer_id, n in (("xss-inline", 1), ("xss-tiles", 5)):
        store.publish(layer_id, _xss_frame(n), LayerMeta(LayerKind.other, TITLE, "synthetic XSS probe",
                                                         ATTRIBUTION))
    env = {"GEO_SERVICE_BASEMAP_URL": "", "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0",
           "GEO_SERVICE_MAP_INLINE_LIMIT": "2"}
    with serve_workspace(workspace, root / "serve.log", env) as url:
        yield url




class Guarded(Watched):
    """A watched page that also records dialogs (dismissed) and CSP violations."""

    def __init__(self, browser: Any) -> None:
        super().__init__(browser)
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.add_init_script(f"({CSP_WATCH})()")

    def assert_safe(self) -> None:
        assert self.dialogs == [], f"script ran: {self.dialogs}"
        assert self.page.evaluate("() => window.__csp") == []
        assert [e for e in self.errors if "Content Security Policy" in e] == []
        assert self.page.evaluate("() => document.querySelectorAll('img[src=\"x\"], script:not([src]):not([nonce])"
                                  "').length") == 0
        self.assert_clean()


@pytest.mark.parametrize("layer_id", ["xss-inline", "xss-tiles"])
def test_script_payloads_are_shown_as_text(browser: Any, xss_server: str, layer_id: str) -> None:
    g = Guarded(browser)
    try:
        g.open(f"{xss_server}/collections/{layer_id}/map")
        g.page.wait_for_timeout(500)  # tiles drawn, attribution added
        labels = g.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        assert any(TITLE in text for text in labels), labels
        assert TITLE in g.page.locator("#gm-card").inner_text()
        assert ATTRIBUTION in g.page.locator("#gm-legend").inner_text()
        if layer_id == "xss-tiles":
            assert ATTRIBUTION in g.page.locator(".leaflet-control-attribution").inner_text()
        lat, lon = g.page.evaluate("() => { const c = GeoMaps.map.getBounds().getCenter(); return [c.lat, c.lng]; }")
        popup = g.click_latlon(lat, lon, 15)
        assert VALUE in popup, popup
        g.page.wait_for_timeout(300)
        g.assert_safe()
    finally:
        g.close()


@pytest.mark.parametrize("path", ["/maps/investor", "/maps/planner", "/collections/ar5/map"])
def test_maps_render_under_the_content_security_policy(browser: Any, xss_server: str, path: str) -> None:
    g = Guarded(browser)
    try:
        response = g.page.goto(f"{xss_server}{path}")
        assert "'nonce-" in response.headers["content-security-policy"]
        g.page.wait_for_function("() => window.GeoMaps && GeoMaps.state.ready === true", timeout=60_000)
        drawn = [layer.get("features", 0) + layer.get("featuresDrawn", 0) for layer in g.state()["layers"].values()]
        assert sum(drawn) > 0
        g.assert_safe()
    finally:
        g.close()


def test_docs_render_from_local_assets_only(browser: Any, xss_server: str) -> None:
    g = Guarded(browser)
    try:
        g.page.goto(f"{xss_server}/docs")
        g.page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        g.page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        assert "Kongsbergregionen" in g.page.locator(".swagger-ui .info .title").inner_text()
        paths = g.page.locator(".opblock-summary-path").all_inner_texts()
        assert "/analyses/site-check" in paths
        assert any("/static/vendor/swagger-ui/" in u for u in g.requests)
        g.assert_safe()  # includes: every request went to the loopback server
    finally:
        g.close()


def test_redoc_renders_from_local_assets_only(browser: Any, xss_server: str) -> None:
    """/redoc is ReDoc from the service's own copy (no redirect, no CDN, not even ReDoc's logo)."""
    g = Guarded(browser)
    try:
        response = g.page.goto(f"{xss_server}/redoc")
        assert response.url.endswith("/redoc") and response.status == 200
        g.page.wait_for_selector("redoc h1", timeout=30_000)
        assert "Kongsbergregionen" in g.page.locator("redoc h1").first.inner_text()
        g.page.wait_for_selector('[data-section-id*="operation/site_check_analyses_site_check_post"]', state="attached", timeout=30_000)
        assert g.page.locator("[data-section-id]").count() > 20  # every operation has its section
        assert any("/static/vendor/redoc/redoc.standalone.js" in u for u in g.requests)
        g.page.wait_for_timeout(300)  # the sidebar's images
        g.assert_safe()  # includes: every request went to the loopback server, no console error (CSP)
    finally:
        g.close()


def test_unknown_parameters_do_not_make_new_pages(demo_workspace: Path) -> None:
    settings = Settings(workspace=demo_workspace, seed_demo=False, analysis_refresh_seconds=0, basemap_url="")
    with TestClient(create_app(settings)) as c:
        first = c.get("/maps/planner?x=1")
        pages = c.app.state.map_pages._pages
        for n in range(2, 6):
            assert c.get(f"/maps/planner?x={n}&utm_source=mail").status_code == 200
        assert len(pages) == 1
        assert 'href="/maps/planner?lang=en"' in first.text  # the language link keeps no stray parameter
        c.get("/maps/planner?lang=en&x=7")
        assert len(pages) == 2  # the language does change the page
