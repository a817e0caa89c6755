"""The maps in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Each page is loaded from a live ``geo-service serve`` (or from disk, for the export) on the full demo
workspace with the basemap switched off, and must load with zero console errors, zero failed requests and
zero requests to anything but the loopback server. The expected features and tiles are checked from the
page (``GeoMaps.state``) and by counting pixels of the layer colours in a screenshot; popups are opened by
real mouse clicks and the layer control by clicking its checkboxes. Screenshots go to ``test-artifacts/``;
the time to the first full render of each map is printed and written to ``test-artifacts/render-times.json``.

Without Chromium or Playwright these tests skip locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
import shapely

from constraints.publish import BUSINESS_AREAS, OBJECTION_RISK
from constraints.reserve import counted_daa
from layers.crs import transformer
from layers.gpkg_store import GeoPackageStore
from maps.i18n import format_number
from maps.investor import investor_sites
from maps.styles import RISK_FILL, STATUS_COLOUR, ZONE_COLOUR
from tests.browser import require_browser as _require_browser

CHROMIUM = Path(os.environ.get("GEO_SERVICE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORT = {"width": 1280, "height": 860}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WORKSPACE_READY = "() => window.InvestorWorkspace && InvestorWorkspace.state.ready"
READY = "() => window.GeoMaps && GeoMaps.state.ready === true"
RENDER_TIMES: dict[str, dict[str, float]] = {}




@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "render-times.json").write_text(json.dumps(RENDER_TIMES, indent=2), encoding="utf-8")


@pytest.fixture(scope="module")
def server(demo_server: str) -> str:
    """The live demo server (one per test session, shared with the planner workspace tests)."""
    return demo_server


class Watched:
    """A page whose console errors, failed requests, HTTP errors and request hosts are recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} HTTP {r.status}"))

    def open(self, url: str) -> float:
        """Navigate and wait for the first full render; the wall time in ms."""
        start = time.perf_counter()
        self.page.goto(url, timeout=90_000)  # a cold page is built by the server first; slow on a busy machine
        self.page.wait_for_function(READY, timeout=60_000)
        return (time.perf_counter() - start) * 1000

    def state(self) -> dict[str, Any]:
        return self.page.evaluate("() => GeoMaps.state")

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.failed == [], self.failed
        off = [u for u in self.requests
               if urlparse(u).scheme not in ("file", "data", "blob") and urlparse(u).hostname not in LOOPBACK]
        assert off == [], f"requests left the machine: {off[:5]}"

    def shot(self, name: str) -> np.ndarray:
        """Save a screenshot as test-artifacts/NAME.png and return its RGB pixels."""
        from PIL import Image

        ARTIFACTS.mkdir(exist_ok=True)
        data = self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)

    def click_latlon(self, lat: float, lon: float, zoom: float) -> str:
        """Centre the map on a point, click it with the mouse and return the popup's text."""
        self.page.evaluate("([lat, lon, z]) => { GeoMaps.map.setView([lat, lon], z, {animate: false}); }",
                           [lat, lon, zoom])
        self.page.wait_for_timeout(150)  # one paint of the canvas at the new view
        x, y = self.page.evaluate("""([lat, lon]) => {
            const p = GeoMaps.map.latLngToContainerPoint([lat, lon]);
            const r = GeoMaps.map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y]; }""", [lat, lon])
        self.page.mouse.click(x, y)
        popup = self.page.wait_for_selector(".leaflet-popup-content", timeout=5_000)
        self.page.wait_for_timeout(300)  # the popup's fade-in, for the screenshot
        return popup.inner_text()

    def toggle(self, label: str) -> None:
        """Open the (collapsed) layer control and click the checkbox of the layer named ``label``."""
        self.page.hover(".leaflet-control-layers")
        self.page.locator(".leaflet-control-layers-overlays label", has_text=label).locator("input").click()
        self.page.mouse.move(2, VIEWPORT["height"] // 2)  # the pointer leaves: the switcher folds away
        self.page.wait_for_timeout(50)

    def close(self) -> None:
        self.context.close()


def pixels_near(img: np.ndarray, hex_colour: str, tolerance: int = 24) -> int:
    """How many pixels are within ``tolerance`` (per channel) of a colour."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    return int((np.abs(img - rgb).max(axis=2) <= tolerance).sum())


def blended(hex_colour: str, opacity: float, background: str = "#eef2ee") -> str:
    """The colour a translucent fill shows over the page background."""
    c = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    b = np.array([int(background[i:i + 2], 16) for i in (1, 3, 5)])
    mix = np.round(opacity * c + (1 - opacity) * b).astype(int)
    return "#" + "".join(f"{v:02x}" for v in mix)


def latlon(geom: shapely.Geometry) -> tuple[float, float]:
    """A point inside a working-CRS geometry as (lat, lon)."""
    p = shapely.point_on_surface(geom)
    lon, lat = transformer(25832, 4326).transform(p.x, p.y)
    return lat, lon


def _record(name: str, wall_ms: float, state: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    RENDER_TIMES[name] = {"wall_ms": round(wall_ms), "first_render_ms": state["firstRenderMs"]}
    with capsys.disabled():
        print(f"\n[time to first full render] {name}: {state['firstRenderMs']} ms from navigation start "
              f"({wall_ms:.0f} ms wall, goto to ready)")


# ------------------------------------------------------------------------------------------------ investor


def test_investor_map(browser: Any, server: str, demo_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The investor map is the investor workspace once the server has computed the site register: every site
    matches an empty search, the legend totals use the one definition of area, a result opens its card."""
    store = GeoPackageStore(demo_workspace)
    areas = store.read_frame(store.get_layer(BUSINESS_AREAS).current)
    pre_approved_daa = float(counted_daa(areas[areas["status"] == "pre-approved"]).sum())
    with urllib.request.urlopen(f"{server}/sites/search?limit=1", timeout=60) as response:
        matched = json.load(response)["numberMatched"]
    w = Watched(browser)
    try:
        wall = w.open(f"{server}/maps/investor")
        w.page.wait_for_function(WORKSPACE_READY, timeout=60_000)
        state = w.state()
        _record("investor (cold: page built by the server)", wall, state, capsys)
        layers = state["layers"]
        assert layers["municipalities"]["features"] == 7 and layers["roads"]["features"] > 0
        workspace = w.page.evaluate("() => InvestorWorkspace.state")
        assert workspace["matched"] == matched > 500  # no criterion: every site matches
        assert w.page.locator("#gm-card h1").inner_text() == "Ledige næringsarealer i Kongsbergregionen"
        legend = w.page.locator("#gm-legend").inner_text()
        assert f"Ferdig regulert – {format_number(pre_approved_daa, 0, 'nb')} daa" in legend
        img = w.shot("investor-nb")
        assert pixels_near(img, STATUS_COLOUR["pre-approved"]) > 200  # the matching sites' symbols
        first = w.page.locator("#iw-results li").first
        name = first.locator(".iw-name").inner_text()
        first.click()
        card = w.page.locator(".leaflet-popup .iw-card")
        card.wait_for()
        assert card.locator("h3").inner_text() == name and "Faktaark" in card.inner_text()
        w.shot("investor-nb-card")
        w.assert_clean()
        warm = w.open(f"{server}/maps/investor")  # the page is cached now
        w.page.wait_for_function(WORKSPACE_READY, timeout=60_000)
        _record("investor (warm: cached page)", warm, w.state(), capsys)
        w.assert_clean()
    finally:
        w.close()


def test_investor_map_in_english(browser: Any, server: str) -> None:
    w = Watched(browser)
    try:
        w.open(f"{server}/maps/investor?lang=en")
        w.page.wait_for_function(WORKSPACE_READY, timeout=60_000)
        assert w.page.locator("#gm-card h1").inner_text() == "Available business land in Kongsbergregionen"
        assert w.page.locator("#iw-panel legend").first.inner_text() == "Criteria"
        assert "Land reserve" in w.page.locator("#gm-legend").inner_text()
        assert w.page.locator("#gm-lang").inner_text() == "Norsk"
        w.page.locator("#iw-results li").first.click()
        card = w.page.locator(".leaflet-popup .iw-card")
        card.wait_for()
        assert "Fact sheet" in card.inner_text() and "Show drive time" in card.inner_text()
        w.shot("investor-en-card")
        w.page.locator("#gm-lang").click()  # back to bokmål
        w.page.wait_for_function(READY, timeout=60_000)
        assert w.page.locator("#gm-card h1").inner_text() == "Ledige næringsarealer i Kongsbergregionen"
        w.assert_clean()
    finally:
        w.close()


# ------------------------------------------------------------------------------------------------- planner


def _top_overlap(risk: Any) -> tuple[float, float, str, str]:
    """A point well inside two overlapping zones of different risk classes (a kommuneplan area and a
    reguleringsplan area over it): (lat, lon, the worse class, the other class)."""
    geoms = risk.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="overlaps")
    order = {r: i for i, r in enumerate(("RED", "YELLOW", "NOT_MAPPED", "GREEN"))}
    cls = risk["objection_risk"].to_numpy()
    differ = (cls[left] != cls[right]) & (left < right)
    left, right = left[differ], right[differ]
    cores = shapely.buffer(shapely.intersection(geoms[left], geoms[right]), -60)  # 3 px from every edge at z13
    areas = shapely.area(cores)
    k = int(np.argmax(areas)) if len(areas) else -1
    best = None if k < 0 or areas[k] <= 0 else (areas[k], cores[k], cls[left[k]], cls[right[k]])
    assert best is not None, "the demo has overlapping plans of different risk"
    point = shapely.point_on_surface(best[1])
    here = sorted(risk["objection_risk"].iloc[tree.query(point, predicate="intersects")], key=order.__getitem__)
    lat, lon = latlon(point)
    return lat, lon, here[0], next(c for c in (best[2], best[3]) if c != here[0])


def _pixel(w: Watched, lat: float, lon: float) -> np.ndarray:
    x, y = w.page.evaluate("""([lat, lon]) => { const p = GeoMaps.map.latLngToContainerPoint([lat, lon]);
        const r = GeoMaps.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""",
                           [lat, lon])
    return w.shot("planner-pixel")[round(y), round(x)]


def _swatches(w: Watched) -> dict[str, dict[str, Any]]:
    """Each legend row shown, by layer: the swatch's computed colours and the layer's drawn style now."""
    rows = w.page.evaluate("""() => [...document.querySelectorAll('#gm-legend .gm-entry[data-layer]')]
        .filter(e => !e.hidden).map(e => { const s = getComputedStyle(e.querySelector('.gm-swatch'));
          return [e.getAttribute('data-layer'), s.backgroundColor, s.borderTopColor, GeoMaps.styleOf(e.getAttribute('data-layer'))]; })""")
    return {key: {"background": bg, "border": border, "style": style} for key, bg, border, style in rows}


def _rgba(text: str) -> tuple[int, int, int, float]:
    parts = [p.strip() for p in text[text.index("(") + 1:-1].split(",")]
    return int(parts[0]), int(parts[1]), int(parts[2]), float(parts[3]) if len(parts) == 4 else 1.0


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_planner_map(browser: Any, server: str, demo_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The region view: four solid risk classes (a plan over another hides it, never a blend), constraints off
    until switched on, a legend of exactly what is drawn in exactly its colours, popups with every finding."""
    store = GeoPackageStore(demo_workspace)
    risk = store.read_frame(store.get_layer(OBJECTION_RISK).current)
    counts = risk["objection_risk"].value_counts().to_dict()
    w = Watched(browser)
    try:
        wall = w.open(f"{server}/maps/planner")
        state = w.state()
        _record("planner (cold: page and its data built by the server)", wall, state, capsys)
        layers = state["layers"]
        for cls in ("RED", "YELLOW", "NOT_MAPPED", "GREEN"):
            assert layers[f"risk-{cls}"]["features"] == counts[cls], cls
            assert layers[f"risk-{cls}"]["loaded"] and layers[f"risk-{cls}"]["visible"]
        # constraints are off at first and not even fetched: no tile, no zone request
        assert not layers["tiles-ar5"]["visible"] and layers["tiles-ar5"]["tilesRequested"] == 0
        assert not layers["zone-watercourse-belt"]["visible"] and not layers["zone-watercourse-belt"]["loaded"]
        assert not any("/tiles/" in u or "/data/zone-" in u for u in w.requests)
        data_requests = [u for u in w.requests if "/maps/planner/data/" in u]
        assert len(data_requests) == 1 and "/data/risk?v=" in data_requests[0]  # one request for four classes

        img = w.shot("planner-nb")
        assert pixels_near(img, RISK_FILL["RED"], tolerance=6) > 200  # solid: the fill colour itself
        shown = _swatches(w)
        assert set(shown) == {"risk-RED", "risk-YELLOW", "risk-NOT_MAPPED", "risk-GREEN", "municipalities"}
        for key, row in shown.items():  # the legend's colours are the drawn style's colours
            style = row["style"]
            if key == "municipalities":
                assert _rgba(row["border"])[:3] == _hex(style["color"])
                continue
            assert _rgba(row["background"]) == (*_hex(style["fillColor"]), style["fillOpacity"]) == \
                (*_hex(RISK_FILL[key[5:]]), 1.0)

        # Where a reguleringsplan area lies over a kommuneplan area of another class, the pixel is the worse
        # class's fill, not a blend of the two (translucent layers used to mix into mud)
        lat, lon, top, under = _top_overlap(risk)
        w.page.evaluate("([lat, lon]) => GeoMaps.map.setView([lat, lon], 13, {animate: false})", [lat, lon])
        w.page.wait_for_timeout(300)
        pixel = _pixel(w, lat, lon)
        assert np.abs(pixel - np.array(_hex(RISK_FILL[top]))).max() <= 3, (pixel.tolist(), top, under)

        # From the detail zoom on, the zones are outlines over a light fill; the legend follows, and the
        # drawn colour is the swatch's colour over the map background
        w.page.evaluate("([lat, lon]) => GeoMaps.map.setView([lat, lon], 15, {animate: false})", [lat, lon])
        w.page.wait_for_timeout(300)
        swatch = _rgba(_swatches(w)[f"risk-{top}"]["background"])
        assert swatch[3] == pytest.approx(0.35)
        expected = np.array(_hex(blended("#{:02x}{:02x}{:02x}".format(*swatch[:3]), swatch[3])))
        assert np.abs(_pixel(w, lat, lon) - expected).max() <= 40  # the plan under it shows through a little

        # Around Kongsberg town the RED zones fill the screen; the layer control switches them off and on.
        w.page.evaluate("() => { GeoMaps.map.setView([59.67, 9.65], 13, {animate: false}); }")
        w.page.wait_for_timeout(300)
        town = pixels_near(w.shot("planner-nb-kongsberg"), RISK_FILL["RED"], tolerance=6)
        assert town > 5_000, town
        w.toggle("Høy risiko for innsigelse")
        assert w.state()["layers"]["risk-RED"]["visible"] is False
        assert "risk-RED" not in _swatches(w)  # the legend lists only what is drawn
        off = pixels_near(w.shot("planner-nb-kongsberg-red-off"), RISK_FILL["RED"], tolerance=6)
        assert off < town // 10, (town, off)
        w.toggle("Høy risiko for innsigelse")
        assert w.state()["layers"]["risk-RED"]["visible"] is True

        # A constraint zone switched on is fetched then, drawn as a dashed outline, and gets its legend row
        w.toggle("Byggeforbudssone langs vassdrag")
        w.page.wait_for_function("() => GeoMaps.state.layers['zone-watercourse-belt'].loaded", timeout=60_000)
        assert w.state()["layers"]["zone-watercourse-belt"]["features"] == 7  # one belt per municipality
        belt = _swatches(w)["zone-watercourse-belt"]
        assert belt["style"]["fillOpacity"] == 0 and belt["style"]["dashArray"]
        assert _rgba(belt["border"])[:3] == _hex(belt["style"]["color"]) == _hex(ZONE_COLOUR["watercourse"])
        w.toggle("Byggeforbudssone langs vassdrag")

        # The largest RED zone: its popup lists each finding with authority and legal basis.
        zone = risk[risk["objection_risk"] == "RED"].sort_values("area_m2").iloc[-1]
        findings = [f for f in json.loads(zone["findings"]) if f["risk"] in ("RED", "YELLOW")]
        text = w.click_latlon(*latlon(zone.geometry), zoom=15)
        w.shot("planner-nb-popup")
        assert "Rød – sannsynlig innsigelse" in text
        assert f"{format_number(zone['area_daa'], 1, 'nb')} daa" in text
        for f in findings:
            assert f["authority"] in text and f["legal_basis"] in text, f["rule_id"]
        items = w.page.locator(".leaflet-popup-content li.gm-finding")
        assert items.count() == len(json.loads(zone["findings"]))
        w.assert_clean()

        warm = w.open(f"{server}/maps/planner")
        _record("planner (warm: cached page and data)", warm, w.state(), capsys)
        w.assert_clean()
    finally:
        w.close()


# ------------------------------------------------------------------------------------------------- preview


def test_layer_preview_inline_and_tiles(browser: Any, server: str, demo_workspace: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    store = GeoPackageStore(demo_workspace)
    kommuner = store.read_frame(store.get_layer("kommuner").current)
    w = Watched(browser)
    try:
        w.open(f"{server}/collections/kommuner/map")
        assert w.state()["layers"]["layer"] == {"type": "geojson", "features": 7, "visible": True}
        kongsberg = kommuner[kommuner["kommunenavn"] == "Kongsberg"].iloc[0]
        text = w.click_latlon(*latlon(kongsberg.geometry), zoom=11)
        assert "kommunenavn" in text and "Kongsberg" in text and "3303" in text
        w.shot("preview-kommuner")

        wall = w.open(f"{server}/collections/ar5/map?lang=en")  # 41 245 polygons: vector tiles
        state = w.state()
        _record("preview ar5 (41 245 polygons as vector tiles)", wall, state, capsys)
        tiles = state["layers"]["layer"]
        assert tiles["type"] == "tiles" and tiles["tilesLoaded"] >= 4 and tiles["featuresDrawn"] > 100
        img = w.shot("preview-ar5")
        assert pixels_near(img, blended("#bf8f00", 0.35), tolerance=25) > 1_000
        assert "Layer preview: ar5" in w.page.locator("#gm-card h1").inner_text()
        w.assert_clean()
    finally:
        w.close()


# -------------------------------------------------------------------------------------------------- export


def test_exported_maps_work_from_disk(browser: Any, demo_workspace: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    exe = Path(sys.executable).with_name("geo-service")
    store = GeoPackageStore(demo_workspace)
    areas = store.read_frame(store.get_layer(BUSINESS_AREAS).current)
    w = Watched(browser)
    try:
        for name in ("investor", "planner"):
            out = tmp_path / f"{name}.html"
            subprocess.run([str(exe), "maps", "export", name, "-o", str(out), "-w", str(demo_workspace),
                            "--no-basemap", "--no-refresh"], check=True, capture_output=True)
            wall = w.open(out.as_uri())
            state = w.state()
            _record(f"{name} export (file://, everything inline)", wall, state, capsys)
            assert [u for u in w.requests if u != out.as_uri()] == []  # nothing but the file itself
            w.shot(f"export-{name}")
            if name == "investor":
                assert state["layers"]["sites-pre-approved"]["features"] == int((areas["status"] == "pre-approved").sum())
                sites = investor_sites(store)
                assert sites is not None
                site = sites.sort_values("area_daa").iloc[-1]
                text = w.click_latlon(*latlon(site.geometry), zoom=15)
                assert f"{format_number(site['area_daa'], 1, 'nb')} daa" in text
            else:
                assert "tiles-ar5" not in state["layers"]
                assert "vises bare i tjenesten" in w.page.locator("#gm-card").inner_text()
            w.requests.clear()
        w.assert_clean()
    finally:
        w.close()
