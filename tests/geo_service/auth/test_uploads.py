"""Uploads with review over HTTP: stage → report + preview → publish (a new version) or discard; role and
municipality checks; the upload limits (zip bombs, path tricks, symlinks, nesting, XXE, size)."""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from geo_service.auth.keys import create_key
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.auth.conftest import make_client
from tests.geo_service.conftest import farmland_grid
from tests.idp import TestIdentityProvider

# two synthetic municipalities around the test grid near Kongsberg (EPSG:25832)
KONGSBERG = box(530_000, 6_610_000, 540_000, 6_620_000)
FLESBERG = box(540_000, 6_610_000, 550_000, 6_620_000)


def plan_file(path: Path, cells: list[tuple[float, float]], driver: str = "GPKG") -> Path:
    """Synthetic zoning: 200 m squares, SOSI-style column name, kommunenummer not given."""
    frame = gpd.GeoDataFrame({"RPAREALFORMÅL": [1300] * len(cells), "plannavn": ["Næringsområde Ø"] * len(cells)},
                             geometry=[box(x, y, x + 200, y + 200) for x, y in cells], crs=25832)
    frame.to_file(path, driver=driver)
    return path


def add_region(workspace: Path) -> Path:
    GeoPackageStore(workspace).publish("kommuner", gpd.GeoDataFrame(
        {"kommunenummer": ["3303", "3334"], "kommunenavn": ["Kongsberg", "Flesberg"]},
        geometry=[KONGSBERG, FLESBERG], crs=25832), LayerMeta(LayerKind.municipality, "Kommuner (syntetisk)"))
    return workspace


@pytest.fixture
def client(workspace: Path, idp: TestIdentityProvider) -> Iterator[TestClient]:
    with make_client(add_region(workspace), idp, upload_max_bytes=2 * 2**20) as c:
        yield c


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory, idp: TestIdentityProvider) -> Iterator[TestClient]:
    """One app for the read-only cases (bad uploads change nothing: each test checks that)."""
    workspace = tmp_path_factory.mktemp("shared") / "ws"
    GeoPackageStore(workspace).publish("jorder", farmland_grid(), LayerMeta(LayerKind.farmland, "Jorder"))
    with make_client(add_region(workspace), idp, upload_max_bytes=2 * 2**20) as c:
        yield c


_KEYS: dict[tuple[int, str, tuple[str, ...]], dict[str, str]] = {}


def key(client: TestClient, role: str, *municipalities: str, fresh: bool = False) -> dict[str, str]:
    """An API key header of ``role`` (one per app, role and municipalities unless ``fresh``)."""
    cache_key = (id(client.app), role, municipalities)
    if fresh or cache_key not in _KEYS:
        _, secret = create_key(client.app.state.store, f"{role} test", role, list(municipalities))
        _KEYS[cache_key] = {"Authorization": f"Bearer {secret}"}
    return _KEYS[cache_key]


def post(client: TestClient, headers: dict[str, str], path: Path | None = None, *, name: str | None = None,
         content: bytes | None = None, **fields: str):
    data = content if content is not None else path.read_bytes()  # type: ignore[union-attr]
    form = {"layerId": "plan-kongsberg", "kind": "zoning", **fields}
    return client.post("/layers/uploads", headers=headers, data=form,
                       files={"file": (name or path.name, data, "application/octet-stream")})  # type: ignore[union-attr]


def test_stage_review_publish(client: TestClient, tmp_path: Path) -> None:
    editor = key(client, "editor", "3303")
    source = plan_file(tmp_path / "plan æ.gpkg", [(531_000, 6_611_000), (532_000, 6_611_000), (533_000, 6_612_000)])
    staged = post(client, editor, source, title="Kommuneplan Kongsberg <b>2026</b>")
    assert staged.status_code == 201, staged.text
    doc = staged.json()
    report = doc["report"]
    assert report["normalised"]["features_in"] == 3 and report["normalised"]["features_out"] == 3
    assert report["normalised"]["crs_in"] == "EPSG:25832" and report["normalised"]["geometry_types"] == {"Polygon": 3}
    assert report["normalised"]["field_map"] == {"arealformal": "RPAREALFORMÅL"}
    assert report["checks"]["needs"]["fields"]["arealformal"]["ok"] is True
    assert report["checks"]["municipalities"] == {"3303": 3} and report["checks"]["share_outside_region"] == 0
    assert report["sourceFields"] == ["RPAREALFORMÅL", "plannavn"]
    assert doc["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest() and doc["sourceName"] == "plan æ.gpkg"
    assert str(tmp_path) not in staged.text and "staging" not in staged.text  # no server paths
    assert staged.headers["location"].endswith(f"/layers/uploads/{doc['id']}")

    preview = client.get(f"/layers/uploads/{doc['id']}/preview", headers=editor)
    assert preview.headers["content-type"] == "application/geo+json"
    features = preview.json()["features"]
    lon, lat = features[0]["geometry"]["coordinates"][0][0]
    assert len(features) == 3 and 9.5 < lon < 9.7 and 59.6 < lat < 59.7  # CRS84 near Kongsberg

    other_editor = key(client, "editor", "3303", fresh=True)
    assert client.post(f"/layers/uploads/{doc['id']}/publish", headers=other_editor).status_code == 403
    published = client.post(f"/layers/uploads/{doc['id']}/publish", headers=editor)
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 1 and published.json()["featureCount"] == 3
    collection = client.get("/collections/plan-kongsberg").json()
    assert collection["title"] == "Kommuneplan Kongsberg <b>2026</b>" and collection["featureCount"] == 3
    assert client.post(f"/layers/uploads/{doc['id']}/publish", headers=editor).status_code == 404  # gone

    audit = client.get("/admin/audit", headers=key(client, "admin")).json()["entries"]
    assert [(e["action"], e["target"], e["result"], e["sourceName"]) for e in audit[:2]] == [
        ("publish", "plan-kongsberg", "ok", "plan æ.gpkg"), ("upload", "plan-kongsberg", "ok", "plan æ.gpkg")]
    assert audit[0]["sourceSha256"] == doc["sha256"] and audit[0]["detail"]["version"] == 1


def test_editor_of_one_municipality_cannot_stage_anothers_zoning(client: TestClient, tmp_path: Path) -> None:
    source = plan_file(tmp_path / "flesberg.gpkg", [(531_000, 6_611_000), (541_000, 6_611_000), (545_000, 6_615_000)])
    refused = post(client, key(client, "editor", "3303"), source)
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "KindCheckFailed"
    assert "2 features lie outside your municipalities (3303): 3334 (2)" in body["description"]
    assert body["report"]["checks"]["municipalities"] == {"3303": 1, "3334": 2}
    assert client.get("/layers/uploads", headers=key(client, "admin")).json()["uploads"] == []
    # an editor of both municipalities may (forcing never widens a scope: tests/layers/test_checks.py)
    assert post(client, key(client, "editor", "3303", "3334"), source).status_code == 201


def test_roles_and_discard(client: TestClient, tmp_path: Path, idp: TestIdentityProvider) -> None:
    source = plan_file(tmp_path / "plan.geojson", [(531_000, 6_611_000)], driver="GeoJSON")
    anonymous = post(client, {}, source)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert post(client, key(client, "reader"), source).status_code == 403
    token = {"Authorization": "Bearer " + idp.token("kari", ["GeoService.Editor"], ["3303"])}
    staged = post(client, token, source)
    assert staged.status_code == 201, staged.text
    upload_id = staged.json()["id"]
    assert client.delete(f"/layers/uploads/{upload_id}", headers=key(client, "editor", "3303", fresh=True)).status_code == 403
    assert client.delete(f"/layers/uploads/{upload_id}", headers=token).status_code == 204
    assert client.get(f"/layers/uploads/{upload_id}", headers=token).status_code == 404
    assert client.get("/layers/uploads/not-an-id", headers=token).status_code == 404
    assert not any(client.app.state.staging.root.iterdir())


def test_zipped_shapefile_is_read(client: TestClient, tmp_path: Path) -> None:
    folder = tmp_path / "shp"
    folder.mkdir()
    plan_file(folder / "plan.shp", [(531_000, 6_611_000), (532_000, 6_611_000)], driver="ESRI Shapefile")
    archive = tmp_path / "plan.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in folder.iterdir():
            zf.write(part, f"levering/{part.name}")
    staged = post(client, key(client, "editor", "3303"), archive)
    assert staged.status_code == 201, staged.text
    assert staged.json()["report"]["driver"] == "ESRI Shapefile"
    assert staged.json()["report"]["normalised"]["field_map"] == {"arealformal": "RPAREALFOR"}  # dBASE-cut name


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buffer.getvalue()


def _symlink() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("plan.gpkg")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY secret SYSTEM "file://{path}">]>\n'
       b'<gml:FeatureCollection xmlns:gml="http://www.opengis.net/gml"><name>&secret;</name>'
       b'</gml:FeatureCollection>')

BAD_UPLOADS = {
    "zip bomb (ratio)": ("bomb.zip", lambda p: _zip([("plan.geojson", b" " * 5_000_000)]), 413, "compression ratio"),
    "dot-dot entry": ("plan.zip", lambda p: _zip([("../../etc/plan.geojson", b"{}")]), 400, "climbs out"),
    "absolute entry": ("plan.zip", lambda p: _zip([("/etc/plan.geojson", b"{}")]), 400, "absolute path"),
    "symlink entry": ("plan.zip", lambda p: _zip([(_symlink(), b"/etc/passwd")]), 400, "symbolic link"),
    "nested too deep": ("plan.zip", lambda p: _zip([("a/b/plan.geojson", b"{}")]), 400, "nested 2 folders"),
    "zip in zip": ("plan.zip", lambda p: _zip([("inner.zip", b"PK")]), 400, "archive inside the archive"),
    "too many entries": ("plan.zip", lambda p: _zip([(f"f{i}.txt", b"x") for i in range(2_001)]), 400,
                         "2001 entries"),
    "XXE in GML": ("plan.gml", lambda p: XXE.replace(b"{path}", str(p).encode()), 400, "DTD or entities"),
    "XXE in zipped GML": ("plan.zip", lambda p: _zip([("plan.gml", XXE.replace(b"{path}", str(p).encode()))]),
                          400, "DTD or entities"),
    "unknown format": ("plan.dwg", lambda p: b"AC1027", 400, "unknown format"),
    "empty file": ("plan.gpkg", lambda p: b"", 400, "empty"),
    "not a GeoPackage": ("plan.gpkg", lambda p: b"this is not sqlite" * 10, 400, "plan.gpkg"),
    "truncated GeoJSON": ("plan.geojson", lambda p: b'{"type": "FeatureCollection", "features": [', 400, "plan.geojson"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_bad_uploads_get_one_clear_4xx_and_change_nothing(case: str, shared_client: TestClient,
                                                          tmp_path: Path) -> None:
    client = shared_client
    secret_file = tmp_path / "hemmelig.txt"
    secret_file.write_text("PASSORD-123")
    name, make, status, words = BAD_UPLOADS[case]
    before = {layer.id: layer.current.version for layer in client.app.state.store.list_layers()}
    response = post(client, key(client, "editor", "3303"), name=name, content=make(secret_file))
    assert response.status_code == status, response.text
    body = response.json()
    assert words in body["description"] and "Traceback" not in response.text
    assert "PASSORD-123" not in response.text and str(client.app.state.staging.root) not in response.text
    assert {layer.id: layer.current.version for layer in client.app.state.store.list_layers()} == before
    assert not any(client.app.state.staging.root.iterdir())  # nothing staged, nothing left behind


def test_oversized_upload_refused_before_reading(shared_client: TestClient) -> None:
    client = shared_client
    response = post(client, key(client, "editor", "3303"), name="big.geojson", content=b" " * (3 * 2**20))
    assert response.status_code == 413 and "larger than the 2 MiB allowed" in response.json()["description"]


# -- the malformed-input corpus of the CLI (tests/layers/test_ingest_bad_input.py) through the upload API ----
def _corpus() -> dict[str, Any]:
    from tests.layers import test_ingest_bad_input as corpus

    return corpus.CASES


@pytest.mark.parametrize("name", list(_corpus()))
def test_corpus_through_upload_api(name: str, shared_client: TestClient, tmp_path: Path) -> None:
    """Every malformed file gets one clear line and a 4xx; no 500, no traceback, no server path; nothing changes."""
    client = shared_client
    case = _corpus()[name]
    folder = tmp_path / "corpus"
    folder.mkdir()
    source = case.make(folder)
    if not source.exists():
        pytest.skip("nothing to upload (the CLI case is a missing path)")
    if source.is_dir():  # a folder upload is a zip of it
        archive = tmp_path / f"{source.name}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for part in source.iterdir():
                zf.write(part, part.name)
        source = archive
    before = {layer.id: layer.current.version for layer in client.app.state.store.list_layers()}
    fields = {k: str(v) for k, v in case.kwargs.items()}
    response = post(client, key(client, "admin"), source, **fields,
                    **({"layerId": case.layer_id} if case.layer_id != "plan" else {}))
    if response.status_code == 201:  # readable after all (e.g. a shapefile zipped from a folder): discard
        client.delete(f"/layers/uploads/{response.json()['id']}", headers=key(client, "admin"))
        pytest.skip(f"readable as an upload: {response.json()['report']['normalised']['features_out']} features")
    assert 400 <= response.status_code < 500, response.text
    description = response.json()["description"]
    assert "\n" not in description and "Traceback" not in response.text
    assert str(tmp_path) not in response.text and str(client.app.state.staging.root) not in response.text
    assert {layer.id: layer.current.version for layer in client.app.state.store.list_layers()} == before
    assert not any(client.app.state.staging.root.iterdir())


# -- the generated malformed-file corpus of the reliability issue (tests/corpus.py, 51 files) through the upload API --
def _generated() -> list[str]:
    from tests.corpus import MAKERS

    return list(MAKERS)


@pytest.mark.parametrize("name", _generated())
def test_generated_corpus_through_upload_api(name: str, shared_client: TestClient, tmp_path: Path) -> None:
    """Every generated malformed file is refused with a 4xx and one line (or, if a file is readable as an
    upload after all, staged and discarded); never a 500, a traceback or a server path; nothing published."""
    from tests.corpus import MAKERS

    client = shared_client
    make, _expected = MAKERS[name]
    folder = tmp_path / "case"
    folder.mkdir()
    source = make(folder)
    if not source.exists():
        pytest.skip("nothing to upload (the CLI case is a missing path)")
    if source.is_dir():  # a folder upload is a zip of it
        archive = tmp_path / f"{source.name}.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for part in source.rglob("*"):
                if part.is_file():
                    zf.write(part, part.relative_to(source))
        source = archive
    before = {layer.id: layer.current.version for layer in client.app.state.store.list_layers()}
    response = post(client, key(client, "admin"), source)
    assert response.status_code < 500, response.text
    if response.status_code == 201:  # readable as an upload after all: discard it, and say so
        client.delete(f"/layers/uploads/{response.json()['id']}", headers=key(client, "admin"))
        pytest.skip("readable as an upload")
    assert 400 <= response.status_code < 500, response.text
    assert "\n" not in response.json()["description"] and "Traceback" not in response.text
    assert str(tmp_path) not in response.text and str(client.app.state.staging.root) not in response.text
    assert {layer.id: layer.current.version for layer in client.app.state.store.list_layers()} == before
    assert not any(client.app.state.staging.root.iterdir())
