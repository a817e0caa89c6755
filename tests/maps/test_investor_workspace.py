"""The investor workspace, fact sheets, comparison sheets and exports, in a real headless Chromium against a
live ``geo-service serve`` on the demo workspace with its site register (synthetic demo data): the list and the
map match the search API, the share link reproduces the state, the PDF holds the site's figures in both languages
and shows the map, the CSVs open with the right columns, and nothing is requested from outside the machine."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layers.gpkg_store import GeoPackageStore
from sites.config import load_sites_config
from sites.publish import refresh_sites
from tests.browser import ARTIFACTS, PageWatch
from tests.servers import serve_workspace

QUERY = "min.net_available_daa=20&in.kommunenummer=3303,4005&score=population_45min:higher:60&score=main_road_km:lower:40"
READY = "() => window.InvestorWorkspace && InvestorWorkspace.state.ready"
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def sites_workspace(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo workspace with the site register computed (synthetic demo data)."""
    path = tmp_path_factory.mktemp("investor") / "demo"
    shutil.copytree(demo_workspace, path)
    store = GeoPackageStore(path)
    refresh_sites(store, load_sites_config(None))
    return path


@pytest.fixture(scope="module")
def server(sites_workspace: Path) -> Iterator[str]:
    env = {"GEO_SERVICE_BASEMAP_URL": "", "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0"}
    with serve_workspace(sites_workspace, sites_workspace.parent / "serve.log", env=env) as url:
        yield url


@pytest.fixture(scope="module", autouse=True)
def record_times() -> Iterator[None]:
    """The measured times go to test-artifacts/investor-times.json after the module."""
    yield
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "investor-times.json").write_text(json.dumps(TIMES, indent=2), encoding="utf-8")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _api(server: str, query: str) -> dict[str, Any]:
    return json.loads(_get(f"{server}/sites/search?{query}&limit=100"))


def test_list_and_map_match_the_api_and_the_link_reproduces_them(browser: Any, server: str) -> None:
    api = _api(server, QUERY)
    assert api["numberMatched"] > 5
    page = browser.new_page(viewport={"width": 1024, "height": 768})  # a tablet
    watch = PageWatch(page)
    started = time.monotonic()
    page.goto(f"{server}/maps/investor?{QUERY}")
    page.wait_for_function(READY, timeout=60_000)
    TIMES["workspace_first_render_s"] = round(time.monotonic() - started, 3)
    ws = page.evaluate("() => InvestorWorkspace.state")
    TIMES["search_round_trip_ms"] = round(ws["searchMs"], 1)
    assert ws["matched"] == api["numberMatched"]
    assert ws["listed"] == [f["id"] for f in api["features"]]
    items = page.locator("#iw-results li")
    assert items.count() == len(api["features"])
    first = api["features"][0]
    assert items.first.locator(".iw-name").inner_text() == (first["properties"]["navn"] or first["id"])
    # the panel shows the criteria from the URL
    assert page.locator("input[name='min.net_available_daa']").input_value() == "20"
    assert page.locator("input[name='w.population_45min']").input_value() == "60"
    # hovering a result highlights its marker; clicking selects it and opens its card beside the panel
    items.nth(1).hover()
    assert page.evaluate("() => InvestorWorkspace.state.highlighted") == api["features"][1]["id"]
    items.first.click()
    page.wait_for_selector(".leaflet-popup .iw-card")
    panel = page.locator("#iw-panel").bounding_box()
    popup = page.locator(".leaflet-popup-content-wrapper").bounding_box()
    assert popup["x"] >= panel["x"] + panel["width"], "the card must not be hidden by the panel"
    assert popup["y"] >= 0 and popup["x"] + popup["width"] <= 1024
    assert f"sel={first['id']}" in page.url
    page.screenshot(path=str(ARTIFACTS / "investor-workspace.png"))
    # the share link is the page's own URL; opening it reproduces list, selection and language
    page.click("#iw-share")
    page.wait_for_function("() => InvestorWorkspace.state.shared")
    shared = page.evaluate("() => InvestorWorkspace.state.shared")
    other = browser.new_page(viewport={"width": 1280, "height": 860})
    watch2 = PageWatch(other)
    other.goto(shared)
    other.wait_for_function(READY, timeout=60_000)
    again = other.evaluate("() => InvestorWorkspace.state")
    assert again["listed"] == ws["listed"] and again["selected"] == first["id"]
    watch.assert_clean()
    watch2.assert_clean()
    other.close()
    page.close()


def test_changing_a_criterion_searches_again_and_english(browser: Any, server: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    watch = PageWatch(page)
    page.goto(f"{server}/maps/investor?{QUERY}&lang=en")
    page.wait_for_function(READY, timeout=60_000)
    assert page.locator("#iw-panel legend").first.inner_text() == "Criteria"
    before = page.evaluate("() => InvestorWorkspace.state.searches")
    page.fill("input[name='min.substation_free_mw']", "10")
    page.wait_for_function(f"() => InvestorWorkspace.state.searches > {before}")
    ws = page.evaluate("() => InvestorWorkspace.state")
    api = _api(server, ws["lastQuery"])
    assert "min.substation_free_mw=10" in ws["lastQuery"] and ws["listed"] == [f["id"] for f in api["features"]]
    assert ws["matched"] == api["numberMatched"]
    # a filter that removes everything says so
    page.fill("input[name='min.net_available_daa']", "999999")
    page.wait_for_function("() => InvestorWorkspace.state.matched === 0")
    assert page.locator("#iw-results li").inner_text() == "No site matches the criteria."
    watch.assert_clean()
    page.close()


def test_drive_time_isochrone_for_the_selected_site(browser: Any, server: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    watch = PageWatch(page)
    page.goto(f"{server}/maps/investor?{QUERY}")
    page.wait_for_function(READY, timeout=60_000)
    page.locator("#iw-results li").first.click()
    page.click(".iw-card .iw-iso")
    page.wait_for_function("() => InvestorWorkspace.state.isochrone", timeout=60_000)
    assert page.evaluate("() => InvestorWorkspace.state.isochrone.bands") == [15, 30, 45]
    watch.assert_clean()
    page.close()


def _pdftotext(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


def _need_poppler() -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("poppler-utils (pdftotext, pdftoppm) must be installed in CI (scripts/system-deps.sh)")
        pytest.skip("poppler-utils is not installed")


def test_fact_sheet_pdf_in_both_languages(browser: Any, server: str, tmp_path: Path) -> None:
    _need_poppler()
    site = _api(server, QUERY)["features"][0]
    props = site["properties"]
    started = time.monotonic()
    nb = _get(f"{server}/sites/{site['id']}/factsheet.pdf")
    TIMES["factsheet_pdf_cold_s"] = round(time.monotonic() - started, 3)
    started = time.monotonic()
    assert _get(f"{server}/sites/{site['id']}/factsheet.pdf") == nb
    TIMES["factsheet_pdf_cached_s"] = round(time.monotonic() - started, 3)
    en = _get(f"{server}/sites/{site['id']}/factsheet.pdf?lang=en")
    text_nb, text_en = _pdftotext(nb), _pdftotext(en)
    daa_nb = f"{props['net_available_daa']:.1f}".replace(".", ",")
    for text, words in ((text_nb, ["Faktaark", "Innsigelsesrisiko", "netto ledig areal", f"{daa_nb} daa",
                                    "SYNTETISKE DEMODATA", "Datakilder og versjoner"]),
                        (text_en, ["Fact sheet", "Objection risk", "net available area",
                                   f"{props['net_available_daa']:.1f} daa", "SYNTHETIC DEMO DATA"])):
        for word in words:
            assert word in text, word
    assert (props["navn"] or site["id"]) in text_nb
    pages = int(next(line.split()[-1] for line in subprocess.run(["pdfinfo", "-"], input=nb, capture_output=True,
                                                                  check=True).stdout.decode().splitlines()
                     if line.startswith("Pages:")))
    assert 1 <= pages <= 2
    (tmp_path / "sheet.pdf").write_bytes(nb)
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(tmp_path / "sheet.pdf"),
                    str(tmp_path / "page")], check=True)
    from PIL import Image

    img = np.asarray(Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")).astype(int)
    red = (abs(img[..., 0] - 0xd7) < 40) & (img[..., 1] < 70) & (img[..., 2] < 70)  # the site's red outline
    assert red.sum() > 50, "the map with the site outline must be on page 1"
    html = browser.new_page()
    watch = PageWatch(html)
    html.goto(f"{server}/sites/{site['id']}/factsheet")
    assert html.locator("#site-name").inner_text() == (props["navn"] or site["id"])
    assert html.locator("#synthetic").count() == 1
    watch.assert_clean()
    html.close()


def test_comparison_sheet_marks_the_best_value(browser: Any, server: str) -> None:
    ids = [f["id"] for f in _api(server, QUERY)["features"][:3]]
    page = browser.new_page()
    watch = PageWatch(page)
    page.goto(f"{server}/sites/compare/sheet?ids={','.join(ids)}&lang=en")
    assert page.locator("#compare thead th").count() == 4
    compared = json.loads(_get(f"{server}/sites/compare?ids={','.join(ids)}"))
    row = next(r for r in compared["attributes"] if r["attribute"] == "net_available_daa")
    best = ids.index(row["best"])
    cells = page.locator("#compare tr", has_text="net available area").first.locator("td")
    assert "best" in (cells.nth(best).get_attribute("class") or "")
    watch.assert_clean()
    page.close()
    assert _get(f"{server}/sites/compare/sheet.pdf?ids={','.join(ids)}")[:4] == b"%PDF"


def test_exports_of_the_result_list(server: str) -> None:
    api = _api(server, QUERY)
    plain = _get(f"{server}/sites/search.csv?{QUERY}").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(plain)))
    assert len(rows) == api["numberMatched"]
    assert rows[0]["site_id"] == api["features"][0]["id"] and rows[0]["rank"] == "1"
    assert {"score", "net_available_daa", "kommunenavn", "main_road_km"} <= set(rows[0])
    excel = _get(f"{server}/sites/search.csv?{QUERY}&variant=excel-no")
    assert excel.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(excel.decode("utf-8-sig")), delimiter=";"))
    assert table[0]["site_id"] == rows[0]["site_id"]
    assert table[0]["net_available_daa"] == rows[0]["net_available_daa"].replace(".", ",")
    xlsx = _get(f"{server}/sites/search.xlsx?{QUERY}")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx)).active
    assert sheet["C2"].value == rows[0]["site_id"] and sheet.max_row == len(rows) + 1
    geojson = json.loads(_get(f"{server}/sites/search.geojson?{QUERY}"))
    assert len(geojson["features"]) == len(rows) and geojson["features"][0]["properties"]["rank"] == 1
    gpkg = _get(f"{server}/sites/search.gpkg?{QUERY}")
    assert gpkg[:16] == b"SQLite format 3\x00"


def test_standalone_export_searches_offline(browser: Any, server: str, sites_workspace: Path,
                                            tmp_path: Path) -> None:
    out = tmp_path / "investor.html"
    exe = Path(os.environ.get("VIRTUAL_ENV", "")) / "bin" / "geo-service"
    exe = exe if exe.exists() else Path(__import__("sys").executable).with_name("geo-service")
    subprocess.run([str(exe), "maps", "export", "investor", "-o", str(out), "-w", str(sites_workspace),
                    "--no-basemap"], check=True, capture_output=True)
    api = _api(server, QUERY)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else outside.append(r.url))
    page.goto(f"{out.as_uri()}?{QUERY}")
    page.wait_for_function(READY, timeout=60_000)
    ws = page.evaluate("() => InvestorWorkspace.state")
    assert ws["matched"] == api["numberMatched"] and ws["listed"] == [f["id"] for f in api["features"]]
    assert outside == []
    page.close()
