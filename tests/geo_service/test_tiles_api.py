"""Vector tiles over HTTP: MVT responses, TileJSON, errors, caching headers, the ASGI fast path, freshness
after publish and rollback, the cache bound, and a real uvicorn server. Tiles are decoded with
mapbox-vector-tile."""

from __future__ import annotations

import gzip
import re
import urllib.request
from pathlib import Path

import mapbox_vector_tile
import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from maps.mvt import EXTENT
from maps.tiles import TMS, TileService
from tests.geo_service.conftest import ORIGIN, farmland_grid

MVT = "application/vnd.mapbox-vector-tile"
X0, Y0 = ORIGIN
TO_4326 = Transformer.from_crs(25832, 4326, always_xy=True)
TO_3857 = Transformer.from_crs(25832, 3857, always_xy=True)


def grid_tile(z: int = 11) -> tuple[int, int, int]:
    """The tile holding the whole 1 km farmland grid (asserted: all four corners fall in it)."""
    tiles = {(t.x, t.y) for t in (TMS.tile(*TO_4326.transform(X0 + dx, Y0 + dy), z)
                                  for dx in (0, 1000) for dy in (0, 1000))}
    assert len(tiles) == 1
    (x, y), = tiles
    return z, x, y


def url(z: int, x: int, y: int, collection: str = "jorder") -> str:
    return f"/collections/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}"


def decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def test_collection_tile_is_mvt_with_ids_and_attributes(client: TestClient) -> None:
    z, x, y = grid_tile()
    response = client.get(url(z, x, y))
    assert response.status_code == 200
    assert response.headers["content-type"] == MVT
    tile = decode(response.content)
    assert list(tile) == ["jorder"]
    features = tile["jorder"]["features"]
    assert len(features) == 100
    assert sorted(f["id"] for f in features) == list(range(1, 101))  # GeoPackage fids
    grid = farmland_grid()
    for f in features:
        row = grid.iloc[f["id"] - 1]
        assert f["properties"] == {"arealtype": int(row["arealtype"]), "navn": row["navn"],
                                   "andel": pytest.approx(float(row["andel"]))}
    assert {f["properties"]["arealtype"] for f in features} == {21, 22, 23, 30}


def test_known_field_is_at_the_right_pixels(client: TestClient) -> None:
    """Field fid 1 is the 100 m square at ORIGIN: its corners, projected with PROJ and placed with morecantile."""
    z = 15
    lon, lat = TO_4326.transform(X0 + 50, Y0 + 50)
    t = TMS.tile(lon, lat, z)
    feature = next(f for f in decode(client.get(url(z, t.x, t.y)).content)["jorder"]["features"] if f["id"] == 1)
    b = TMS.xy_bounds(t)
    ring = np.array(feature["geometry"]["coordinates"][0], dtype=float)
    for cx, cy in ((X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100)):
        mx, my = TO_3857.transform(cx, cy)
        px, py = (mx - b.left) / (b.right - b.left) * EXTENT, (b.top - my) / (b.top - b.bottom) * EXTENT
        if -64 <= px <= EXTENT + 64 and -64 <= py <= EXTENT + 64:
            assert np.abs(ring - (px, py)).sum(axis=1).min() <= 2
    assert feature["properties"]["arealtype"] == 21


def test_properties_selects_attributes(client: TestClient) -> None:
    z, x, y = grid_tile()
    only = decode(client.get(url(z, x, y), params={"properties": "arealtype"}).content)["jorder"]["features"]
    assert all(set(f["properties"]) == {"arealtype"} for f in only) and len(only) == 100
    none = decode(client.get(url(z, x, y), params={"properties": ""}).content)["jorder"]["features"]
    assert all(f["properties"] == {} for f in none) and len(none) == 100
    bad = client.get(url(z, x, y), params={"properties": "arealtype,nope"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "properties" and "nope" in bad.json()["description"]


def test_multi_collection_tile(client: TestClient) -> None:
    z, x, y = grid_tile()
    response = client.get(f"/tiles/WebMercatorQuad/{z}/{x}/{y}", params={"collections": "jorder,kulturminner"})
    assert response.status_code == 200 and response.headers["content-type"] == MVT
    tile = decode(response.content)
    assert list(tile) == ["jorder", "kulturminner"]
    assert len(tile["jorder"]["features"]) == 100
    heritage = {f["properties"]["vernetype"] for f in tile["kulturminner"]["features"]}
    assert {"AUT", "VED"} <= heritage  # the two sites inside the grid (the third is 5 km east)
    assert client.get(f"/tiles/WebMercatorQuad/{z}/{x}/{y}", params={"collections": "jorder,nope"}).status_code == 404
    missing = client.get(f"/tiles/WebMercatorQuad/{z}/{x}/{y}")
    assert missing.status_code == 400 and missing.json()["parameter"] == "collections"


def test_tilejson(client: TestClient) -> None:
    doc = client.get("/collections/jorder/tiles/WebMercatorQuad/tilejson.json").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == ["http://testserver/collections/jorder/tiles/WebMercatorQuad/{z}/{x}/{y}"]
    assert doc["minzoom"] == 0 and doc["maxzoom"] >= 14
    west, south, east, north = doc["bounds"]
    assert 9.63 < west < east < 9.67 and 59.65 < south < north < 59.68
    (layer,) = doc["vector_layers"]
    assert layer["id"] == "jorder"
    assert layer["fields"] == {"arealtype": "Number", "navn": "String", "andel": "Number"}
    multi = client.get("/tiles/WebMercatorQuad/tilejson.json", params={"collections": "jorder,kulturminner"}).json()
    assert [v["id"] for v in multi["vector_layers"]] == ["jorder", "kulturminner"]
    assert multi["tiles"][0].endswith("/tiles/WebMercatorQuad/{z}/{x}/{y}?collections=jorder,kulturminner")
    assert client.get("/collections/nope/tiles/WebMercatorQuad/tilejson.json").status_code == 404


def test_collection_links_to_tiles(client: TestClient) -> None:
    links = {link["href"].removeprefix("http://testserver"): link for link in
             client.get("/collections/jorder").json()["links"]}
    assert "/collections/jorder/tiles/WebMercatorQuad/tilejson.json" in links
    template = links["/collections/jorder/tiles/WebMercatorQuad/{z}/{x}/{y}"]
    assert template["type"] == MVT and template["templated"] is True


def test_empty_tile_is_204_everywhere(client: TestClient) -> None:
    for _ in range(2):  # miss (router), then hit (fast path): the same answer
        empty = client.get(url(14, 0, 0))
        assert empty.status_code == 204 and empty.content == b"" and "etag" in empty.headers
        multi = client.get("/tiles/WebMercatorQuad/14/0/0", params={"collections": "jorder,kulturminner"})
        assert multi.status_code == 204 and multi.content == b""


@pytest.mark.parametrize(("path", "status", "parameter"), [
    ("25/0/0", 404, "z"), ("3/8/0", 404, "x"), ("3/0/8", 404, "y"), ("3/-1/0", 404, "x"),
    ("a/0/0", 400, "z"), ("3/0/1.5", 400, "y"),
])
def test_out_of_range_or_malformed_tile_address(client: TestClient, path: str, status: int, parameter: str) -> None:
    for prefix in ("/collections/jorder/tiles/WebMercatorQuad", "/tiles/WebMercatorQuad"):
        response = client.get(f"{prefix}/{path}", params={"collections": "jorder"} if prefix[1] == "t" else None)
        assert response.status_code == status
        body = response.json()
        assert body["parameter"] == parameter and body["description"]


def test_unknown_collection_is_404(client: TestClient) -> None:
    response = client.get(url(12, 2000, 1000, collection="nope"))
    assert response.status_code == 404 and response.json()["code"] == "NotFound"


def test_etag_cache_control_304_and_fast_path(client: TestClient) -> None:
    z, x, y = grid_tile()
    first = client.get(url(z, x, y))
    assert first.headers["x-tile-cache"] == "miss"
    etag = first.headers["etag"]
    assert etag.startswith('"') and first.headers["cache-control"] == "public, no-cache"
    second = client.get(url(z, x, y))
    assert second.headers["x-tile-cache"] == "hit" and second.content == first.content
    assert second.headers["etag"] == etag
    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        not_modified = client.get(url(z, x, y), headers={"If-None-Match": tag})
        assert not_modified.status_code == 304 and not_modified.content == b""
        assert not_modified.headers["etag"] == etag
    assert client.get(url(z, x, y), headers={"If-None-Match": '"other"'}).status_code == 200
    # a miss honours If-None-Match as well
    fresh = client.get(url(z, x, y), params={"properties": "navn"})
    again = client.get(url(z, x, y), params={"properties": "navn"}, headers={"If-None-Match": fresh.headers["etag"]})
    assert again.status_code == 304


def test_router_answers_like_the_fast_path(client: TestClient) -> None:
    """A request the fast path leaves to FastAPI (another query parameter) gets the same tile and headers."""
    z, x, y = grid_tile()
    routed = client.get(url(z, x, y), params={"properties": "navn", "f": "mvt"})
    assert routed.headers["x-tile-cache"] == "miss"
    fast = client.get(url(z, x, y), params={"properties": "navn"})
    assert fast.headers["x-tile-cache"] == "hit"  # cached by the router's request
    assert fast.content == routed.content and fast.headers["etag"] == routed.headers["etag"]
    for header in ("content-type", "cache-control", "vary"):
        assert fast.headers[header] == routed.headers[header]
    again = client.get(url(z, x, y), params={"properties": "navn", "f": "mvt"})
    assert again.headers["x-tile-cache"] == "hit"
    multi = client.get(f"/tiles/WebMercatorQuad/{z}/{x}/{y}", params={"collections": "jorder", "f": "mvt"})
    assert multi.status_code == 200 and list(decode(multi.content)) == ["jorder"]


def test_gzip_when_asked(client: TestClient) -> None:
    z, x, y = grid_tile()
    plain = client.get(url(z, x, y), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) == len(plain.content)
    for _ in range(2):  # router, then fast path
        with client.stream("GET", url(z, x, y), headers={"Accept-Encoding": "gzip"}) as packed:
            raw = b"".join(packed.iter_raw())
            assert packed.headers["content-encoding"] == "gzip"
            assert packed.headers["vary"] == "Accept-Encoding"
        assert int(packed.headers["content-length"]) == len(raw) < len(plain.content)
        assert gzip.decompress(raw) == plain.content
    assert "content-encoding" not in client.get(url(z, x, y), headers={"Accept-Encoding": "gzip;q=0"}).headers


def test_publish_and_rollback_change_the_next_tile(client: TestClient, workspace: Path) -> None:
    z, x, y = grid_tile()

    def tile() -> tuple[set[str], str]:
        response = client.get(url(z, x, y), params={"properties": "navn"})
        return {f["properties"]["navn"] for f in decode(response.content)["jorder"]["features"]}, \
            response.headers["etag"]

    before, etag_v1 = tile()
    assert tile() == (before, etag_v1)  # cached now
    other = GeoPackageStore(workspace)  # as `geo-service layers add` would: another connection
    other.publish("jorder", farmland_grid().assign(navn="ny versjon"), LayerMeta(LayerKind.farmland, "Jorder"))
    after, etag_v2 = tile()
    assert after == {"ny versjon"} and etag_v2 != etag_v1
    other.rollback("jorder", 1)
    assert tile() == (before, etag_v1)
    other.rollback("jorder", 2)
    assert tile() == (after, etag_v2)


def test_memory_cache_bound_holds(workspace: Path) -> None:
    settings = Settings(workspace=workspace, seed_demo=False, tile_cache_bytes=6_000)
    with TestClient(create_app(settings)) as client:
        z = 16
        t = TMS.tile(*TO_4326.transform(X0 + 500, Y0 + 500), z)
        x, y = t.x, t.y
        for dx in range(-3, 4):
            for dy in range(-3, 4):
                client.get(url(z, x + dx, y + dy))
        tiles: TileService = client.app.state.tiles  # type: ignore[attr-defined]
        assert 0 < tiles.cache.bytes <= 6_000
        assert tiles.cache.evictions > 0


def test_disk_tier_from_settings(workspace: Path, tmp_path: Path) -> None:
    settings = Settings(workspace=workspace, seed_demo=False, tile_cache_dir=tmp_path / "tiles")
    z, x, y = grid_tile()
    with TestClient(create_app(settings)) as client:
        first = client.get(url(z, x, y)).content
    assert list((tmp_path / "tiles").rglob("*.mvt"))
    with TestClient(create_app(settings)) as client:
        assert client.get(url(z, x, y)).content == first


def test_tiles_from_a_real_server(live_server: str) -> None:
    """uvicorn with the fast path as deployed: a miss, then a hit with the same bytes."""
    z, x, y = grid_tile()
    answers = []
    for _ in range(2):
        with urllib.request.urlopen(live_server + url(z, x, y), timeout=10) as response:
            answers.append((response.headers["x-tile-cache"], response.headers["content-type"], response.read()))
    assert [a[0] for a in answers] == ["miss", "hit"]
    assert answers[0][1] == MVT and answers[0][2] == answers[1][2]
    assert len(decode(answers[1][2])["jorder"]["features"]) == 100


def test_cli_seed_fills_the_disk_tier_and_export_writes_an_archive(workspace: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from geo_service.cli import app
    from maps.export import archive_info

    runner = CliRunner()
    seeded = runner.invoke(app, ["tiles", "seed", "jorder", "--maxzoom", "12", "--cache-dir", str(tmp_path / "tiles"),
                                 "-w", str(workspace)])
    assert seeded.exit_code == 0, seeded.output
    count = int(re.search(r"seeded (\d+) tiles of jorder version 1", seeded.output).group(1))  # type: ignore[union-attr]
    assert count >= 13 and len(list((tmp_path / "tiles").rglob("*.mvt"))) == count  # at least a tile per zoom

    def no_rendering(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("rendered although the tile was seeded")

    monkeypatch.setattr("maps.tiles.render_layer", no_rendering)
    settings = Settings(workspace=workspace, seed_demo=False, tile_cache_dir=tmp_path / "tiles")
    with TestClient(create_app(settings)) as client:
        z, x, y = grid_tile()
        assert len(decode(client.get(url(z, x, y)).content)["jorder"]["features"]) == 100
    monkeypatch.undo()

    archive = tmp_path / "jorder.pmtiles"
    exported = runner.invoke(app, ["tiles", "export", "jorder", "-o", str(archive), "--minzoom", "10", "--maxzoom", "13",
                                   "-w", str(workspace)])
    assert exported.exit_code == 0, exported.output
    assert archive_info(archive).layers == ["jorder"]
    refused = runner.invoke(app, ["tiles", "export", "jorder", "-o", str(tmp_path / "jorder.zip"), "-w", str(workspace)])
    assert refused.exit_code == 2 and ".pmtiles or .mbtiles" in refused.output
