"""The /admin page in real Chromium against a real ``geo-service serve``: sign in with an API key, upload a
file by setting the file input, read the report, see the preview, publish, see the new version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import box

from geo_service.auth.keys import create_key
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.maps.test_browser import ARTIFACTS
from tests.servers import serve_workspace

XSS = "<img src=x onerror=alert(1)>"




def test_sign_in_upload_review_publish(browser: Any, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    store = GeoPackageStore(workspace)
    store.publish("kommuner", gpd.GeoDataFrame({"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"]},
                                               geometry=[box(530_000, 6_610_000, 540_000, 6_620_000)], crs=25832),
                  LayerMeta(LayerKind.municipality, "Kommuner (syntetisk)"))
    _, secret = create_key(store, "Kongsberg GIS", "admin", [])
    source = tmp_path / "næringsplan.geojson"
    gpd.GeoDataFrame({"arealformål": [1300, 1300], "navn": [XSS, "Skollenborg"]},
                     geometry=[box(531_000, 6_611_000, 531_300, 6_611_300), box(532_000, 6_611_000, 532_200, 6_611_200)],
                     crs=25832).to_file(source)

    with serve_workspace(workspace, tmp_path / "serve.log", env={"GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0"}) as url:
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(url) else None)

        page.goto(f"{url}/admin")
        assert page.url.endswith("/admin/sign-in?lang=nb")
        page.fill("#credential", secret)
        page.click("#sign-in")
        page.wait_for_url(f"{url}/admin?lang=nb")
        assert "Kongsberg GIS" in page.inner_text("#who")

        page.set_input_files("#file", str(source))
        page.fill("#layer-id", "plan-kongsberg")
        page.select_option("#kind", "zoning")
        page.fill("#title", XSS)
        page.click("#check")
        page.wait_for_function("() => window.GeoAdmin.state.report !== null", timeout=60_000)
        report = page.inner_text("#report-table")
        assert "Objekter lest\t2" in report and "EPSG:25832 → EPSG:25832" in report
        assert "arealformal ← arealformål" in report and "arealformal: finnes" in report
        page.wait_for_function("() => document.querySelectorAll('#preview-map path.leaflet-interactive').length === 2")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "admin-report.png"), full_page=True)

        page.click("#publish")
        page.wait_for_selector("tr[data-layer='plan-kongsberg']", timeout=30_000)
        row = page.inner_text("tr[data-layer='plan-kongsberg']")
        assert "v1" in row and "2 objekter" in row and "(gjeldende)" in row and XSS in row  # shown as text
        audit = page.inner_text("#audit")
        assert "publish" in audit and "næringsplan.geojson" in audit and "sign-in" in audit
        assert dialogs == [] and outside == []
        page.close()
