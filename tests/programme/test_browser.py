"""The programme pages in a real headless Chromium against a live ``geo-service serve`` signed in with a token
from the local identity provider: charts and tables agree with the API, the forms drive the workflow, the
language switch works, and nothing is requested from outside the machine."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import date
from typing import Any

import geopandas as gpd
import pytest
import shapely

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from programme.db import open_database
from programme.demo import seed_capacity, seed_enquiries
from programme.register import EnquiryRegister
from tests.browser import ARTIFACTS, PageWatch
from tests.idp import AUDIENCE, TestIdentityProvider
from tests.servers import serve_workspace

ALL = ["3303", "3334", "3336", "3338", "4005", "4024", "4026"]


@pytest.fixture(scope="module")
def idp() -> Iterator[TestIdentityProvider]:
    with TestIdentityProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, idp: TestIdentityProvider) -> Iterator[str]:
    """A workspace with two SYNTHETIC business areas and two years of synthetic enquiries and capacity."""
    path = tmp_path_factory.mktemp("programme") / "ws"
    store = GeoPackageStore(path)
    business = gpd.GeoDataFrame(
        {"status": ["reserve", "pre-approved"], "kommunenummer": ["3303", "4005"], "kommunenavn": ["Kongsberg",
                                                                                                 "Notodden"],
         "counted_m2": [31_500.0, 12_000.0], "farmland_m2": [4_000.0, 0.0], "conflict_of": [None, None],
         "net_available_daa": [31.5, 12.0]},
        geometry=[shapely.box(536_000, 6_614_000, 536_300, 6_614_105), shapely.box(507_000, 6_604_000,
                                                                                   507_120, 6_604_100)],
        crs="EPSG:25832")
    store.publish("business-areas", business, LayerMeta(LayerKind.other, "Næringsarealer (syntetisk)",
                                                        provenance={"as_of": "2025-01-10T12:00:00+00:00"}))
    register = EnquiryRegister(open_database(store))
    seed_capacity(register, date(2025, 1, 1), date(2026, 11, 1))
    seed_enquiries(register, date(2025, 1, 6), date(2026, 11, 1), offers=[("business-areas:1", {"status": "reserve"})],
                   layer_versions={"business-areas": 1})
    register.db.close()
    env = {"GEO_SERVICE_OIDC_ISSUER": idp.issuer, "GEO_SERVICE_OIDC_AUDIENCE": AUDIENCE,
           "GEO_SERVICE_BASEMAP_URL": "", "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0"}
    with serve_workspace(path, path.parent / "serve.log", env=env) as url:
        yield url




def _api(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_dashboard_matches_the_api(browser: Any, server: str, idp: TestIdentityProvider) -> None:
    token = idp.token("sara", ["editor"], ALL)
    api = _api(f"{server}/programme/indicators?from=2025-Q1&to=2026-Q3", token)
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"Authorization": f"Bearer {token}"})
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(f"{server}/programme?from=2025-Q1&to=2026-Q3", wait_until="load")
    assert page.locator(".chart svg").count() == 5
    rows = page.locator("#table-enquiries tbody tr")
    region = [r for r in api["enquiries"] if r["kommunenummer"] == "region"]
    assert rows.count() == len(region) == 7
    for k, expected in enumerate(region):
        cells = rows.nth(k).locator("td").all_inner_texts()
        assert cells[0] == expected["quarter"]
        assert int(cells[1]) == expected["received"] and int(cells[3]) == expected["established"]
    land = page.locator("#table-land tbody tr").first.locator("td").all_inner_texts()
    assert land[1] == "31,5" and land[3] == "12,0"  # reserve and pre-approved daa, Norwegian decimals
    # the enquiries chart labels each quarter's received count
    chart_text = [t.strip() for t in page.locator("#chart-enquiries svg text").all_text_contents()]
    assert str(region[0]["received"]) in chart_text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "programme-dashboard.png"), full_page=True)
    page.click("a.lang")
    page.wait_for_load_state("load")
    assert page.locator("header h1").inner_text() == "Business programme – follow-up"
    assert "Received" in page.locator("#table-enquiries thead").inner_text()
    watch.assert_clean()
    context.close()


def test_forms_drive_the_workflow(browser: Any, server: str, idp: TestIdentityProvider) -> None:
    token = idp.token("kari", ["editor"], ["3303"])
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(f"{server}/programme/list", wait_until="load")
    page.fill("input[name=company]", "Testfabrikken <b>AS</b> (syntetisk)")
    page.fill("input[name=land_daa]", "25,5")
    page.fill("input[name=jobs]", "40")
    page.click("form[action*='/programme/list?'] button[type=submit]")
    page.wait_for_load_state("load")
    heading = page.locator("#enquiry h2").inner_text()
    assert "Testfabrikken <b>AS</b> (syntetisk)" in heading  # shown literally, not as markup
    assert page.locator("#enquiry b").count() == 0
    enquiry_id = heading.split(" – ")[0]
    assert page.locator("#status").inner_text() == "Ny"
    page.select_option("select[name=status]", "clarifying")
    page.click("form[action*='/status'] button")
    page.wait_for_load_state("load")
    assert page.locator("#status").inner_text() == "Avklaring"
    assert "Ny → Avklaring" in page.locator("#history").inner_text()
    page.fill("form[action*='/offer'] input[name=site_id]", "business-areas:1")
    page.click("form[action*='/offer'] button")
    page.wait_for_load_state("load")
    assert "business-areas v1" in page.locator("#offers").inner_text()
    page.fill("form[action*='/offer'] input[name=site_id]", "business-areas:77")
    page.click("form[action*='/offer'] button")
    page.wait_for_load_state("load")
    assert "no site 'business-areas:77'" in page.locator(".error").inner_text()
    detail = _api(f"{server}/programme/enquiries/{enquiry_id}", token)
    assert detail["needs"]["land_daa"] == 25.5 and detail["status"] == "clarifying"
    watch.assert_clean()
    context.close()


def test_capacity_board_page(browser: Any, server: str, idp: TestIdentityProvider) -> None:
    token = idp.token("sara", ["editor"], ALL)
    board = _api(f"{server}/programme/capacity/board?date=2026-10-01", token)
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(f"{server}/programme/board?date=2026-10-01&lang=en", wait_until="load")
    assert page.locator("#board tbody tr").count() == 7
    notodden = page.locator("#board tr[data-knr='4005'] td").all_inner_texts()
    expected = next(m for m in board["municipalities"] if m["kommunenummer"] == "4005")
    assert notodden[0] == "Notodden" and notodden[3] == f"{expected['capacityHours']:,.1f}"
    texts = page.locator("#suggestions li").all_inner_texts()
    assert texts == ([s["text_en"] for s in board["suggestions"]] or ["No municipality is over capacity now."])
    watch.assert_clean()
    context.close()
