"""The outer door for cached tiles (``geo_service.tile_asgi.CachedTileDoor``), as the uvicorn workers serve the
app (``geo_service.main``): a hit carries the same tile and headers as the full stack (security headers
included), the edge's refusals still apply, errors stay JSON, and a new version is never answered from the
old one's cache. SYNTHETIC farmland grid from the conftest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings
from geo_service.tile_asgi import CachedTileDoor, with_tile_door
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.conftest import farmland_grid
from tests.geo_service.test_tiles_api import decode, grid_tile, url


@pytest.fixture
def door(workspace: Path) -> Iterator[TestClient]:
    app = with_tile_door(create_app(Settings(workspace=workspace, seed_demo=False)))
    assert isinstance(app, CachedTileDoor)
    with TestClient(app) as c:
        yield c


def test_a_hit_is_the_same_tile_with_the_same_headers(door: TestClient) -> None:
    z, x, y = grid_tile()
    first = door.get(url(z, x, y))
    second = door.get(url(z, x, y))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.headers["x-tile-cache"], second.headers["x-tile-cache"]) == ("miss", "hit")
    assert second.content == first.content and len(decode(second.content)["jorder"]["features"]) == 100
    for name in ("etag", "cache-control", "vary", "content-type", "x-content-type-options", "referrer-policy",
                 "x-frame-options"):
        assert second.headers[name] == first.headers[name], name
    csp = second.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "nonce" not in csp and "frame-ancestors" in csp
    assert door.get(url(z, x, y), headers={"If-None-Match": second.headers["etag"]}).status_code == 304
    gz = door.get(url(z, x, y), headers={"Accept-Encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and gz.content == first.content  # httpx inflates it


def test_the_edge_still_refuses_what_it_refuses(door: TestClient) -> None:
    z, x, y = grid_tile()
    assert door.get(url(z, x, y)).status_code == 200  # cached now
    bad_host = door.get(url(z, x, y), headers={"Host": "evil.example"})
    assert bad_host.status_code == 400 and bad_host.json()["code"] == "InvalidHost"
    huge = door.get(url(z, x, y), headers={"X-Padding": "a" * 70_000})
    assert huge.status_code == 431
    unknown = door.get(url(z, x, y, collection="%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/json")
    assert unknown.headers["x-content-type-options"] == "nosniff"  # never sniffed as a page


def test_a_new_version_is_not_answered_from_the_old_cache(door: TestClient, workspace: Path) -> None:
    z, x, y = grid_tile()
    old = door.get(url(z, x, y))
    assert door.get(url(z, x, y)).headers["x-tile-cache"] == "hit"
    GeoPackageStore(workspace).publish("jorder", farmland_grid().iloc[:10], LayerMeta(
        LayerKind.farmland, "Jorder (syntetisk)"))  # another connection, as another process would
    new = door.get(url(z, x, y))
    assert new.headers["x-tile-cache"] == "miss" and new.headers["etag"] != old.headers["etag"]
    assert len(decode(new.content)["jorder"]["features"]) == 10
    assert door.get(url(z, x, y)).headers["x-tile-cache"] == "hit"


def test_hits_of_one_loop_pass_share_one_catalog_read_and_a_commit_is_seen_after_it(workspace: Path) -> None:
    """The door reads the catalog's versions once per pass of the event loop: requests scheduled together are
    answered from one read; a version published before the next pass is answered as new."""
    import asyncio

    app = with_tile_door(create_app(Settings(workspace=workspace, seed_demo=False)))
    z, x, y = grid_tile()

    def scope() -> dict:
        path = url(z, x, y)
        return {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "root_path": "",
                "query_string": b"", "headers": [(b"host", b"testserver")], "scheme": "http",
                "server": ("testserver", 80), "client": ("127.0.0.1", 5555), "http_version": "1.1",
                "asgi": {"version": "3.0"}, "app": app.app}

    async def get() -> tuple[int, dict[bytes, bytes]]:
        messages: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            messages.append(message)

        await app(scope(), receive, send)
        return messages[0]["status"], dict(messages[0]["headers"])

    with TestClient(app) as client:
        first = client.get(url(z, x, y))
        assert first.headers["x-tile-cache"] == "miss"
        store = app.app.state.tiles.store
        reads = []
        real = store.current_versions

        def counted() -> dict[str, int]:
            reads.append(1)
            return real()

        store.current_versions = counted

        async def pass_of_five() -> list[tuple[int, dict[bytes, bytes]]]:
            return await asyncio.gather(*(get() for _ in range(5)))

        answers = client.portal.call(pass_of_five)
        assert [(s, h[b"x-tile-cache"]) for s, h in answers] == [(200, b"hit")] * 5
        assert len(reads) == 1  # one catalog read for the five hits of the pass
        GeoPackageStore(workspace).publish("jorder", farmland_grid().iloc[:10], LayerMeta(
            LayerKind.farmland, "Jorder (syntetisk)"))  # another connection, between two passes
        status, headers = client.portal.call(get)
        assert status == 200 and headers[b"x-tile-cache"] == b"miss"
        assert headers[b"etag"].decode() != first.headers["etag"]
        assert len(reads) >= 2
