"""Vector tiles of a layer version: the WebMercatorQuad grid, tile geometry and MVT encoding.

One tile of one layer is made in five array steps, with no Python loop per feature:

1. **Grid**: the tile's bounds come from morecantile's ``WebMercatorQuad``; a buffer of ``BUFFER`` tile units
   (of ``EXTENT``) is added on every side so that strokes and labels do not break at tile edges.
2. **Read**: the buffered tile, taken back to the working CRS (EPSG:25832) through a 7 x 7 grid of
   control points, is the bbox handed to the store's spatial index (``Store.scan``): only features whose
   envelope meets the tile are read.
3. **Project**: working-CRS coordinates go straight to tile units. For z >= 8 a cubic polynomial fitted
   to the 49 control points (transformed exactly by PROJ) does it: its error is below 0.003 tile units
   at z8 and below 1e-6 at z12 (``tests/maps/test_tiles.py`` checks it against PROJ), and it costs a few
   vectorised multiply-adds instead of a PROJ call per vertex. Lower zooms use PROJ directly.
4. **Clip and generalise**: only features crossing the buffered tile edge are clipped (GEOS
   ``clip_by_rect``); features smaller than ``MIN_AREA`` tile units² (polygons; a quarter pixel of a tile
   drawn at 512 px) or ``MIN_LENGTH`` units (lines) are dropped; coordinates snap to the tile grid, and
   repeated points and collapsed rings go (the encoder does it, vectorised).
5. **Encode**: ``maps.mvt.encode_layer`` (vectorised; ids and attributes kept).

Budget: a tile holds at most ``TILE_BUDGET`` bytes (500 kB, tippecanoe's default). Dense low-zoom tiles are
made on a coarser grid (2, 4, … units, with the minimum sizes scaled alike): the grid is chosen up front from
an estimate of the encoded size and coarsened again while the tile is still over the budget. Snapping to a
grid of a few units of 4096 stays below a pixel on screen and costs nothing, unlike Douglas-Peucker.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import morecantile
import numpy as np
import shapely

from layers.crs import WORKING_EPSG, bounds_to_crs84, transformer
from layers.errors import InvalidQuery
from layers.store import LayerRecord, Store, VersionRecord
from layers.store import check_properties as _known_properties
from maps.coverage import encode_cells, measure
from maps.mvt import EXTENT, encode_layer
from maps.tile_cache import TileCache, TileEntry, TileKey

TMS = morecantile.tms.get("WebMercatorQuad")
TMS_ID = "WebMercatorQuad"
MVT = "application/vnd.mapbox-vector-tile"
BUFFER = 64  # tile units on each side
MIN_ZOOM, MAX_ZOOM = TMS.minzoom, TMS.maxzoom  # what the grid allows (0..24)
TILEJSON_MAXZOOM = 16  # what TileJSON advertises; clients overzoom beyond it
TILE_BUDGET = 500_000  # bytes per tile (per layer)
SIMPLIFY = 0.5  # tile units: the Douglas-Peucker tolerance equivalent to snapping to the tile grid
MIN_AREA = 16.0  # tile units²: a quarter of a pixel when a tile is drawn at 512 px (64 units² per pixel)
MIN_LENGTH = 2.0  # tile units
MAX_LEVEL = 5  # generalisation levels before features are dropped to hold the budget
MAX_FEATURES = 1_000_000  # per layer and tile read at most (largest envelopes first): a memory bound only
COVERAGE_MAX_ZOOM = 9  # up to this zoom every store's tiles are made here (dense tiles become coverage cells)
COVERAGE_LOSS = 0.005  # share of a polygon tile's area that may go undrawn before it is drawn as coverage cells
CLASS_FIELDS = ("arealtype", "arealformal", "risk", "business_status", "status", "vernetype", "kategori")
SAMPLE = 1_000  # features encoded to choose the generalisation of a dense tile
RENDER_WAIT_SECONDS = 30.0  # how long a request waits for another thread rendering the same tile
POLYNOMIAL_MIN_ZOOM = 8
_CONTROL = 7  # control points per side
_UNIT_X, _UNIT_Y = (a.ravel() for a in np.meshgrid(np.linspace(0, 1, _CONTROL), np.linspace(0, 1, _CONTROL)))


class TileOutOfRange(InvalidQuery):
    """z, x or y outside the WebMercatorQuad grid (404 at the edge); ``parameter`` names which."""


def check_tile(z: int, x: int, y: int) -> None:
    """Raise ``TileOutOfRange`` naming the first of z, x, y that is outside the grid."""
    if not MIN_ZOOM <= z <= MAX_ZOOM:
        raise TileOutOfRange("z", f"zoom level z={z} is outside WebMercatorQuad ({MIN_ZOOM}..{MAX_ZOOM})")
    n = 1 << z
    if not 0 <= x < n:
        raise TileOutOfRange("x", f"tile column x={x} is outside 0..{n - 1} at zoom {z}")
    if not 0 <= y < n:
        raise TileOutOfRange("y", f"tile row y={y} is outside 0..{n - 1} at zoom {z}")


def parse_properties(value: str | None) -> tuple[str, ...] | None:
    """``properties=a,b`` as a tuple (empty string: no attributes); ``None`` means all."""
    if value is None:
        return None
    return tuple(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))


def parse_collections(value: str | None) -> tuple[str, ...]:
    """``collections=a,b,c`` as a tuple without repeats; none at all raises ``InvalidQuery('collections')``."""
    ids = tuple(dict.fromkeys(c.strip() for c in (value or "").split(",") if c.strip()))
    if not ids:
        raise InvalidQuery("collections", "collections=a,b,… must name at least one collection")
    return ids


def check_properties(record: VersionRecord, properties: tuple[str, ...] | None) -> list[str]:
    """The attribute names a tile of ``record`` carries; unknown names raise ``InvalidQuery('properties')``."""
    if properties is None:
        return list(record.fields)
    _known_properties(record, properties)
    return list(properties)


# -- projection to tile units --------------------------------------------------------------------
@dataclass(frozen=True)
class TileFrame:
    """Where a tile is: its bbox in the working CRS and the map from working-CRS coordinates to tile units."""

    z: int
    x: int
    y: int
    source_bbox: tuple[float, float, float, float]
    origin: tuple[float, float]  # (left, top) in EPSG:3857
    scale: float  # tile units per metre of EPSG:3857
    coeffs: np.ndarray | None  # (2, terms) polynomial in normalised source coordinates, or None: use PROJ
    centre: tuple[float, float, float]  # normalisation of source coordinates: cx, cy, half-size

    def to_tile(self, xy: np.ndarray) -> np.ndarray:
        """Working-CRS coordinates (n, 2) -> tile units (n, 2), y pointing down."""
        if self.coeffs is None:
            mx, my = transformer(WORKING_EPSG, 3857).transform(xy[:, 0], xy[:, 1])
            return np.column_stack(((mx - self.origin[0]) * self.scale, (self.origin[1] - my) * self.scale))
        cx, cy, s = self.centre
        u = (xy[:, 0] - cx) / s
        v = (xy[:, 1] - cy) / s
        # Horner form, element-wise (not a matrix product, whose blocking may round equal rows differently:
        # rings must stay closed bit for bit); c: 1, u, v, u², uv, v², u³, u²v, uv², v³
        out = np.empty_like(xy)
        for axis in (0, 1):
            c = self.coeffs[axis]
            inner = c[6] * u
            inner += c[3]
            inner += c[7] * v
            inner *= u
            inner += (c[8] * v + c[4]) * v
            inner += c[1]
            inner *= u
            tail = c[9] * v
            tail += c[5]
            tail *= v
            tail += c[2]
            tail *= v
            inner += tail
            inner += c[0]
            out[:, axis] = inner
        return out


def _monomials(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """1, u, v, u², uv, v², u³, u²v, uv², v³ as columns."""
    uu, vv = u * u, v * v
    return np.column_stack((np.ones_like(u), u, v, uu, u * v, vv, uu * u, uu * v, u * vv, vv * v))


@lru_cache(maxsize=4096)
def tile_frame(z: int, x: int, y: int) -> TileFrame:
    """The ``TileFrame`` of a tile (cached: a tile's frame never changes)."""
    b = TMS.xy_bounds(x, y, z)
    size = b.right - b.left
    pad = size * BUFFER / EXTENT
    gx = (b.left - pad) + _UNIT_X * (size + 2 * pad)
    gy = (b.bottom - pad) + _UNIT_Y * (size + 2 * pad)
    sx, sy = transformer(3857, WORKING_EPSG).transform(gx, gy)
    sx, sy = np.asarray(sx), np.asarray(sy)
    margin = (sx.max() - sx.min()) * 1e-3  # edges bow a little between control points
    source_bbox = (float(sx.min() - margin), float(sy.min() - margin),
                   float(sx.max() + margin), float(sy.max() + margin))
    scale = EXTENT / size
    cx, cy = float(sx.mean()), float(sy.mean())
    half = float(max(sx.max() - sx.min(), sy.max() - sy.min()) / 2)
    coeffs = None
    if z >= POLYNOMIAL_MIN_ZOOM:
        terms = _monomials((sx - cx) / half, (sy - cy) / half)
        target = np.column_stack(((gx - b.left) * scale, (b.top - gy) * scale))
        # least squares through the normal equations: a 10 x 10 solve, ~10x cheaper than an SVD here
        coeffs = np.linalg.solve(terms.T @ terms, terms.T @ target).T.copy()
    return TileFrame(z, x, y, source_bbox, (b.left, b.top), scale, coeffs, (cx, cy, half))


def prepare_render_thread() -> None:
    """Set up in the calling thread what its first tile would otherwise pay for: pyproj makes its PROJ objects
    per thread, ~80 ms of CPU on a thread's first transform (more than 30 small tiles take)."""
    for src, dst in ((3857, WORKING_EPSG), (WORKING_EPSG, 3857)):
        transformer(src, dst).transform(0.0, 0.0)


# -- one layer -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Generalisation:
    """How much a tile's outlines are generalised, by ``level`` (0: only what the tile grid removes).

    Level L >= 1 thins outlines by dropping vertices that add at most 4^(L-1) units² (``maps.mvt_geometry._thin``);
    from level 3 the grid coarsens to 2^(L-2) units. Features under ``MIN_AREA`` units² / ``MIN_LENGTH``
    units are dropped at every level.
    """

    level: int = 0

    @property
    def quantum(self) -> int:
        return 1 << max(0, self.level - 2)

    @property
    def thin(self) -> float:
        return 0.0 if self.level == 0 else float(4 ** (self.level - 1))

    @property
    def min_area(self) -> float:
        return MIN_AREA

    @property
    def min_length(self) -> float:
        return MIN_LENGTH

    @property
    def simplify(self) -> float:
        """The equivalent Douglas-Peucker tolerance (for stores that simplify instead of thinning)."""
        return SIMPLIFY * 2**self.level

    def coarser(self) -> Generalisation:
        return Generalisation(self.level + 1)


def project(geoms: np.ndarray, frame: TileFrame) -> None:
    """Move working-CRS geometries to tile units, in place (they are the store's fresh copies)."""
    if len(geoms):
        shapely.set_coordinates(geoms, frame.to_tile(shapely.get_coordinates(geoms)))


@dataclass(frozen=True)
class TileFeatures:
    """A tile's features in tile units, clipped to the buffered tile, with what generalisation needs."""

    index: np.ndarray  # rows of the store's answer
    geometries: np.ndarray
    dimension: np.ndarray  # 0 points, 1 lines, 2 polygons
    size: np.ndarray  # area (polygons) or length (lines) before clipping, tile units
    vertices: np.ndarray
    perimeter: np.ndarray

    def drawable(self) -> np.ndarray:
        """Positions of the features big enough to draw (``MIN_AREA``, ``MIN_LENGTH``)."""
        small = ((self.dimension == 2) & (self.size < MIN_AREA)) | ((self.dimension == 1) & (self.size < MIN_LENGTH))
        return np.flatnonzero(~small)

    def estimate(self, keep: np.ndarray) -> float:
        """Bytes these features take encoded at level 0, roughly: ~2.3 per vertex on the grid, 12 per feature."""
        vertices = np.minimum(self.vertices[keep], self.perimeter[keep] + 4)
        return float(2.3 * vertices.sum() + 12 * len(keep))

    def largest(self, keep: np.ndarray, count: int) -> np.ndarray:
        """The ``count`` biggest of the ``keep`` features (by area or length), in their original order."""
        order = np.argsort(-self.size[keep], kind="stable")[:max(1, count)]
        return np.sort(keep[order])


def clip_to_tile(geoms: np.ndarray) -> TileFeatures:
    """Drop features outside the buffered tile and clip those crossing its edge (tile units).

    ``geoms`` are left untouched; sizes are measured before clipping, so a big field barely reaching
    into a low-zoom tile is not mistaken for a small one.
    """
    lo, hi = -BUFFER, EXTENT + BUFFER
    bounds = shapely.bounds(geoms)
    index = np.flatnonzero((bounds[:, 0] <= hi) & (bounds[:, 2] >= lo) & (bounds[:, 1] <= hi) & (bounds[:, 3] >= lo))
    out, bounds = geoms[index], bounds[index]  # a new array: geoms stay as they were
    dim = shapely.get_dimensions(out)
    length = shapely.length(out)
    size = np.where(dim == 2, shapely.area(out), length)
    crossing = (bounds[:, 0] < lo) | (bounds[:, 1] < lo) | (bounds[:, 2] > hi) | (bounds[:, 3] > hi)
    if crossing.any():
        out[crossing] = shapely.clip_by_rect(out[crossing], lo, lo, hi, hi)
    return TileFeatures(index, out, dim, size, shapely.get_num_coordinates(out), length)


def render_layer(store: Store, record: VersionRecord, z: int, x: int, y: int,
                 properties: Sequence[str], name: str | None = None, budget: int = TILE_BUDGET) -> bytes:
    """One layer of one tile as MVT bytes (a ``Tile`` message); ``b""`` when the tile has no feature there.

    Dense tiles are generalised (``Generalisation``) at a level chosen on an encoded sample, then coarsened
    again while the result is over ``budget``. A polygon tile that would still leave area undrawn (more
    than ``COVERAGE_LOSS`` of it in sub-pixel features, or features dropped for the budget) is drawn as
    coverage cells per class instead (``maps.coverage``): no holes, the class areas kept.
    Stores that encode tiles themselves (PostGIS ``ST_AsMVT``) do so above ``COVERAGE_MAX_ZOOM``.
    """
    frame = tile_frame(z, x, y)
    layer_name = name or record.layer_id
    in_store = getattr(store, "mvt_tile", None)  # ``layers.store.TileEncoder`` (PostGIS: ST_AsMVT)
    if in_store is not None and z > COVERAGE_MAX_ZOOM:  # the store encodes, same generalisation and budget
        general = Generalisation()
        for _ in range(12):
            data = in_store(record, z, x, y, frame.source_bbox, list(properties), name=layer_name,
                            extent=EXTENT, buffer=BUFFER, simplify=general.simplify, min_area=general.min_area,
                            min_length=general.min_length)
            if len(data) <= budget:
                break
            general = general.coarser()
        return data
    found = store.scan(record, frame.source_bbox, list(properties), limit=MAX_FEATURES)
    if not len(found.ids):
        return b""
    project(found.geometries, frame)
    features = clip_to_tile(found.geometries)
    keep = features.drawable()
    level, keep = _plan(features, keep, found.ids, len(found.columns), budget)
    if _undrawn_share(features, keep) > COVERAGE_LOSS:
        return _coverage_tile(layer_name, features, found.columns, budget)
    while True:
        general = Generalisation(level)
        rows = features.index[keep]
        select = rows.tolist()
        columns = {k: [v[i] for i in select] for k, v in found.columns.items()}
        data = encode_layer(layer_name, features.geometries[keep], found.ids[rows], columns,
                            quantum=general.quantum, thin=general.thin)
        if len(data) <= budget or len(keep) <= 1:
            return data
        if level < MAX_LEVEL:
            level += 1
        else:  # still over: drop the smallest features, as many as needed
            keep = features.largest(keep, int(len(keep) * budget / len(data) * 0.9))


def _undrawn_share(features: TileFeatures, keep: np.ndarray) -> float:
    """Share of a polygon-only tile's area (before clipping) that ``keep`` leaves out; 0 for other tiles."""
    if not len(features.dimension) or (features.dimension != 2).any():
        return 0.0
    total = float(features.size.sum())
    return 0.0 if total <= 0 else 1.0 - float(features.size[keep].sum()) / total


def _coverage_tile(name: str, features: TileFeatures, columns: Mapping[str, list[Any]], budget: int) -> bytes:
    """The tile's polygons as one coverage-cell MultiPolygon per class (``maps.coverage``), without ids."""
    field = class_field(columns)
    rows = features.index.tolist()
    classes = [columns[field][i] for i in rows] if field else [None] * len(rows)
    return encode_cells(name, measure(features.geometries, classes, -BUFFER, EXTENT + BUFFER), field, budget)


def class_field(fields: Sequence[str] | Mapping[str, Any]) -> str | None:
    """The attribute coverage cells keep apart (``CLASS_FIELDS``, first present), or None."""
    return next((f for f in CLASS_FIELDS if f in fields), None)


def _plan(features: TileFeatures, keep: np.ndarray, ids: np.ndarray, n_columns: int, budget: int
          ) -> tuple[int, np.ndarray]:
    """The generalisation level (and, past ``MAX_LEVEL``, the features) that should fit ``budget``.

    Decided on an encoded sample of ``SAMPLE`` features, so a dense tile is encoded in full once, not once
    per level tried.
    """
    if features.estimate(keep) <= 0.8 * budget:
        return 0, keep
    sample = keep[:: max(1, len(keep) // SAMPLE)]
    per_feature_extra = 4 + 2 * n_columns  # tags and their field header, beside ids and geometry
    predicted = 0.0
    for level in range(1, MAX_LEVEL + 1):
        general = Generalisation(level)
        size = len(encode_layer("s", features.geometries[sample], ids[features.index[sample]], None,
                                quantum=general.quantum, thin=general.thin))
        predicted = (size + per_feature_extra * len(sample)) * len(keep) / len(sample)
        if predicted <= 0.85 * budget:
            return level, keep
    return MAX_LEVEL, features.largest(keep, int(len(keep) * 0.85 * budget / predicted))


def layer_fields(layer: LayerRecord) -> dict[str, str]:
    """TileJSON ``vector_layers[].fields``: attribute name -> Number, String or Boolean."""
    kinds = {"int": "Number", "float": "Number", "bool": "Boolean"}
    return {name: kinds.get(kind, "String") for name, kind in layer.current.fields.items()}


# -- the cached service --------------------------------------------------------------------------
class LowZoomSource(Protocol):
    """Low-zoom tiles made another way than from the features (``maps.lowzoom.LowZoomGrids``)."""

    def tile(self, record: VersionRecord, z: int, x: int, y: int, names: Sequence[str], name: str
             ) -> bytes | None: ...


class Renderer(Protocol):
    """``render_layer`` done elsewhere (``maps.render_processes.ProcessRenderer``)."""

    def __call__(self, record: VersionRecord, z: int, x: int, y: int, names: Sequence[str], name: str
                 ) -> bytes: ...


class TileService:
    """Tiles of the store's current layer versions through a ``TileCache`` (memory, then disk, then render)."""

    def __init__(self, store: Store, cache: TileCache, low_zoom: LowZoomSource | None = None,
                 renderer: Renderer | None = None) -> None:
        self.store = store
        self.cache = cache
        self.low_zoom = low_zoom  # draws z <= COVERAGE_MAX_ZOOM of big polygon layers (maps.lowzoom)
        self.renderer = renderer  # renders elsewhere (maps.render_processes); None: here, in the caller's thread
        self._rendering: dict[TileKey, threading.Event] = {}  # single flight: one render per key at a time
        self._rendering_lock = threading.Lock()
        self._layers: dict[tuple[str, int], LayerRecord] = {}  # (layer id, version) -> catalog record

    def current_layer(self, layer_id: str, versions: Mapping[str, int] | None = None) -> LayerRecord:
        """The catalog record of ``layer_id`` at its current version (``versions``: read just now by the caller,
        else ``Store.current_versions``). Read from the store once per version; unknown ids raise
        ``LayerNotFound`` as ``Store.get_layer`` does."""
        if versions is None:
            versions = self.store.current_versions()
        version = versions.get(layer_id)
        found = None if version is None else self._layers.get((layer_id, version))
        if found is None:
            found = self.store.get_layer(layer_id)
            if found.current.version == version:
                if len(self._layers) >= 1024:
                    self._layers.clear()
                self._layers[(layer_id, version)] = found
        return found

    def cached(self, layer_ids: Sequence[str], z: int, x: int, y: int,
               properties: tuple[str, ...] | None = None,
               versions: Mapping[str, int] | None = None) -> tuple[TileKey, TileEntry] | None:
        """A memory hit for the *current* versions of ``layer_ids``, or None (unknown layer or not cached).

        This is the ASGI fast path's whole lookup: one cheap catalog check (``Store.current_versions``) and
        one dict lookup. Only valid tiles are ever cached, so a hit needs no further validation.
        """
        if versions is None:  # else read just now by the caller (PostGIS: ``current_versions_async``)
            versions = self.store.current_versions()
        try:
            layers = tuple((layer_id, versions[layer_id]) for layer_id in layer_ids)
        except KeyError:
            return None
        key = TileKey(layers, z, x, y, properties)
        entry = self.cache.get(key)
        return None if entry is None else (key, entry)

    def layer_tile(self, layer: LayerRecord, z: int, x: int, y: int,
                   properties: tuple[str, ...] | None = None) -> tuple[TileKey, TileEntry]:
        """One layer's tile at its current version; validates z/x/y and ``properties`` first."""
        check_tile(z, x, y)
        names = check_properties(layer.current, properties)
        record = layer.current
        key = TileKey(((layer.id, record.version),), z, x, y, properties)
        entry = self.cache.get(key)
        if entry is not None:
            return key, entry
        with self._rendering_lock:
            busy = self._rendering.get(key)
            if busy is None:
                self._rendering[key] = threading.Event()
        if busy is not None:  # another thread is making this very tile: wait for it rather than redo it
            busy.wait(RENDER_WAIT_SECONDS)
            entry = self.cache.get(key)
            if entry is not None:
                return key, entry
        try:
            path = self.cache.disk_path(layer.id, record.version, record.location, z, x, y, properties)
            data = self.cache.read_disk(path)
            if data is None and self.low_zoom is not None:
                data = self.low_zoom.tile(record, z, x, y, names, layer.id)
            if data is None:
                if self.renderer is not None:
                    data = self.renderer(record, z, x, y, names, layer.id)
                else:
                    data = render_layer(self.store, record, z, x, y, names, name=layer.id)
                self.cache.write_disk(path, data)
            return key, self.cache.put(key, TileEntry(data))
        finally:
            if busy is None:
                with self._rendering_lock:
                    self._rendering.pop(key).set()

    def tile(self, layers: Sequence[LayerRecord], z: int, x: int, y: int) -> tuple[TileKey, TileEntry]:
        """Several layers in one tile (each a layer named after its collection, all attributes)."""
        check_tile(z, x, y)
        key = TileKey(tuple((layer.id, layer.current.version) for layer in layers), z, x, y, None)
        entry = self.cache.get(key)
        if entry is not None:
            return key, entry
        # a multi-layer tile is its single-layer tiles one after the other (Tile.layers is a repeated field)
        data = b"".join(self.layer_tile(layer, z, x, y)[1].data for layer in layers)
        return key, self.cache.put(key, TileEntry(data))


@dataclass(frozen=True)
class SeedReport:
    """What ``seed`` rendered."""

    tiles: int
    non_empty: int
    bytes: int


def seed(service: TileService, layer: LayerRecord, zooms: Sequence[int]) -> SeedReport:
    """Render every tile of ``layer``'s current version at ``zooms`` over its extent through ``service``
    (with a disk tier, this pre-renders the costly low zooms once for every worker and restart)."""
    west, south, east, north = bounds_to_crs84(layer.current.bbox)
    tiles = non_empty = size = 0
    for t in TMS.tiles(west, south, east, north, list(zooms)):
        _, entry = service.layer_tile(layer, t.z, t.x, t.y)
        tiles += 1
        non_empty += bool(entry.data)
        size += len(entry.data)
    return SeedReport(tiles, non_empty, size)


def tilejson(layers: Sequence[LayerRecord], tiles_url: str, name: str = "") -> dict[str, Any]:
    """A TileJSON 3.0.0 document for tiles of ``layers`` at ``tiles_url`` (with ``{z}/{x}/{y}`` in it)."""
    bounds = [180.0, 90.0, -180.0, -90.0]
    for layer in layers:
        w, s, e, n = bounds_to_crs84(layer.current.bbox)
        bounds = [min(bounds[0], w), min(bounds[1], s), max(bounds[2], e), max(bounds[3], n)]
    centre_zoom = max(0, min(TILEJSON_MAXZOOM, TMS.zoom_for_res(
        max(bounds[2] - bounds[0], 1e-6) * 111_320 / 512)))  # the zoom whose 512 px tile spans the data
    attribution = "; ".join(dict.fromkeys(layer.attribution for layer in layers if layer.attribution))
    return {
        "tilejson": "3.0.0",
        "name": name or ", ".join(layer.title for layer in layers),
        "description": " ".join(layer.description for layer in layers).strip(),
        "version": "1.0.0",
        "attribution": attribution,
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": 0,
        "maxzoom": TILEJSON_MAXZOOM,
        "bounds": [round(v, 6) for v in bounds],
        "center": [round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6), centre_zoom],
        "vector_layers": [{
            "id": layer.id,
            "description": layer.title,
            "minzoom": 0,
            "maxzoom": TILEJSON_MAXZOOM,
            "fields": layer_fields(layer),
            "geometry_type": layer.current.geometry_type,
            "version": layer.current.version,
        } for layer in layers],
    }
