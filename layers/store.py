"""The store contract: a catalog of layers and their versions, and feature access.

Two implementations serve it: the embedded GeoPackage workspace (default) and PostGIS.
Every publish creates a new version; readers see the current version until a new one is committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.access import ApiKeyRecord, AuditEntry, RemovedLayer
from layers.errors import InvalidQuery
from layers.kinds import LayerKind

if TYPE_CHECKING:
    from layers.cql2 import Cql2Filter, SortKey
    from layers.crs import OutputCrs
from layers.progress import Progress

# provenance key: True when every geometry of the version was checked valid when it was normalised (ingest,
# source sync, upload); the analysis then skips its own check (``layers.normalise.validity_provenance``)
GEOMETRIES_VALID = "geometries_valid"
TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
              6: "MultiPolygon", 7: "GeometryCollection"}  # shapely type ids (-1, a missing geometry, is not one)


@dataclass(frozen=True)
class VersionRecord:
    """One published version of a layer."""

    layer_id: str
    version: int
    created: datetime
    feature_count: int
    geometry_type: str
    bbox: tuple[float, float, float, float]  # working CRS
    fields: dict[str, str]  # attribute name -> type ("int", "float", "str", "bool", "date", "datetime")
    provenance: dict[str, Any] = field(default_factory=dict)  # source, report, inputs of derived layers
    location: str = ""  # where the store keeps it (file or table)


def check_properties(record: VersionRecord, properties: Sequence[str]) -> None:
    """Refuse names that are not fields of ``record``: ``InvalidQuery('properties')`` naming them and the fields."""
    unknown = [p for p in properties if p not in record.fields]
    if unknown:
        raise InvalidQuery("properties", f"{record.layer_id!r} has no propert{'y' if len(unknown) == 1 else 'ies'} "
                           f"{', '.join(map(repr, unknown))}; properties: {', '.join(record.fields)}")


@dataclass(frozen=True)
class LayerRecord:
    """A layer as the catalog knows it, with its current version."""

    id: str
    kind: LayerKind
    title: str
    description: str
    attribution: str
    current: VersionRecord


@dataclass(frozen=True)
class LayerMeta:
    """What a publisher says about a layer beside its features."""

    kind: LayerKind
    title: str = ""
    description: str = ""
    attribution: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FeaturePage:
    """A page of features in the working CRS: ids, geometries and plain-Python properties."""

    ids: np.ndarray
    geometries: np.ndarray
    properties: list[dict[str, Any]]
    number_matched: int


def feature_page(record: VersionRecord, rows: Sequence[Sequence[Any]], matched: int,
                 decode: Callable[[list[Any]], np.ndarray],
                 convert: dict[str, Callable[[Any], Any]] | None = None) -> FeaturePage:
    """A page from store rows ``(fid, geometry, *properties in record.fields order)``.

    ``decode`` turns the geometry column into shapely geometries; ``convert`` maps a field type to a function
    applied to its non-null values (how each store's driver differs from plain JSON values).
    """
    if not rows:
        return FeaturePage(np.array([], dtype=np.int64), np.array([], dtype=object), [], matched)
    names = list(record.fields)
    fixes = [(name, convert[kind]) for name, kind in record.fields.items() if convert and kind in convert]
    properties = []
    for row in rows:
        props = dict(zip(names, row[2:], strict=True))
        for name, fix in fixes:
            if props[name] is not None:
                props[name] = fix(props[name])
        properties.append(props)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return FeaturePage(ids, decode([r[1] for r in rows]), properties, matched)


@dataclass(frozen=True)
class FeatureColumns:
    """Features as columns (working CRS): ids, geometries and one value list per requested property."""

    ids: np.ndarray
    geometries: np.ndarray
    columns: dict[str, list[Any]]


class StreamedWrite(Protocol):
    """A version being written (``Store.begin_publish``): committed by ``finish``, dropped by ``abandon``."""

    def finish(self, frame: gpd.GeoDataFrame, meta: LayerMeta, progress: Progress | None = None,
               before_commit: Callable[[], None] | None = None) -> VersionRecord:
        """Make the version current as ``Store.publish(frame, …)`` would: ``frame`` is the decoded layer whose
        rows were streamed. ``before_commit`` as in ``publish``."""
        ...

    def abandon(self) -> None:
        """Drop the version unless it has ended; nothing of it is ever seen."""
        ...


class Store(Protocol):
    """What every store does. Ids are validated by the caller (``layers.ids``)."""

    writes_wkb: bool  # whether ``publish`` uses the ``wkb`` it is handed (else a caller may let it go early)

    def list_layers(self) -> list[LayerRecord]: ...

    def get_layer(self, layer_id: str) -> LayerRecord: ...

    def versions(self, layer_id: str) -> list[VersionRecord]: ...

    def publish(self, layer_id: str, frame: gpd.GeoDataFrame, meta: LayerMeta,
                progress: Progress | None = None, before_commit: Callable[[], None] | None = None,
                wkb: np.ndarray | None = None) -> VersionRecord:
        """Write ``frame`` as a new version and make it current, atomically. ``before_commit`` is called once the
        version is written, before anyone can see it: if it raises, nothing is published (and it re-raises).
        ``wkb``: the frame's geometries as WKB, row for row, when the caller has them (an ingest, from the
        source read); a store may write those bytes instead of encoding the geometries again (not when they
        have Z or M: stores write 2D)."""
        ...

    def begin_publish(self, layer_id: str, attributes: pd.DataFrame, wkb: np.ndarray) -> StreamedWrite | None:
        """Start writing a new version before its geometries are decoded: from the source's ``wkb`` (the
        published geometries' WKB, if they turn out valid and unchanged) and the ``attributes`` as they will be
        published, row for row, alongside the caller's work. None when the store writes from decoded
        geometries only, or not these (then ``publish``). The caller ends what it gets with ``finish`` or
        ``abandon``."""
        ...

    def rollback(self, layer_id: str, version: int) -> LayerRecord: ...

    def exclusive(self, name: str) -> AbstractContextManager[None]:
        """Hold a lock named ``name`` across every process using this store (e.g. one derived refresh)."""
        ...

    def query(self, record: VersionRecord, bbox: tuple[float, float, float, float] | None,
              filters: dict[str, Any], limit: int, offset: int, *, cql: Cql2Filter | None = None,
              sortby: tuple[SortKey, ...] = ()) -> FeaturePage:
        """Features meeting ``bbox`` (working CRS), the equality ``filters`` and the CQL2 filter ``cql``, all
        pushed down to the store's SQL; ordered by ``sortby`` then fid; ``number_matched`` counts them all."""
        ...

    def get_feature(self, record: VersionRecord, feature_id: int) -> FeaturePage: ...

    def read_frame(self, record: VersionRecord,
                   bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame: ...

    def current_versions(self) -> dict[str, int]:
        """``{layer id: current version}``; cheap enough to call on every tile request (cached until a commit)."""
        ...

    def scan(self, record: VersionRecord, bbox: tuple[float, float, float, float],
             properties: list[str], limit: int | None = None) -> FeatureColumns:
        """Features whose envelope meets ``bbox`` (spatial index only, no exact test: tile clipping follows),
        in fid order; with ``limit``, only that many: those with the largest envelopes."""
        ...

    # -- access: API keys (hashed) and the audit log, kept with the catalog ----------------------------
    def add_api_key(self, record: ApiKeyRecord) -> None: ...

    def api_keys(self) -> list[ApiKeyRecord]: ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def revoke_api_key(self, key_id: str) -> bool: ...

    def remove_layer(self, layer_id: str) -> RemovedLayer:
        """Soft delete: hidden from every reader and the analysis; versions kept until purged."""
        ...

    def restore_layer(self, layer_id: str) -> None: ...

    def removed_layers(self) -> list[RemovedLayer]: ...

    def purge_removed(self, before: datetime) -> list[str]:
        """Delete for good the layers removed before ``before`` (the retention period has passed)."""
        ...

    def append_audit(self, entry: AuditEntry) -> None: ...

    def audit_entries(self, limit: int = 100, target: str | None = None) -> list[AuditEntry]: ...


@dataclass(frozen=True)
class GeoJSONPage:
    """A page of GeoJSON Features, already encoded: ``features`` is their comma-joined JSON (no brackets)."""

    layer: LayerRecord  # the layer as it was when the page was read (its version answered)
    features: bytes
    number_returned: int
    number_matched: int


@runtime_checkable
class GeoJSONWriter(Protocol):
    """A store that writes GeoJSON pages itself (PostGIS: the JSON is built in SQL).

    Same contract as ``Store.query`` followed by ``layers.geojson.encode_features``: the same features in the
    same order with the same JSON values. ``layer`` may be a cached record: the store answers from the layer's
    version current when the page is read and returns that layer record. None when it cannot write this page
    (the caller encodes it in Python).
    """

    def geojson_page(self, layer: LayerRecord, bbox: tuple[float, float, float, float] | None,
                     filters: dict[str, Any], limit: int, offset: int, *, cql: Cql2Filter | None,
                     sortby: tuple[SortKey, ...], target: OutputCrs) -> GeoJSONPage | None: ...


class TileEncoder(Protocol):
    """A store that makes vector tiles itself (PostGIS: ``ST_AsMVT``); ``maps.tiles`` uses it when present.

    Same contract as ``maps.tiles.render_layer``: features of ``record`` whose envelope meets ``bbox`` (the
    buffered tile in the working CRS), those under ``min_area`` tile units² (polygons) or ``min_length``
    units (lines) dropped, simplified by ``simplify`` units, clipped to the tile plus ``buffer`` units,
    encoded as one MVT layer ``name`` with fids as feature ids, in fid order; ``b""`` when none is left.
    """

    def mvt_tile(self, record: VersionRecord, z: int, x: int, y: int, bbox: tuple[float, float, float, float],
                 properties: Sequence[str], *, name: str, extent: int = 4096, buffer: int = 64,
                 simplify: float = 0.5, min_area: float = 16.0, min_length: float = 2.0) -> bytes: ...


# -- frames as both stores keep them -----------------------------------------------------------------
FID_COLUMN = "_feature_id"  # a frame with this column keeps those feature ids (edits: ids stable across versions)


def frame_geometry_type(frame: gpd.GeoDataFrame) -> str:
    """The geometry type a version is declared with: the one type, a family's multi type when single and
    multi parts are mixed, else ``Unknown``."""
    return geometry_type_of(shapely.get_type_id(np.asarray(frame.geometry.values, dtype=object)))


def geometry_type_of(type_ids: np.ndarray) -> str:
    """``frame_geometry_type`` of geometries with these shapely type ids."""
    types = {TYPE_NAMES.get(int(i)) for i in np.unique(type_ids)}  # a missing geometry (-1) is None
    if len(types) == 1:
        return types.pop()  # type: ignore[return-value]
    for family in ("Point", "LineString", "Polygon"):
        if types <= {family, f"Multi{family}"}:
            return f"Multi{family}"
    return "Unknown"


def frame_field_types(frame: pd.DataFrame) -> dict[str, str]:
    """``{field: int | float | bool | datetime | str}`` of a frame's attribute columns (read from the dtypes;
    a plain DataFrame is all attributes)."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    out: dict[str, str] = {}
    for name, dtype in frame.dtypes.items():
        if name in (geometry, FID_COLUMN):
            continue
        if pd.api.types.is_bool_dtype(dtype):
            out[str(name)] = "bool"
        elif pd.api.types.is_integer_dtype(dtype):
            out[str(name)] = "int"
        elif pd.api.types.is_float_dtype(dtype):
            out[str(name)] = "float"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out[str(name)] = "datetime"
        else:
            out[str(name)] = "str"
    return out


def coerce_filter(name: str, raw: Any, kind: str) -> Any:
    """The value of an equality filter ``?name=raw`` for a field of ``kind`` (``InvalidQuery`` when it is none)."""
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return {"true": 1, "false": 0, "1": 1, "0": 0}[str(raw).lower()]
    except (ValueError, KeyError):
        raise InvalidQuery(name, f"{name}={raw!r}: property {name!r} holds {kind} values") from None
    return str(raw)
