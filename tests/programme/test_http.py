"""The programme over HTTP, signed in with tokens from a local identity provider (tests/idp.py):
access (401/403/404), the workflow (409 for a forbidden step), offers read from the store, exports, the board,
indicators and the board report as PDF (pdftotext)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.idp import AUDIENCE, TestIdentityProvider

ALL = ["3303", "3334", "3336", "3338", "4005", "4024", "4026"]


@pytest.fixture(scope="module")
def idp() -> Iterator[TestIdentityProvider]:
    with TestIdentityProvider() as provider:
        yield provider


@pytest.fixture
def client(tmp_path: Path, idp: TestIdentityProvider) -> Iterator[TestClient]:
    store = GeoPackageStore(tmp_path / "ws")
    business = gpd.GeoDataFrame(  # SYNTHETIC: two business areas near Kongsberg
        {"status": ["reserve", "pre-approved"], "kommunenummer": ["3303", "3303"], "kommunenavn": ["Kongsberg"] * 2,
         "counted_m2": [31_500.0, 12_000.0], "farmland_m2": [4_000.0, 0.0], "conflict_of": [None, None],
         "net_available_daa": [31.5, 12.0], "arealformal": [1300, 1340]},
        geometry=[shapely.box(536_000, 6_614_000, 536_300, 6_614_105), shapely.box(537_000, 6_614_000,
                                                                                   537_120, 6_614_100)],
        crs="EPSG:25832")
    store.publish("business-areas", business, LayerMeta(LayerKind.other, "Næringsarealer (syntetisk)",
                                                        provenance={"inputs": {"arealplan": 3}}))
    settings = Settings(workspace=tmp_path / "ws", seed_demo=False, analysis_refresh_seconds=0,
                        oidc_issuer=idp.issuer, oidc_audience=AUDIENCE)
    with TestClient(create_app(settings)) as c:
        yield c


def _auth(idp: TestIdentityProvider, role: str, municipalities: list[str], subject: str = "kari") -> dict[str, str]:
    return {"Authorization": f"Bearer {idp.token(subject, [role], municipalities)}"}


def _enquiry(**over: object) -> dict[str, object]:
    return {"company": "Sensorhuset AS (syntetisk)", "nace": "C26.5", "lead_municipality": "3303",
            "needs": {"land_daa": 20, "power_mw": 4, "jobs": 60, "preferred_municipalities": ["3303", "4005"]},
            **over}


def test_never_public_and_roles(client: TestClient, idp: TestIdentityProvider) -> None:
    for path in ("/programme/enquiries", "/programme", "/programme/report.pdf", "/programme/capacity/board",
                 "/programme/indicators"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    reader = _auth(idp, "reader", ["3303"])
    assert client.get("/programme/enquiries", headers=reader).json()["numberReturned"] == 0
    r = client.post("/programme/enquiries", json=_enquiry(), headers=reader)
    assert r.status_code == 403 and r.json()["code"] == "Forbidden"
    other = _auth(idp, "editor", ["4005"], "nils")
    r = client.post("/programme/enquiries", json=_enquiry(), headers=other)
    assert r.status_code == 403 and "not for 3303" in r.json()["description"]


def test_workflow_and_visibility(client: TestClient, idp: TestIdentityProvider) -> None:
    kari = _auth(idp, "editor", ["3303"])
    secret = client.post("/programme/enquiries", json=_enquiry(), headers=kari).json()
    public = client.post("/programme/enquiries", json=_enquiry(confidential=False), headers=kari).json()
    year = datetime.now(UTC).year
    assert (secret["id"], secret["status"], secret["created_by"]) == (f"H-{year}-0001", "new", "kari")
    nils = _auth(idp, "editor", ["4005"], "nils")
    assert client.get(f"/programme/enquiries/{secret['id']}", headers=nils).status_code == 404
    assert [e["id"] for e in client.get("/programme/enquiries", headers=nils).json()["enquiries"]] == [public["id"]]
    r = client.post(f"/programme/enquiries/{secret['id']}/status", json={"status": "established", "reason": "x"},
                    headers=kari)
    assert r.status_code == 409 and "cannot go to 'established'" in r.json()["description"]
    for step in ("clarifying", "sites_offered"):
        assert client.post(f"/programme/enquiries/{secret['id']}/status", json={"status": step},
                           headers=kari).json()["status"] == step
    r = client.post(f"/programme/enquiries/{secret['id']}/status", json={"status": "lost"}, headers=kari)
    assert r.status_code == 409 and "needs a reason" in r.json()["description"]
    sales = _auth(idp, "editor", ALL, "sara")
    detail = client.get(f"/programme/enquiries/{secret['id']}", headers=sales).json()
    assert [h["to_status"] for h in detail["history"]] == ["new", "clarifying", "sites_offered"]
    assert [h["actor"] for h in detail["history"]] == ["kari"] * 3
    assert detail["searchCriteria"]["filters"]["net_available_daa"] == {"min": 20.0}
    # every write is in the service's audit log too, refused ones included
    admin = _auth(idp, "admin", [], "ada")
    log = client.get("/admin/audit?limit=50", headers=admin).json()["entries"]
    mine = [(e["action"], e["target"], e["result"]) for e in log if e["action"].startswith("programme.")]
    assert ("programme.create", "3303", "ok") in mine
    assert ("programme.status", secret["id"], "refused") in mine  # the forbidden step to 'established'
    assert sum(1 for a, t, r in mine if a == "programme.status" and r == "ok") == 2


def test_offer_reads_facts_and_versions_from_the_store(client: TestClient, idp: TestIdentityProvider) -> None:
    kari = _auth(idp, "editor", ["3303"])
    eid = client.post("/programme/enquiries", json=_enquiry(), headers=kari).json()["id"]
    offer = client.post(f"/programme/enquiries/{eid}/offers", json={"site_id": "business-areas:1"}, headers=kari)
    assert offer.status_code == 201
    body = offer.json()
    assert body["facts"]["net_available_daa"] == 31.5 and body["facts"]["status"] == "reserve"
    assert body["layer_versions"] == {"business-areas": 1, "arealplan": 3}
    for bad in ("business-areas:99", "arealplan:1", "business-areas:１", "ba-7"):
        r = client.post(f"/programme/enquiries/{eid}/offers", json={"site_id": bad}, headers=kari)
        assert r.status_code == 400 and r.json()["parameter"] == "site_id", bad


def test_exports_board_indicators_and_report(client: TestClient, idp: TestIdentityProvider) -> None:
    sales = _auth(idp, "editor", ALL, "sara")
    for knr, hours in (("3303", 10), ("4005", 20)):
        r = client.post("/programme/capacity", json={"municipality": knr, "period_start": "2026-01-01",
                                                     "period_end": "2026-12-31", "hours_per_week": hours},
                        headers=sales)
        assert r.status_code == 201
    eid = client.post("/programme/enquiries", json=_enquiry(), headers=sales).json()["id"]
    client.post(f"/programme/enquiries/{eid}/status", json={"status": "clarifying"}, headers=sales)
    board = client.get("/programme/capacity/board?date=2026-11-30", headers=sales).json()
    kongsberg = next(m for m in board["municipalities"] if m["kommunenummer"] == "3303")
    assert (kongsberg["demandHours"], kongsberg["capacityHours"], kongsberg["utilisation"]) == (4.0, 10.0, 0.4)
    assert board["suggestions"] == []
    excel = client.get("/programme/enquiries.csv?variant=excel-no", headers=sales)
    assert excel.content.startswith("\ufeff".encode()) and excel.headers["content-type"].startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(excel.content.decode("utf-8-sig")), delimiter=";"))
    assert row["land_daa"] == "20" and row["status"] == "clarifying"
    xlsx = client.get("/programme/enquiries.xlsx", headers=sales)
    assert xlsx.content[:2] == b"PK"
    data = client.get("/programme/indicators", headers=sales).json()
    region = [r for r in data["enquiries"] if r["kommunenummer"] == "region"]
    assert sum(r["received"] for r in region) == 1 and region[-1]["open_end"] == 1
    land = [r for r in data["land"] if r["kommunenummer"] == "3303"]
    assert land[-1]["reserve_daa"] == 31.5 and land[-1]["pre_approved_daa"] == 12.0
    assert land[-1]["farmland_in_reserves_daa"] == 4.0
    table = client.get("/programme/indicators/land.csv", headers=sales).text
    assert "reserve_daa" in table.splitlines()[0] and ",31.5," in table
    assert client.get("/programme/indicators/nope.csv", headers=sales).status_code == 400
    assert client.get("/programme/indicators?from=2026-Q4&to=2026-Q1", headers=sales).status_code == 400
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pdftotext (poppler-utils) must be installed in CI (scripts/system-deps.sh)")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    for lang, words in (("nb", ["Næringsprogrammet", "Ferdig regulert", "31,5"]),
                        ("en", ["Business programme", "Pre-approved", "31.5"])):
        pdf = client.get(f"/programme/report.pdf?lang={lang}", headers=sales)
        assert pdf.headers["content-type"] == "application/pdf"
        text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.content, capture_output=True,
                              check=True).stdout.decode()
        for word in words:
            assert word in text, (lang, word)
