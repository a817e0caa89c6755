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
    w.page.wait_for_timeout(400)  # longer than a zoom animation: nothing on the page may undo this view
    _frames(w)
    assert w.page.evaluate("() => GeoMaps.map.getZoom()") == VIEW[2]


def _frames(w: Watched) -> None:
    """Wait until the browser has painted twice (the canvas is redrawn, so clicks hit what is on screen)."""
    w.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


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
    # the session's first check may wait for the constraint index (built at start; slow on a busy machine)
    w.page.wait_for_function("() => GeoMaps.workspace.checks >= 1", timeout=90_000)
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
        # the rendered first page: the site outline (black) and the overall badge's colour are drawn
        subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
                       check=True)
        from PIL import Image

        page = np.asarray(Image.open(next(tmp_path.glob("p*.png"))).convert("RGB")).astype(int)
        assert page.shape[0] > page.shape[1]  # A4 portrait
        risk = w.page.locator("#gm-ws-report .sr-report").get_attribute("data-risk")
        badge = {"RED": (0xb3, 0x26, 0x1e), "YELLOW": (0xf2, 0xc2, 0x30), "GREEN": (0x1e, 0x7b, 0x34),
                 "NOT_MAPPED": (0x5f, 0x63, 0x68)}[risk]
        assert (np.abs(page - np.array(badge)).max(axis=2) < 40).sum() > 20, risk
        assert (page.max(axis=2) < 60).sum() > 200  # text and the site's outline
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
        assert not w.state()["layers"]["tiles-ar5"]["visible"]  # constraint layers start off: clicks reach the zones
        # click the middle of the map until a zoning area's popup opens, then check that area
        for dx in range(0, 200, 25):
            w.page.mouse.click(300 + dx, 450)
            _frames(w)
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
        w.page.click("#gm-lang")  # the language switch: the same map in bokmål
        w.page.wait_for_function("() => window.GeoMaps && GeoMaps.state.ready === true", timeout=60_000)
        assert w.page.locator("html").get_attribute("lang") == "nb" or "?lang=nb" in w.page.url
        assert w.page.inner_text("#gm-ws h2") == "Sjekk en tomt"
        assert "Innsigelsesrisiko" in w.page.inner_text("#gm-legend")
        assert w.state()["layers"]["risk-RED"]["features"] > 0
        w.assert_clean()
    finally:
        w.close()


def test_near_finding_popup_says_near(browser: Any, server: str, demo_workspace: Path) -> None:  # noqa: F811
    from constraints.publish import OBJECTION_RISK
    from layers.gpkg_store import GeoPackageStore
    from tests.maps.test_browser import latlon

    store = GeoPackageStore(demo_workspace)
    risk = store.read_frame(store.get_layer(OBJECTION_RISK).current)

    def only_near(text: str) -> bool:
        fs = json.loads(text)
        return [f["risk"] for f in fs if f["risk"] != "GREEN"] == ["YELLOW"] and any(
            f["rule_id"] == "watercourse-belt" and f["risk"] == "YELLOW" and f["overlap_m2"] == 0 for f in fs)

    zone = risk[(risk["objection_risk"] == "YELLOW") & risk["findings"].map(only_near)].sort_values("area_m2").iloc[-1]
    w = Watched(browser)
    try:
        w.open(f"{server}/maps/planner")
        text = w.click_latlon(*latlon(zone.geometry), zoom=15)
        assert "Nærmeste vassdrag ligger" in text
        assert "innenfor 100 m (standard) fra vassdrag" not in text  # the inside sentence is not shown
        item = w.page.locator('.leaflet-popup-content li[data-rule="watercourse-belt"]')
        assert item.get_attribute("data-outcome") == "near"
        status = int(zone["planstatus"])
        assert f"Planstatus\t{status} " in text  # plan status (proposed vs adopted decides exemptions)
        # "only business zones": every non-business zone leaves the map, and comes back
        from constraints.rules import load_rules
        from maps.planner import risk_zones

        zones = risk_zones(store, load_rules())
        w.page.check("#gm-ws-business")
        assert w.page.evaluate("() => GeoMaps.workspace.hiddenZones") == int((~zones["business"]).sum()) > 0
        w.page.uncheck("#gm-ws-business")
        assert w.page.evaluate("() => GeoMaps.workspace.hiddenZones") == 0
        w.assert_clean()
    finally:
        w.close()


def test_land_reserve_page_downloads_and_language(browser: Any, server: str, tmp_path: Path) -> None:  # noqa: F811
    w = Watched(browser)
    try:
        w.page.goto(f"{server}/analyses/land-reserve")
        assert w.page.locator("html").get_attribute("lang") == "nb"
        headers = w.page.locator("#lr-table thead th").all_inner_texts()
        assert headers[:3] == ["Kommune", "Ferdig regulert (daa)", "Arealreserve (daa)"]
        assert w.page.locator("#lr-table tbody tr").count() == 7
        assert w.page.locator("#lr-chart svg").count() == 1
        doc = w.page.request.get(f"{server}/analyses/land-reserve", headers={"accept": "application/json"}).json()
        total = w.page.inner_text("#lr-total").split("\t")
        assert total[0] == "Sum"
        assert total[2] == f"{doc['region']['reserve_daa']:,.1f}".replace(",", "\u00a0").replace(".", ",")
        for link, check in (("#lr-csv", b"kommunenummer,kommunenavn"), ("#lr-csv-excel", b"\xef\xbb\xbfKommunenummer;")):
            with w.page.expect_download() as info:
                w.page.click(link)
            path = tmp_path / info.value.suggested_filename
            info.value.save_as(path)
            assert path.read_bytes().startswith(check), link
        # a link that turns into a download ends its navigation as ERR_ABORTED: that is the download, not a failure
        w.failed = [f for f in w.failed if not (f.endswith("net::ERR_ABORTED") and "/land-reserve.csv" in f)]
        w.page.click("#lr-lang")
        w.page.wait_for_load_state()
        assert w.page.locator("html").get_attribute("lang") == "en"
        assert w.page.locator("#lr-table thead th").all_inner_texts()[2] == "Land reserve (daa)"
        w.shot("land-reserve-en")
        w.assert_clean()
    finally:
        w.close()


def test_change_over_time_after_a_new_zoning_version(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    """A small synthetic workspace (fast to refresh): two master-plan reserves in Kongsberg; version 2 of the
    zoning takes the 30 daa one out, and the history shows both versions."""
    import geopandas as gpd
    from shapely.geometry import box

    from constraints.publish import refresh_derived
    from constraints.rules import load_rules
    from layers.gpkg_store import GeoPackageStore
    from layers.kinds import LayerKind
    from layers.store import LayerMeta
    from tests.servers import serve_workspace

    x0, y0 = 536_000.0, 6_614_000.0
    store = GeoPackageStore(tmp_path / "ws")
    store.publish("kommuner", gpd.GeoDataFrame({"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"]},
                                               geometry=[box(x0 - 5000, y0 - 5000, x0 + 5000, y0 + 5000)],
                                               crs=25832), LayerMeta(LayerKind.municipality, "Kommuner (synthetic)"))
    store.publish("ar5", gpd.GeoDataFrame({"arealtype": [30]}, geometry=[box(x0 - 900, y0 - 900, x0 + 900,
                                                                                 y0 + 900)], crs=25832),
                  LayerMeta(LayerKind.farmland, "AR5 (synthetic)"))

    def zoning(n: int) -> gpd.GeoDataFrame:  # reserves of 20 daa (200 x 100 m) and 30 daa (300 x 100 m)
        boxes = [box(x0, y0, x0 + 200, y0 + 100), box(x0, y0 + 300, x0 + 300, y0 + 400)][:n]
        return gpd.GeoDataFrame({"arealformal": [1300] * n, "plantype": ["kommuneplan"] * n, "planstatus": [3] * n,
                                 "arealbruksstatus": [2] * n, "kommunenummer": ["3303"] * n}, geometry=boxes,
                                crs=25832)

    for n in (2, 1):
        store.publish("arealplan", zoning(n), LayerMeta(LayerKind.zoning, "Arealplan (synthetic)"))
        refresh_derived(store, load_rules())
    env = {"GEO_SERVICE_BASEMAP_URL": "", "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0"}
    with serve_workspace(tmp_path / "ws", tmp_path / "serve.log", env) as url:
        w = Watched(browser)
        try:
            doc = w.page.request.get(f"{url}/analyses/land-reserve/history",
                                     headers={"accept": "application/json"}).json()
            assert [v["version"] for v in doc["versions"]] == [1, 2]
            assert [v["municipalities"][0]["reserve_daa"] for v in doc["versions"]] == [
                pytest.approx(50.0, abs=1e-3), pytest.approx(20.0, abs=1e-3)]
            w.page.goto(f"{url}/analyses/land-reserve/history")
            assert w.page.locator(".rh-chart svg").count() == 2
            assert w.page.locator(".rh-chart").first.get_attribute("data-versions") == "1,2"
            rows = {r.get_attribute("data-version"): r.inner_text().split("\t")
                    for r in w.page.locator("#rh-table tbody tr").all()}
            assert rows["1"][2:4] == ["Kongsberg", "50,0"] and rows["2"][2:4] == ["Kongsberg", "20,0"]
            w.page.click("#rh-lang")
            w.page.wait_for_load_state()
            assert w.page.inner_text("h1") == "Land reserves over time"
            w.shot("land-reserve-history-en")
            # what changed between the two zoning versions: one area removed, none added; and in English
            w.page.goto(f"{url}/collections/arealplan/changes?from=1&to=2")
            assert w.page.locator("html").get_attribute("lang") == "nb"
            assert (w.page.inner_text("#ch-removed"), w.page.inner_text("#ch-added")) == ("1", "0")
            w.page.click("#ch-lang")
            w.page.wait_for_load_state()
            assert w.page.locator("html").get_attribute("lang") == "en"
            assert w.page.inner_text("#ch-removed") == "1"
            w.assert_clean()
        finally:
            w.close()


UNCOVERED = """() => {
    const pop = document.querySelector('.leaflet-popup-content-wrapper');
    const box = GeoMaps.map.getContainer().getBoundingClientRect();
    const r = pop.getBoundingClientRect();
    const bad = [];
    for (let i = 0; i <= 8; i++) for (let j = 0; j <= 8; j++) {
      const x = r.left + 2 + (r.width - 4) * i / 8, y = r.top + 2 + (r.height - 4) * j / 8;
      const inside = x >= box.left && x <= box.right && y >= box.top && y <= box.bottom;
      const top = document.elementFromPoint(x, y);
      if (!inside || !top || !top.closest('.leaflet-popup')) {
        bad.push([Math.round(x), Math.round(y), top ? (top.id || top.className || top.tagName) : 'off-screen']);
      }
    }
    const title = pop.querySelector('h3').getBoundingClientRect();
    return {bad, titleTop: title.top - box.top, titleBottom: title.bottom - box.top, height: box.height};
}"""


def test_popups_are_never_covered(browser: Any, server: str, demo_workspace: Path) -> None:  # noqa: F811
    """A zone clicked under the layer switcher or beside the legend: its popup moves clear of every control;
    opening "Hvorfor" keeps the popup's title on screen."""
    from constraints.publish import OBJECTION_RISK
    from layers.gpkg_store import GeoPackageStore
    from tests.maps.test_browser import latlon

    store = GeoPackageStore(demo_workspace)
    risk = store.read_frame(store.get_layer(OBJECTION_RISK).current)
    zone = risk[risk["objection_risk"] == "RED"].sort_values("area_m2").iloc[-1]
    lat, lon = latlon(zone.geometry)
    w = Watched(browser)
    try:
        w.open(f"{server}/maps/planner")
        switcher = w.page.locator(".leaflet-control-layers")
        assert "leaflet-control-layers-expanded" not in switcher.get_attribute("class")  # collapsed at first
        switcher.hover()
        assert "leaflet-control-layers-expanded" in switcher.get_attribute("class")  # opens on hover
        w.page.mouse.move(2, 430)
        size = w.page.evaluate("() => { const s = GeoMaps.map.getSize(); return [s.x, s.y]; }")
        for name, (px, py) in (("top-right", (size[0] - 90, 70)), ("by-the-legend", (size[0] - 300, size[1] - 40))):
            w.page.evaluate("""([lat, lon, px, py]) => { const m = GeoMaps.map; m.closePopup();
                m.setView([lat, lon], 15, {animate: false}); const c = m.getSize().divideBy(2);
                m.panBy([c.x - px, c.y - py], {animate: false}); }""", [lat, lon, px, py])
            w.page.wait_for_timeout(200)
            box = w.page.evaluate("() => GeoMaps.map.getContainer().getBoundingClientRect().toJSON()")
            w.page.mouse.click(box["left"] + px, box["top"] + py)
            w.page.wait_for_selector(".leaflet-popup-content h3", timeout=5_000)
            w.page.wait_for_timeout(400)  # the pan that makes room
            seen = w.page.evaluate(UNCOVERED)
            assert seen["bad"] == [], (name, seen["bad"][:5])
            w.shot(f"planner-popup-{name}")
        # "Hvorfor" (why) opened in the popup: the popup re-measures, its title stays on screen and uncovered
        summary = w.page.locator(".leaflet-popup-content details summary").first
        summary.click()
        w.page.wait_for_timeout(400)
        assert w.page.locator(".leaflet-popup-content details[open]").count() == 1
        seen = w.page.evaluate(UNCOVERED)
        assert seen["bad"] == [] and 0 <= seen["titleTop"] < seen["titleBottom"] <= seen["height"], seen
        w.shot("planner-popup-why")
        w.assert_clean()
    finally:
        w.close()
