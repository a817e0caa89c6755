"""The planner workspace in a real headless Chromium: draw a site with mouse clicks and read its report,
upload a file and choose a polygon, pick a zoning area from its popup, download the PDF, switch language.

Served by ``geo-service serve`` on the full synthetic demo workspace (basemap off); every request must stay on
the loopback server. Expected numbers are computed independently in the test (pyproj + shapely on the
clicked outline). Without Chromium/Playwright these skip locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from layers.crs import transformer
from tests.geo_service.test_site_check_report import _need_poppler
from tests.maps.test_browser import Watched, browser, server  # noqa: F401 - the shared fixtures

VIEW = (59.665, 9.62, 14)  # west of Kongsberg town: farmland, a stream and roads (synthetic demo)
SIDE_PX = 114  # at zoom 14 and 59.7° N a pixel is ~4.83 m: a 114 px square is ~300 daa


def _open_planner(w: Watched, server_url: str, lang: str = "nb") -> None:
    w.open(f"{server_url}/maps/planner" + ("?lang=en" if lang == "en" else ""))
    w.page.evaluate("([lat, lon, z]) => GeoMaps.map.setView([lat, lon], z, {animate: false})", list(VIEW))
    w.page.wait_for_timeout(200)


def _draw_square(w: Watched, x0: int = 260, y0: int = 380) -> list[tuple[float, float]]:
    """Draw a square with the polygon tool by clicking its corners; returns the corners as (lon, lat)."""
    w.page.click(".leaflet-pm-icon-polygon")
    corners = [(x0, y0), (x0 + SIDE_PX, y0), (x0 + SIDE_PX, y0 + SIDE_PX), (x0, y0 + SIDE_PX)]
    lonlat = []
    for x, y in corners:
        w.page.mouse.click(x, y)
        w.page.wait_for_timeout(60)
        ll = w.page.evaluate("""([x, y]) => { const r = GeoMaps.map.getContainer().getBoundingClientRect();
            const p = GeoMaps.map.containerPointToLatLng([x - r.left, y - r.top]); return [p.lng, p.lat]; }""",
                             [x, y])
        lonlat.append(tuple(ll))
    w.page.mouse.click(*corners[0])  # closing the ring finishes the polygon
    w.page.wait_for_function("() => GeoMaps.workspace.checks >= 1", timeout=30_000)
    return lonlat


def _area_daa(lonlat: list[tuple[float, float]]) -> float:
    tr = transformer(4326, 25832)
    xy = np.column_stack(tr.transform([p[0] for p in lonlat], [p[1] for p in lonlat]))
    return float(shapely.Polygon(xy).area) / 1000


def _daa_in(text: str) -> float:
    match = re.search(r"Areal\s+([\d\u00a0 ]+,\d) daa", text) or re.search(r"Area\s+([\d,]+\.\d) daa", text)
    assert match, text[:300]
    raw = match.group(1)
    return float(raw.replace("\u00a0", "").replace(" ", "").replace(",", ".")) if "Areal" in match.group(0) \
        else float(raw.replace(",", ""))


def test_draw_a_site_and_read_the_report(browser: Any, server: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    w = Watched(browser)
    try:
        _open_planner(w, server)
        lonlat = _draw_square(w)
        expected = _area_daa(lonlat)
        assert 280 < expected < 320  # the square drawn is ~300 daa
        report = w.page.inner_text("#gm-ws-report")
        assert _daa_in(report) == pytest.approx(expected, rel=0.005)
        state = w.page.evaluate("() => GeoMaps.workspace.lastReport")
        rows = {r["rule_id"]: r for t in state["themes"] for r in t["rules"]}
        # every rule is in the panel once, with the sentence true for its outcome
        for rule_id, row in rows.items():
            article = w.page.locator(f'#gm-ws-report article[data-rule="{rule_id}"]')
            assert article.count() == 1
            assert article.get_attribute("data-outcome") == row["outcome"]
            assert row["text_nb"] in article.inner_text()
        farm = rows["farmland-jordvern"]
        ar5 = state["ar5"]
        assert farm["hit_area_m2"] == pytest.approx(ar5["dyrka_jord_m2"], rel=1e-6)  # one definition of dyrka jord
        hits = w.page.evaluate("() => GeoMaps.layers.siteCheck.getLayers().length")
        assert hits == 1 + sum(1 for r in rows.values() if r["outcome"] == "inside" and r["hit_area_m2"] > 0)
        for english in ("farmland", "Not mapped", "Inside", "What to do"):
            assert english not in report
        img = w.shot("workspace-drawn-nb")
        assert img.shape[1] == 1280
        ms = w.page.evaluate("() => GeoMaps.workspace.lastMs")
        with capsys.disabled():
            print(f"\n[site check] {expected:.0f} daa drawn polygon: report on screen {ms} ms after closing it")
        w.assert_clean()
    finally:
        w.close()


def test_pdf_download_from_the_panel(browser: Any, server: str, tmp_path: Path) -> None:  # noqa: F811
    _need_poppler()
    w = Watched(browser)
    try:
        _open_planner(w, server)
        _draw_square(w)
        with w.page.expect_download() as info:
            w.page.click("#gm-ws-pdf")
        pdf = tmp_path / "report.pdf"
        info.value.save_as(pdf)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        report = w.page.inner_text("#gm-ws-report")
        assert "Arealanalyse av tomt" in text
        assert f"{_daa_in(report):.1f}".replace(".", ",") in text
        w.assert_clean()
    finally:
        w.close()


def test_upload_a_file_and_choose_a_polygon(browser: Any, server: str, tmp_path: Path) -> None:  # noqa: F811
    tr = transformer(25832, 4326)
    x0, y0 = 531_000.0, 6_614_000.0

    def poly(x: float, y: float, w_m: float, h_m: float) -> dict:
        ring = [(x, y), (x + w_m, y), (x + w_m, y + h_m), (x, y + h_m), (x, y)]
        return {"type": "Polygon", "coordinates": [[list(tr.transform(px, py)) for px, py in ring]]}

    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"navn": "Nord"}, "geometry": poly(x0, y0, 100, 100)},
        {"type": "Feature", "properties": {"navn": "Sør"}, "geometry": poly(x0, y0 - 1000, 300, 200)}]}
    path = tmp_path / "tomter.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    w = Watched(browser)
    try:
        _open_planner(w, server)
        w.page.set_input_files("#gm-ws-file", str(path))
        w.page.wait_for_function("() => GeoMaps.workspace.checks >= 1", timeout=30_000)
        options = w.page.locator("#gm-ws-candidates option").all_inner_texts()
        assert [o.split(" (")[0] for o in options] == ["Nord", "Sør"]
        assert _daa_in(w.page.inner_text("#gm-ws-report")) == pytest.approx(10.0, abs=0.05)
        w.page.select_option("#gm-ws-candidates", "1")
        w.page.wait_for_function("() => GeoMaps.workspace.checks >= 2", timeout=30_000)
        assert _daa_in(w.page.inner_text("#gm-ws-report")) == pytest.approx(60.0, abs=0.05)
        w.assert_clean()
    finally:
        w.close()


def test_pick_a_zone_and_english_page(browser: Any, server: str) -> None:  # noqa: F811
    w = Watched(browser)
    try:
        _open_planner(w, server, lang="en")
        assert w.page.inner_text("#gm-ws h2") == "Check a site"
        # the AR5 tiles answer clicks with their own popup: switch them off, as a planner would
        w.toggle("Cultivated land (AR5)")
        # click the middle of the map until a zoning area's popup opens, then check that area
        for dx in range(0, 200, 25):
            w.page.mouse.click(300 + dx, 450)
            if w.page.locator(".gm-check-zone").count():
                break
        area_text = w.page.inner_text(".leaflet-popup-content")
        zone_daa = float(re.search(r"Area\s+([\d,]+\.\d) daa", area_text).group(1).replace(",", ""))
        w.page.click(".gm-check-zone")
        w.page.wait_for_function("() => GeoMaps.workspace.checks >= 1", timeout=30_000)
        report = w.page.inner_text("#gm-ws-report")
        assert "Site check" in report and "What to do next" in report
        assert _daa_in(report) == pytest.approx(zone_daa, abs=0.051 + zone_daa * 0.002)
        for norwegian in ("Hva nå", "Innenfor", "Dyrka jord"):
            assert norwegian not in report
        w.page.click("#gm-ws-toggle")  # collapse the panel: the map takes the whole width
        width = w.page.evaluate("() => GeoMaps.map.getContainer().getBoundingClientRect().width")
        assert width == 1280
        w.assert_clean()
    finally:
        w.close()
