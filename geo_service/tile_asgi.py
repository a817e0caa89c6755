"""Tile responses, and the two ASGI fast paths that answer tile requests before the FastAPI router.

* ``CachedTileDoor`` is the outermost layer of the app: a GET of a tile that is in the memory cache is
  answered there, before any other middleware — a path split, one ``PRAGMA data_version``
  (``Store.current_versions``), a dict lookup and headers made of precomputed bytes. It applies the edge's
  own checks first (``EdgeGuard``: header size, Host) and adds the same security headers (the CSP without a
  script nonce: a tile is no page); whatever it cannot answer so (a miss, a body, a refusal, sign-in
  required for reading) goes on through the whole stack.
* ``TileFastPath`` sits below the edge, the sign-in gate and the upload guard: it renders misses on a small
  thread pool of its own, which saves the router's overhead (~0.14 ms of CPU, PERFORMANCE.md) on every cold
  tile. Errors, validation, HEAD and unknown parameters fall through to the router, which answers with the
  same headers (``tile_response_parts``) and the API's JSON errors, so a tile looks the same whichever way
  it was served; ``X-Tile-Cache`` says whether it was cached.

Empty tiles are ``204 No Content`` (with an ETag) everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from geo_service.middleware import EdgeGuard, content_security_policy
from geo_service.settings import Settings
from layers.errors import LayerError
from layers.store import Store
from maps.lowzoom import LowZoomGrids
from maps.tile_cache import TileCache, TileEntry, TileKey
from maps.tile_retention import prune_versions
from maps.tiles import MVT, TMS_ID, TileService, parse_collections, parse_properties, prepare_render_thread

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_CACHE_CONTROL = "public, no-cache"
RENDER_THREADS = 4  # per process
_MVT = MVT.encode()
_SEGMENT = f"tiles/{TMS_ID}"
log = logging.getLogger("geo_service.tiles")


def open_tiles(settings: Settings, store: Store) -> TileService:
    """The tile service for ``store`` with the cache the settings ask for. Big polygon layers draw their low
    zooms from coverage grids (``maps.lowzoom``) kept in the disk tier, else in the GeoPackage workspace;
    with a disk tier they are built (or loaded) for the current versions in the background from now on."""
    folder = settings.tile_cache_dir
    if folder is None and getattr(store, "workspace", None) is not None:
        folder = Path(store.workspace) / "tile-grids"
    grids = LowZoomGrids(store, folder)
    if settings.tile_cache_dir is not None:
        try:
            grids.prepare([layer.current for layer in store.list_layers()])
        except LayerError:
            pass
    _prune_in_background(store, [settings.tile_cache_dir, folder])
    renderer = None
    workspace = getattr(store, "workspace", None)
    if settings.tile_render_processes and workspace is not None and getattr(store, "mvt_tile", None) is None:
        from maps.render_processes import ProcessRenderer

        renderer = ProcessRenderer(Path(workspace), settings.tile_render_processes)
    return TileService(store, TileCache(settings.tile_cache_bytes, settings.tile_cache_dir), grids, renderer)


def _prune_in_background(store: Store, folders: list[Path | None]) -> threading.Thread | None:
    """Remove old layer versions' tiles and grids from ``folders`` (``maps.tile_retention``), off the start-up."""
    existing = sorted({f for f in folders if f is not None and f.is_dir()})
    if not existing:
        return None

    def run() -> None:
        try:
            current = store.current_versions()
            for folder in existing:
                prune_versions(folder, current)
        except Exception:  # disk housekeeping never stops the service
            log.warning("could not remove old layer versions from the tile folders", exc_info=True)

    thread = threading.Thread(target=run, name="tile-retention", daemon=True)
    thread.start()
    return thread


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True if ``Accept-Encoding`` lists gzip (or ``*``) without ``q=0``."""
    if not accept_encoding:
        return False
    for item in accept_encoding.split(","):
        token, _, params = item.strip().partition(";")
        if token.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` semantics: ``*`` or any listed (weak or strong) tag equal to ``etag``."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def tile_response_parts(cache: TileCache, key: TileKey, entry: TileEntry, accept_encoding: str | None,
                        if_none_match: str | None, cache_control: str, source: str
                        ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body for a tile: 304 on a matching ETag, 204 when empty, else the MVT (gzip if asked)."""
    headers = [(b"etag", entry.etag.encode()), (b"cache-control", cache_control.encode()),
               (b"vary", b"Accept-Encoding"), (b"x-tile-cache", source.encode())]
    if etag_matches(if_none_match, entry.etag):
        return 304, headers, b""
    if not entry.data:
        return 204, headers, b""
    body = entry.data
    if accepts_gzip(accept_encoding):
        body = cache.gzipped(key, entry)
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-type", _MVT))
    headers.append((b"content-length", str(len(body)).encode()))
    return 200, headers, body


def parse_tile_path(path: str) -> tuple[tuple[str, ...] | None, int, int, int] | None:
    """``/collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}`` -> ((id,), z, x, y);
    ``/tiles/WebMercatorQuad/{z}/{x}/{y}`` -> (None, z, x, y) (collections come from the query); else None."""
    parts = path.split("/")
    n = len(parts)
    if n == 8 and parts[1] == "collections" and parts[3] == "tiles" and parts[4] == TMS_ID:
        ids: tuple[str, ...] | None = (parts[2],)
    elif n == 6 and parts[1] == "tiles" and parts[2] == TMS_ID:
        ids = None
    else:
        return None
    z, x, y = parts[-3], parts[-2], parts[-1]
    if not (z.isdigit() and x.isdigit() and y.isdigit()) or not z.isascii() or not x.isascii() or not y.isascii():
        return None
    return ids, int(z), int(x), int(y)


def _cache_control(state: Any) -> str:
    settings = getattr(state, "settings", None)
    return getattr(settings, "tile_cache_control", DEFAULT_CACHE_CONTROL)


class TileFastPath:
    """ASGI middleware answering tile GETs below the FastAPI router; everything else goes to ``app``.

    Hits are answered on the event loop. Misses are rendered on a small thread pool of its own (the work is
    numpy, GEOS and SQLite, which release the GIL in their loops; a few threads per process keep the cores
    busy without the contention of FastAPI's 40). Anything it cannot answer cleanly — an unknown layer, a
    tile outside the grid, an unknown property, another query parameter, HEAD — goes to the router, which
    answers with the JSON errors of the rest of the API. The ``TileService`` is ``app.state.tiles`` (made in
    the lifespan); before the lifespan has run, it steps aside.
    """

    def __init__(self, app: ASGIApp, render_threads: int = RENDER_THREADS) -> None:
        self.app = app
        self.render_threads = render_threads
        self._pool = render_pool(render_threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET" and _SEGMENT in scope["path"]
                and await self._try(scope, send)):
            return
        await self.app(scope, receive, send)

    async def _try(self, scope: Scope, send: Send) -> bool:
        request = _parse_request(scope)
        if request is None:
            return False
        ids, single, z, x, y, properties = request
        state = getattr(scope.get("app"), "state", None)
        tiles: TileService | None = getattr(state, "tiles", None)
        if tiles is None:
            return False
        fresh = getattr(tiles.store, "current_versions_async", None)  # PostGIS: without blocking the loop
        versions = await fresh() if fresh is not None else tiles.store.current_versions()
        found = tiles.cached(ids, z, x, y, properties, versions)
        source = "hit"
        if found is None:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(self._pool, _render, tiles, versions, ids, single, z, x, y,
                                               properties)
            if found is None:
                return False
            source = "miss"
        key, entry = found
        accept_encoding, if_none_match = _conditional_headers(scope)
        status, headers, body = tile_response_parts(tiles.cache, key, entry, accept_encoding, if_none_match,
                                                    _cache_control(state), source)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True


def _parse_request(scope: Scope) -> tuple[tuple[str, ...], bool, int, int, int, tuple[str, ...] | None] | None:
    """(collection ids, single-collection route?, z, x, y, properties) of a tile GET, or None to step aside."""
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    parsed = parse_tile_path(path)
    if parsed is None:
        return None
    ids, z, x, y = parsed
    single = ids is not None
    properties = None
    query = scope.get("query_string", b"")
    if query:
        params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if len(params) != 1:
            return None
        name, value = params[0]
        if not single and name == "collections" and value.strip(" ,"):
            ids = parse_collections(value)
        elif single and name == "properties":
            properties = parse_properties(value)
        else:
            return None
    if not ids:
        return None
    return ids, single, z, x, y, properties


def render_pool(threads: int) -> ThreadPoolExecutor:
    """The render threads, started and prepared now (``prepare_render_thread``), not on the first cold tiles."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix="tile-render", initializer=prepare_render_thread)
    started = threading.Barrier(threads)  # each warm-up task holds its thread until all threads exist
    for _ in range(threads):
        pool.submit(started.wait, 10.0)
    return pool


def _render(tiles: TileService, versions: Mapping[str, int], ids: tuple[str, ...], single: bool, z: int, x: int,
            y: int, properties: tuple[str, ...] | None) -> tuple[TileKey, TileEntry] | None:
    """Render (through the cache) on a worker thread; None when the request is in error (the router says why)."""
    try:
        layers = [tiles.current_layer(layer_id, versions) for layer_id in ids]
        if single:
            return tiles.layer_tile(layers[0], z, x, y, properties)
        return tiles.tile(layers, z, x, y)
    except LayerError:
        return None


_NONCE_MARK = "\x00nonce\x00"


def tile_security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The security headers ``EdgeGuard`` puts on every response, for a tile: the CSP without a script nonce."""
    csp = content_security_policy(settings, _NONCE_MARK).replace(f" 'nonce-{_NONCE_MARK}'", "")
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin"),
               (b"content-security-policy", csp.encode())]
    frame = settings.frame_ancestors.strip()
    if frame in ("'none'", "'self'"):
        headers.append((b"x-frame-options", b"DENY" if frame == "'none'" else b"SAMEORIGIN"))
    return headers


class CachedTileDoor:
    """The outermost ASGI layer, around the whole FastAPI app: answers GETs of tiles already in the memory cache.

    What it answers carries exactly the headers the whole stack gives a hit (``tile_response_parts`` plus the
    edge's security headers). It steps aside — the request then takes the full path, which answers or
    refuses it — for a request the edge would refuse or must bound (``EdgeGuard``'s own checks), for any
    tile not cached for the layers' current versions, and while reading requires sign-in. Everything that is
    not a tile GET (lifespan included) goes straight to ``app``. Cached hits therefore skip FastAPI's own
    layers too (telemetry bridge, body limit, error middleware): they are not traced.
    """

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app  # a FastAPI app (its ``state.tiles`` is made in its lifespan)
        self.settings = settings
        self.edge = EdgeGuard(app, settings)  # its checks only (Host, header size, bodies)
        self.security = tile_security_headers(settings)
        self._parsed: dict[tuple[str, bytes], Any] = {}  # path and query -> _parse_request, bounded
        self._plain: weakref.WeakKeyDictionary[TileEntry, tuple[Message, Message]] = weakref.WeakKeyDictionary()
        self._versions: Mapping[str, int] | None = None  # read by the first hit of this pass of the event loop

    async def _current_versions(self, store: Store) -> Mapping[str, int]:
        """The catalog's current versions, read once per pass of the event loop (``PRAGMA data_version`` is
        ~4 µs, half of a hit). Never stale for a request: every request answered in this pass arrived before the
        pass began (its task was scheduled then), so before the read; the first hit after the pass reads again.
        A door serves one event loop (a uvicorn worker's)."""
        versions = self._versions
        if versions is None:
            fresh = getattr(store, "current_versions_async", None)  # PostGIS: without blocking the loop
            versions = await fresh() if fresh is not None else store.current_versions()
            self._versions = versions
            asyncio.get_running_loop().call_soon(self._forget_versions)  # after the tasks already scheduled
        return versions

    def _forget_versions(self) -> None:
        self._versions = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "GET" and _SEGMENT in scope["path"]
                and await self._hit(scope, send)):
            return
        await self.app(scope, receive, send)

    def _parse(self, scope: Scope) -> tuple[tuple[str, ...], bool, int, int, int, tuple[str, ...] | None] | None:
        key = (scope["path"], scope.get("query_string", b""))
        parsed = self._parsed.get(key, False)
        if parsed is False:
            if scope.get("root_path"):
                return _parse_request(scope)
            if len(self._parsed) >= 65_536:
                self._parsed.clear()
            parsed = self._parsed[key] = _parse_request(scope)
        return parsed

    async def _hit(self, scope: Scope, send: Send) -> bool:
        tiles: TileService | None = getattr(self.app.state, "tiles", None)
        if tiles is None or self.settings.auth_required_for_read:
            return False
        request = self._parse(scope)
        if request is None:
            return False
        refusal, has_body = self.edge._refusal(scope)
        if refusal is not None or has_body:
            return False
        ids, _, z, x, y, properties = request
        versions = await self._current_versions(tiles.store)
        if len(ids) == 1:
            version = versions.get(ids[0])
            if version is None:
                return False
            key = TileKey(((ids[0], version),), z, x, y, properties)
        else:
            try:
                key = TileKey(tuple((i, versions[i]) for i in ids), z, x, y, properties)
            except KeyError:
                return False
        entry = tiles.cache.get(key)
        if entry is None:
            return False
        accept_encoding, if_none_match = _conditional_headers(scope)
        plain = accept_encoding is None and if_none_match is None
        response = self._plain.get(entry) if plain else None
        if response is None:
            status, headers, body = tile_response_parts(tiles.cache, key, entry, accept_encoding, if_none_match,
                                                        self.settings.tile_cache_control, "hit")
            headers += self.security
            response = ({"type": "http.response.start", "status": status, "headers": headers},
                        {"type": "http.response.body", "body": body})
            if plain:  # the same two messages for every plain GET of this entry, made once
                self._plain[entry] = response
        await send(response[0])
        await send(response[1])
        return True


def with_tile_door(app: Any) -> Any:
    """``app`` behind a ``CachedTileDoor`` (what the uvicorn workers serve, ``geo_service.main``)."""
    return CachedTileDoor(app, app.state.settings)


def _conditional_headers(scope: Scope) -> tuple[str | None, str | None]:
    """The request's ``Accept-Encoding`` and ``If-None-Match`` (None when absent): what a cached tile answer
    depends on."""
    accept_encoding = if_none_match = None
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            accept_encoding = value.decode("latin-1")
        elif name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    return accept_encoding, if_none_match
