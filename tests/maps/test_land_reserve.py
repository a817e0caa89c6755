"""Land reserves at a glance on the full synthetic demo: one definition of area across the investor map's
legend, the land-reserve page, JSON, both CSVs and the XLSX; content negotiation; Norwegian Excel format."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from constraints.publish import BUSINESS_AREAS
from constraints.reserve import land_reserve
from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from maps.i18n import format_number
from maps.investor import investor_sites


@pytest.fixture(scope="module")
def client(demo_workspace: Path) -> Iterator[TestClient]:
    app = create_app(Settings(workspace=demo_workspace, seed_demo=False, analysis_refresh_seconds=0,
                              basemap_url=""))
    with TestClient(app) as c:
        yield c


def test_one_definition_of_reserve_area(client: TestClient, demo_workspace: Path) -> None:
    store = GeoPackageStore(demo_workspace)
    business = store.read_frame(store.get_layer(BUSINESS_AREAS).current)
    reserves = business[business["status"] == "reserve"]
    # the demo has reserves partly covered by in-force zoning plans: zone area and counted area differ
    assert reserves["area_daa"].sum() > reserves["counted_m2"].sum() / 1000 + 10
    region = client.get("/analyses/land-reserve", headers={"accept": "application/json"}).json()["region"]
    sites = investor_sites(store)
    assert sites is not None
    for status, column in (("reserve", "reserve_daa"), ("pre-approved", "pre_approved_daa")):
        on_map = float(sites.loc[sites["status"] == status, "area_daa"].sum())
        assert on_map == pytest.approx(region[column], abs=1e-3), status
    page = client.get("/maps/investor").text
    legend = format_number(region["reserve_daa"], 0, "nb")
    assert f"Arealreserve – {legend} daa" in page.replace("\\u00a0", "\u00a0")
    html = client.get("/analyses/land-reserve", headers={"accept": "text/html"}).text
    total = re.search(r'<tr id="lr-total">(.*?)</tr>', html, re.DOTALL).group(1)
    cells = re.findall(r">([^<]*)</th>", total)
    assert cells[2] == format_number(region["reserve_daa"], 1, "nb")  # Sum row, land reserve column


def test_html_for_browsers_json_for_apis(client: TestClient) -> None:
    html = client.get("/analyses/land-reserve", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert html.headers["content-type"].startswith("text/html")
    assert '<html lang="nb">' in html.text and "Arealreserve (daa)" in html.text and "<svg" in html.text
    en = client.get("/analyses/land-reserve?lang=en", headers={"accept": "text/html"}).text
    assert "Land reserve (daa)" in en and "Arealreserve (daa)" not in en
    body = client.get("/analyses/land-reserve", headers={"accept": "application/json"})
    assert body.headers["content-type"] == "application/json"
    assert len(body.json()["municipalities"]) == 7


def test_csv_plain_and_norwegian_excel_agree(client: TestClient, demo_workspace: Path) -> None:
    store = GeoPackageStore(demo_workspace)
    table = land_reserve(store.read_frame(store.get_layer(BUSINESS_AREAS).current))
    plain = list(csv.DictReader(io.StringIO(client.get("/analyses/land-reserve.csv").text)))
    raw = client.get("/analyses/land-reserve.csv?variant=excel-no").content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads æøå right
    assert client.get("/analyses/land-reserve.no.csv").content == raw
    excel = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert list(excel[0])[:4] == ["Kommunenummer", "Kommune", "Ferdig regulert (daa)", "Arealreserve (daa)"]
    for p, e, (_, row) in zip(plain, excel, table.iterrows(), strict=True):
        assert p["kommunenavn"] == e["Kommune"] == row["kommunenavn"]
        assert float(p["reserve_daa"]) == float(e["Arealreserve (daa)"].replace(",", ".")) == round(
            row["reserve_daa"], 1)
        assert "." not in e["Netto tilgjengelig (daa)"]  # decimal comma
    bad = client.get("/analyses/land-reserve.csv?variant=excel")
    assert bad.status_code == 400 and bad.json()["parameter"] == "variant"


def test_xlsx_has_the_same_numbers(client: TestClient) -> None:
    from openpyxl import load_workbook

    doc = client.get("/analyses/land-reserve?f=json").json()
    wb = load_workbook(io.BytesIO(client.get("/analyses/land-reserve.xlsx").content))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][3] == "Arealreserve (daa)"
    by_name = {r[1]: r for r in rows[1:-1]}
    for m in doc["municipalities"]:
        assert by_name[m["kommunenavn"]][3] == pytest.approx(m["reserve_daa"], abs=1e-3)
    assert rows[-1][1] == "Sum" and rows[-1][3] == pytest.approx(doc["region"]["reserve_daa"], abs=1e-3)
