"""The site check for people: outcome sentences true for each result, AR5 breakdown, the HTML report, the
planner panel (fragment + hit areas), uploads in four formats and the PDF (pdftotext, pdftoppm).

Synthetic workspace near Kongsberg in EPSG:25832 (hand-computed): the site is a 200 m x 100 m box (20 daa);
AR5 fulldyrka (21) covers its eastern half (10 daa), forest (30) lies beyond; a stream runs 150 m north of
the site (outside the 100 m belt, inside the 200 m band: YELLOW "near"); no flood layer (not mapped).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import LineString, box, mapping

from constraints.ar5 import ar5_breakdown
from constraints.inputs import ConstraintLayer
from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.crs import transformer
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta

X0, Y0 = 536_000.0, 6_614_000.0
SITE = box(X0, Y0, X0 + 200, Y0 + 100)


def _publish(store: GeoPackageStore, layer_id: str, kind: LayerKind, frame: gpd.GeoDataFrame) -> None:
    store.publish(layer_id, frame, LayerMeta(kind, layer_id, "synthetic test layer"))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    store = GeoPackageStore(tmp_path / "ws")
    _publish(store, "kommuner", LayerKind.municipality, gpd.GeoDataFrame(
        {"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"]},
        geometry=[box(X0 - 5000, Y0 - 5000, X0 + 5000, Y0 + 5000)], crs=25832))
    _publish(store, "arealplan", LayerKind.zoning, gpd.GeoDataFrame(
        {"arealformal": [1300], "plantype": ["kommuneplan"], "planstatus": [3], "arealbruksstatus": [2],
         "kommunenummer": ["3303"]}, geometry=[SITE], crs=25832))
    _publish(store, "ar5", LayerKind.farmland, gpd.GeoDataFrame(
        {"arealtype": [21, 30]}, geometry=[box(X0 + 100, Y0 - 100, X0 + 300, Y0 + 100),
                                          box(X0 - 500, Y0 + 100, X0 + 1500, Y0 + 1500)], crs=25832))
    _publish(store, "elver", LayerKind.watercourse, gpd.GeoDataFrame(
        {"navn": ["Testbekken"]}, geometry=[LineString([(X0 - 500, Y0 + 250), (X0 + 700, Y0 + 250)])], crs=25832))
    app = create_app(Settings(workspace=tmp_path / "ws", seed_demo=False, analysis_refresh_seconds=0))
    with TestClient(app) as c:
        yield c


def _crs84(geom: object) -> dict:
    tr = transformer(25832, 4326)
    import shapely

    return mapping(shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))))


def _rule(report: dict, rule_id: str) -> dict:
    return next(r for t in report["themes"] for r in t["rules"] if r["rule_id"] == rule_id)


def test_ar5_breakdown_sums_to_the_site() -> None:
    frame = gpd.GeoDataFrame({"arealtype": [21, 21, 30]},
                             geometry=[box(0, 0, 50, 100), box(40, 0, 100, 100), box(100, 0, 300, 100)],
                             crs=25832)  # two overlapping 21 polygons: counted once (union)
    out = ar5_breakdown(box(0, 0, 200, 100), [ConstraintLayer("ar5", LayerKind.farmland, frame)])
    rows = {r.code: r for r in out.rows}
    assert rows[21].area_m2 == pytest.approx(10_000) and rows[21].share == pytest.approx(0.5)
    assert rows[30].area_daa == pytest.approx(10.0)
    assert out.dyrka_jord_m2 == pytest.approx(10_000)
    gap = ar5_breakdown(box(-100, 0, 200, 100), [ConstraintLayer("ar5", LayerKind.farmland, frame)])
    assert {r.code: r.area_m2 for r in gap.rows}[None] == pytest.approx(10_000)  # outside every polygon


def test_json_report_has_true_sentences_and_ar5(client: TestClient) -> None:
    r = client.post("/analyses/site-check", json=_crs84(SITE))
    assert r.status_code == 200
    report = r.json()
    farm = _rule(report, "farmland-jordvern")
    assert (farm["risk"], farm["outcome"]) == ("RED", "inside")
    assert farm["hit_area_m2"] == pytest.approx(10_000, rel=1e-3)
    # the rule's own sentence for the outcome (constraints/default_rules.yaml), with the measured overlap
    assert "området omfatter 10 daa dyrka jord" in farm["text_nb"] and "pbl § 5-4" in farm["text_nb"]
    water = _rule(report, "watercourse-belt")
    assert (water["risk"], water["outcome"]) == ("YELLOW", "near")
    assert water["distance_m"] == pytest.approx(150, abs=0.5)
    assert "150 m" in water["text_nb"] and "innenfor" not in water["text_nb"].split(":")[0]
    assert "150 m away, beyond the 100 m limit but within 200 m" in water["text_en"]
    flood = _rule(report, "flood-zone")
    assert (flood["risk"], flood["outcome"]) == ("NOT_MAPPED", "not_mapped")
    assert "ikke kartlagt" in flood["text_nb"]
    titles = [r["rule_title_nb"] for t in report["themes"] for r in t["rules"]]
    assert len(titles) == len(set(titles))  # rows distinct by title
    ar5 = {row["code"]: row for row in report["ar5"]["rows"]}
    assert ar5[21]["area_daa"] == pytest.approx(10.0, rel=1e-3)
    assert ar5[30]["area_daa"] == pytest.approx(0.0, abs=1e-6) if 30 in ar5 else True
    assert report["ar5"]["dyrka_jord_daa"] == pytest.approx(10.0, rel=1e-3)


def test_html_report_in_each_language(client: TestClient) -> None:
    nb = client.post("/analyses/site-check?f=html", json=_crs84(SITE)).text
    en = client.post("/analyses/site-check?f=html&lang=en", json=_crs84(SITE)).text
    assert '<html lang="nb">' in nb and "Dyrka jord" in nb and "Hva nå" in nb
    visible = re.sub(r"<[^>]+>", " ", nb)  # text a reader sees (ids in attributes stay English)
    for english in ("farmland", "mapped", "watercourse", "Not mapped", "Inside", "(default)", "Site "):
        assert english not in visible
    assert '<html lang="en">' in en and "What to do next" in en and "Cultivated land" in en
    assert "Hva nå" not in en


def test_panel_returns_fragment_and_hit_areas(client: TestClient) -> None:
    body = client.post("/analyses/site-check?f=panel", json=_crs84(SITE)).json()
    assert body["html"].startswith('<section class="sr-report"')
    hits = {f["properties"].get("rule_id"): f for f in body["hits"]["features"]}
    assert hits[None]["properties"]["role"] == "site"
    assert set(hits) == {None, "farmland-jordvern"}  # the stream is near, not inside: no hit area
    assert hits["farmland-jordvern"]["properties"]["risk"] == "RED"


def test_get_sends_browsers_to_the_planner(client: TestClient) -> None:
    r = client.get("/analyses/site-check?lang=en", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/maps/planner?lang=en")


def _upload(client: TestClient, name: str, data: bytes, **form: str) -> dict:
    r = client.post("/analyses/site-check/upload", files={"file": (name, data)}, data=form)
    assert r.status_code == 200, r.text
    return r.json()


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"navn": ["Liten tomt", "Tomta"]},
                            geometry=[box(X0 + 2000, Y0, X0 + 2050, Y0 + 20), SITE], crs=25832)


@pytest.mark.parametrize("fmt", ["GeoJSON", "zip-shapefile", "GPKG", "GML"])
def test_upload_each_format_and_choose_a_polygon(client: TestClient, tmp_path: Path, fmt: str) -> None:
    frame = _frame()
    if fmt == "GeoJSON":
        name, data = "tomt.geojson", frame.to_crs(4326).to_json().encode()
    elif fmt == "GPKG":
        frame.to_file(tmp_path / "tomt.gpkg", driver="GPKG")
        name, data = "tomt.gpkg", (tmp_path / "tomt.gpkg").read_bytes()
    elif fmt == "GML":
        frame.to_file(tmp_path / "tomt.gml", driver="GML")
        name, data = "tomt.gml", (tmp_path / "tomt.gml").read_bytes()
    else:
        frame.to_file(tmp_path / "tomt.shp")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for part in tmp_path.glob("tomt.*"):
                zf.write(part, part.name)
        name, data = "tomt.zip", buf.getvalue()
    first = _upload(client, name, data)
    assert [c["label"] for c in first["candidates"]] == ["Liten tomt", "Tomta"]
    assert first["chosen"] == 0 and first["area_m2"] == pytest.approx(1_000, rel=1e-3)
    second = _upload(client, name, data, index="1")
    assert second["area_daa"] == pytest.approx(20.0, rel=1e-3)
    assert _rule(second, "farmland-jordvern")["hit_area_m2"] == pytest.approx(10_000, rel=1e-3)


def test_upload_errors_name_the_fix(client: TestClient) -> None:
    r = client.post("/analyses/site-check/upload", files={"file": ("tomt.docx", b"x")})
    assert r.status_code == 400 and "GeoJSON" in r.json()["description"]
    lines = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=25832).to_json().encode()
    r = client.post("/analyses/site-check/upload", files={"file": ("l.geojson", lines)})
    assert r.status_code == 400 and "no polygons" in r.json()["description"]
    frame = _frame().to_crs(4326).to_json().encode()
    r = client.post("/analyses/site-check/upload", files={"file": ("t.geojson", frame)}, data={"index": "5"})
    assert r.status_code == 400 and "past the file's 2 polygons" in r.json()["description"]


def _need_poppler() -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("the PDF tests need poppler-utils in CI (bash scripts/system-deps.sh)")
        pytest.skip("poppler-utils is not installed (apt-get install poppler-utils)")


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_pdf_text_and_map_image(client: TestClient, tmp_path: Path, lang: str) -> None:
    _need_poppler()
    r = client.post(f"/analyses/site-check.pdf?lang={lang}", json=_crs84(SITE))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(r.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    if lang == "nb":
        assert "Arealanalyse av tomt" in text and "området omfatter 10 daa dyrka jord" in text
        assert "Fulldyrka jord" in text and "Kongsberg" in text
    else:
        assert "Site check" in text and "10 daa of cultivated land" in " ".join(text.split())
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
                   check=True)
    from PIL import Image

    page = np.asarray(Image.open(next(tmp_path.glob("p*.png"))).convert("RGB")).astype(int)
    # the RED badge (#b3261e) and the RED hit area drawn in the map image are on page 1
    red = (abs(page[..., 0] - 0xb3) < 40) & (page[..., 1] < 90) & (page[..., 2] < 90)
    assert red.sum() > 50
