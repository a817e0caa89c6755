"""The embedded default store: a workspace folder of GeoPackages and a SQLite catalog.

Layout::

    WORKSPACE/catalog.sqlite                   layers, versions (WAL mode: readers never wait)
    WORKSPACE/layers/<id>/<id>-<token>.gpkg     one immutable GeoPackage per version, opens in QGIS

A publish writes a temporary GeoPackage, renames it into place and only then commits the catalog
row in one transaction, so a failure at any step leaves every published version untouched. A publish that
was killed (``kill -9``, power loss) leaves files no version points to; they are removed when the store is
opened and before every publish (see ``_clean_leftovers``): a publish holds an ``flock`` on its
``.<id>-<token>.writing`` marker while it writes, so only files of dead publishes are ever removed. Reads
go straight to SQLite: the bbox is answered from the GeoPackage R-tree, then refined exactly with
shapely only for features whose envelope crosses the bbox edge.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers.access import public_provenance, version_meta, with_layer_meta
from layers.access_gpkg import ACCESS_SCHEMA, GeoPackageAccess, upgrade_catalog
from layers.errors import FeatureNotFound, InvalidQuery, LayerNotFound, VersionNotFound
from layers.ids import check_layer_id
from layers.kinds import LayerKind
from layers.progress import NoProgress, Progress
from layers.publish_markers import MARKER, hold_marker, is_held, release_marker, remove_if_empty
from layers.store import (
    FID_COLUMN,
    FeatureColumns,
    FeaturePage,
    LayerMeta,
    LayerRecord,
    VersionRecord,
    check_properties,
    coerce_filter,
    feature_page,
    frame_field_types,
    frame_geometry_type,
)

if TYPE_CHECKING:  # the CQL2 modules (pygeofilter) load with the first feature query, not for `analyse`
    from layers.cql2 import Cql2Filter, SortKey

_SCHEMA = """
CREATE TABLE IF NOT EXISTS layers (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL,
    attribution TEXT NOT NULL, current_version INTEGER NOT NULL, updated TEXT NOT NULL, removed TEXT);
CREATE TABLE IF NOT EXISTS versions (
    layer_id TEXT NOT NULL, version INTEGER NOT NULL, created TEXT NOT NULL, feature_count INTEGER NOT NULL,
    geometry_type TEXT NOT NULL, bbox TEXT NOT NULL, fields TEXT NOT NULL, provenance TEXT NOT NULL,
    location TEXT NOT NULL, PRIMARY KEY (layer_id, version));
"""
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_MMAP_BYTES = 1 << 30  # address space per version file (not memory)
GEOMETRY_COLUMN = "geom"


class GeoPackageStore(GeoPackageAccess):
    """A ``Store`` on a workspace folder (see module docstring)."""

    writes_wkb = False  # GDAL writes each version file from the geometries

    def __init__(self, workspace: Path) -> None:
        self.workspace = Path(workspace)
        self.workspace.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._write() as db:
            for statement in (_SCHEMA + ACCESS_SCHEMA).split(";"):
                if statement.strip():
                    db.execute(statement)
            upgrade_catalog(db)
        self.removed_leftovers = self._clean_leftovers()

    @classmethod
    def reader(cls, workspace: Path) -> GeoPackageStore:
        """A store on ``workspace`` that only reads version files (``scan``, ``query``, ``read_frame``): no
        catalog set-up and no clean-up at opening (a tile render process, ``maps.render_processes``)."""
        store = cls.__new__(cls)
        store.workspace = Path(workspace)
        store._local = threading.local()
        store.removed_leftovers = []
        return store

    # -- catalog -------------------------------------------------------------------------------
    def _catalog(self) -> sqlite3.Connection:
        db = getattr(self._local, "catalog", None)
        if db is None:
            db = sqlite3.connect(self.workspace / "catalog.sqlite", timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.catalog = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._catalog()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def list_layers(self) -> list[LayerRecord]:
        rows = self._catalog().execute(
            f"SELECT {_LAYER_COLS} FROM layers l JOIN versions v "
            "ON v.layer_id = l.id AND v.version = l.current_version WHERE l.removed IS NULL ORDER BY l.id").fetchall()
        return [_layer(r) for r in rows]

    def get_layer(self, layer_id: str) -> LayerRecord:
        row = self._catalog().execute(
            f"SELECT {_LAYER_COLS} FROM layers l JOIN versions v "
            "ON v.layer_id = l.id AND v.version = l.current_version WHERE l.id = ? AND l.removed IS NULL",
            (layer_id,)).fetchone()
        if row is None:
            raise LayerNotFound(f"no layer {layer_id!r}; list the published layers with `geo-service layers list`")
        return _layer(row)

    def current_versions(self) -> dict[str, int]:
        """``{layer id: current version}``, re-read only after some connection committed to the catalog.

        ``PRAGMA data_version`` changes whenever another connection (in this process or any other) commits,
        so a call costs one pragma and is never stale. The watching connection itself never writes.
        """
        local = self._local
        watch = getattr(local, "watch", None)
        if watch is None:
            watch = local.watch = sqlite3.connect(self.workspace / "catalog.sqlite", timeout=30,
                                                  isolation_level=None, check_same_thread=True)
            local.watched = (None, {})
        (stamp,) = watch.execute("PRAGMA data_version").fetchone()
        seen, versions = local.watched
        if stamp != seen:
            versions = dict(watch.execute("SELECT id, current_version FROM layers WHERE removed IS NULL").fetchall())
            local.watched = (stamp, versions)
        return versions

    def versions(self, layer_id: str) -> list[VersionRecord]:
        self.get_layer(layer_id)
        rows = self._catalog().execute(
            f"SELECT {_VERSION_COLS} FROM versions v WHERE layer_id = ? ORDER BY version", (layer_id,)).fetchall()
        return [_version(r) for r in rows]

    def begin_publish(self, layer_id: str, attributes: pd.DataFrame, wkb: np.ndarray) -> None:
        """None: GDAL writes a version file from decoded geometries (``publish``)."""
        return

    def rollback(self, layer_id: str, version: int) -> LayerRecord:
        with self._write() as db:
            exists = db.execute("SELECT 1 FROM versions WHERE layer_id = ? AND version = ?",
                                (layer_id, version)).fetchone()
            if exists is None:
                known = [r[0] for r in db.execute(
                    "SELECT version FROM versions WHERE layer_id = ? ORDER BY version", (layer_id,))]
                if not known:
                    raise LayerNotFound(f"no layer {layer_id!r}; list the published layers with `geo-service layers list`")
                raise VersionNotFound(f"layer {layer_id!r} has no version {version}; versions: "
                                      f"{', '.join(map(str, known))}")
            (provenance,) = db.execute("SELECT provenance FROM versions WHERE layer_id = ? AND version = ?",
                                       (layer_id, version)).fetchone()
            title, description, attribution = version_meta(json.loads(provenance))
            db.execute("UPDATE layers SET current_version = ?, updated = ?, removed = NULL, "
                       "title = COALESCE(?, title), description = COALESCE(?, description), "
                       "attribution = COALESCE(?, attribution) WHERE id = ?",
                       (version, _now(), title, description, attribution, layer_id))
        return self.get_layer(layer_id)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """An advisory file lock in the workspace, held by one process (and thread) at a time."""
        folder = self.workspace / ".locks"
        folder.mkdir(exist_ok=True)
        with open(folder / f"{name}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- publish -------------------------------------------------------------------------------
    def publish(self, layer_id: str, frame: gpd.GeoDataFrame, meta: LayerMeta,
                progress: Progress | None = None, before_commit: Callable[[], None] | None = None,
                wkb: np.ndarray | None = None) -> VersionRecord:
        """Write ``frame`` (working CRS) as a new version and make it current, atomically (``before_commit``
        runs once the version file is written, before it is renamed into place and entered in the catalog).
        ``wkb`` is not used: GDAL writes the version file from the geometries. Versions are 2D, as in PostGIS."""
        check_layer_id(layer_id)
        progress = progress or NoProgress()
        progress.stage("writing", len(frame))
        geoms = np.asarray(frame.geometry.values, dtype=object)
        if shapely.has_z(geoms).any():
            frame = frame.copy()
            frame[frame.geometry.name] = gpd.GeoSeries(shapely.force_2d(geoms), index=frame.index, crs=frame.crs)
        self._clean_leftovers()
        folder = self.workspace / "layers" / layer_id
        token = uuid.uuid4().hex[:12]
        tmp = folder / f".{layer_id}-{token}.tmp.gpkg"
        final = folder / f"{layer_id}-{token}.gpkg"
        marker = hold_marker(folder, f".{layer_id}-{token}{MARKER}")
        try:
            _write_gpkg(frame, tmp, layer_id, progress)
            if before_commit is not None:
                before_commit()
            os.replace(tmp, final)
            bounds = tuple(float(v) for v in frame.total_bounds)
            fields = frame_field_types(frame)
            geometry_type = frame_geometry_type(frame)
            with self._write() as db:
                (version,) = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE layer_id = ?",
                                        (layer_id,)).fetchone()
                created = _now()
                db.execute(
                    "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (layer_id, version, created, len(frame), geometry_type, json.dumps(bounds),
                     json.dumps(fields), json.dumps(with_layer_meta(meta), default=str), str(final)))
                db.execute(
                    "INSERT INTO layers VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "kind = excluded.kind, title = excluded.title, description = excluded.description, "
                    "attribution = excluded.attribution, current_version = excluded.current_version, "
                    "updated = excluded.updated, removed = NULL",
                    (layer_id, meta.kind.value, meta.title or layer_id, meta.description, meta.attribution,
                     version, created, None))
        except BaseException:
            for leftover in folder.glob(f"*{layer_id}-{token}*"):
                if leftover.name != Path(marker.name).name:
                    leftover.unlink(missing_ok=True)
            release_marker(marker)
            remove_if_empty(folder)
            raise
        release_marker(marker)
        return self.versions(layer_id)[-1]

    def _clean_leftovers(self) -> list[str]:
        """Remove what killed publishes left: temporary GeoPackages and their journals, version files no catalog
        row points to, and empty layer folders. Files of a publish still running (its marker is locked) stay.

        The order makes it safe against publishes running meanwhile in other processes: files are listed first,
        then markers checked, then the catalog read (a publish holds its marker from before its first file
        until after its catalog commit). Returns the removed paths (relative to the workspace).
        """
        root = self.workspace / "layers"
        if not root.is_dir():
            return []
        removed: list[str] = []
        listing = {folder: sorted(folder.iterdir()) for folder in sorted(root.iterdir()) if folder.is_dir()}
        live: set[str] = set()
        for folder in listing:
            for marker in folder.glob(f".*{MARKER}"):
                if is_held(marker):
                    live.add(marker.name[1:-len(MARKER)])  # "<id>-<token>"
                else:
                    marker.unlink(missing_ok=True)
                    removed.append(str(marker.relative_to(self.workspace)))
        known = {Path(r[0]).name for r in self._catalog().execute("SELECT location FROM versions")}
        for folder, paths in listing.items():
            for path in paths:
                stem = path.name.lstrip(".").split(".", 1)[0]
                if (path.name in known or stem in live or path.name.endswith(MARKER) or ".gpkg" not in path.name
                        or not path.is_file()):
                    continue
                path.unlink(missing_ok=True)  # tmp, its journal/-wal/-shm, or a version the catalog never got
                removed.append(str(path.relative_to(self.workspace)))
            if remove_if_empty(folder):
                removed.append(str(folder.relative_to(self.workspace)) + "/")
        return removed

    # -- features ------------------------------------------------------------------------------
    def _features_db(self, location: str) -> sqlite3.Connection:
        cache = getattr(self._local, "features", None)
        if cache is None:
            cache = self._local.features = {}
        db = cache.get(location)
        if db is None:
            db = sqlite3.connect(f"file:{location}?mode=ro&immutable=1", uri=True)
            # version files never change: map them (pages shared by every thread and worker through the OS
            # page cache) and keep a larger private page cache for the R-tree and hot rows
            db.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
            db.execute("PRAGMA cache_size = -32768")  # KiB
            from layers.cql2_sql import register_sqlite_functions

            register_sqlite_functions(db)  # CQL2: exact spatial predicates and CASEI
            cache[location] = db
        return db

    def query(self, record: VersionRecord, bbox: tuple[float, float, float, float] | None,
              filters: dict[str, Any], limit: int, offset: int, *, cql: Cql2Filter | None = None,
              sortby: tuple[SortKey, ...] = ()) -> FeaturePage:
        """A page of features matching ``bbox`` (working CRS, exact intersection), ``filters`` (equality) and
        ``cql``, in ``sortby`` order then by fid. All of it runs in SQLite: spatial predicates through the R-tree
        and an exact shapely test (``layers.cql2_sql``)."""
        db = self._features_db(record.location)
        table = _quote(record.layer_id)
        where, params = _filter_sql(record, filters)
        if cql is not None or sortby:
            from layers.cql2_sql import SQLITE, bbox_condition, compile_filter, order_by

            for condition in ([compile_filter(record, cql, SQLITE)] if cql is not None else []) + (
                    [bbox_condition(record, bbox, SQLITE)] if bbox is not None else []):
                where += f" AND {condition.sql}"
                params += condition.params
            order = order_by(record, sortby, SQLITE)
            (matched,) = db.execute(f"SELECT count(*) FROM {table} t WHERE {where}", params).fetchone()
            fids = [r[0] for r in db.execute(
                f"SELECT t.fid FROM {table} t WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
                (*params, limit, offset))]
        elif bbox is None:
            (matched,) = db.execute(f"SELECT count(*) FROM {table} t WHERE {where}", params).fetchone()
            fids = [r[0] for r in db.execute(
                f"SELECT t.fid FROM {table} t WHERE {where} ORDER BY t.fid LIMIT ? OFFSET ?",
                (*params, limit, offset))]
        else:
            matching = _bbox_matches(db, record.layer_id, bbox, where, params)
            matched = len(matching)
            fids = matching[offset:offset + limit].tolist()
        return self._page(db, record, fids, matched)

    def get_feature(self, record: VersionRecord, feature_id: int) -> FeaturePage:
        db = self._features_db(record.location)
        page = self._page(db, record, [feature_id], 1)
        if len(page.ids) == 0:
            raise FeatureNotFound(f"layer {record.layer_id!r} (version {record.version}) has no feature {feature_id}")
        return page

    def _page(self, db: sqlite3.Connection, record: VersionRecord, fids: list[int], matched: int) -> FeaturePage:
        cols = "".join(f", t.{_quote(n)}" for n in record.fields)
        rows: list[tuple] = []
        for start in range(0, len(fids), 900):  # SQLite's bound-parameter limit
            chunk = fids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            rows += db.execute(
                f"SELECT t.fid, t.{GEOMETRY_COLUMN}{cols} FROM {_quote(record.layer_id)} t "
                f"WHERE t.fid IN ({marks})", chunk).fetchall()
        position = {fid: i for i, fid in enumerate(fids)}
        rows.sort(key=lambda row: position[row[0]])  # the order asked for (fid order or sortby)
        return feature_page(record, rows, matched, gpkg_blobs_to_geometries, {"bool": bool})

    def scan(self, record: VersionRecord, bbox: tuple[float, float, float, float],
             properties: list[str], limit: int | None = None) -> FeatureColumns:
        """Features whose R-tree envelope meets ``bbox``, as columns in fid order (no exact test: callers clip).

        With ``limit``, only the ``limit`` features with the largest envelopes are read: the R-tree alone
        picks them, so a low-zoom tile over 100 000 small features never fetches the rows it would drop.
        """
        check_properties(record, properties)
        db = self._features_db(record.location)
        cols = "".join(f", t.{_quote(n)}" for n in properties)
        minx, miny, maxx, maxy = bbox
        rtree = _quote(f"rtree_{record.layer_id}_{GEOMETRY_COLUMN}")
        hits = f"SELECT r.id FROM {rtree} r WHERE r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
        params: tuple[float | int, ...] = (maxx, minx, maxy, miny)
        table = _quote(record.layer_id)
        if limit is None:
            rows = db.execute(f"SELECT t.fid, t.{GEOMETRY_COLUMN}{cols} FROM {table} t WHERE t.fid IN ({hits}) "
                              "ORDER BY t.fid", params).fetchall()
        else:  # unsorted first (no sort of the R-tree hits by size): nearly always under the limit
            rows = db.execute(f"SELECT t.fid, t.{GEOMETRY_COLUMN}{cols} FROM {table} t WHERE t.fid IN "
                              f"({hits} LIMIT ?) ORDER BY t.fid", (*params, limit + 1)).fetchall()
            if len(rows) > limit:  # over it: the largest envelopes, chosen by the R-tree alone
                hits += " ORDER BY (r.maxx - r.minx) * (r.maxy - r.miny) DESC LIMIT ?"
                rows = db.execute(f"SELECT t.fid, t.{GEOMETRY_COLUMN}{cols} FROM ({hits}) h JOIN {table} t "
                                  "ON t.fid = h.id ORDER BY t.fid", (*params, limit)).fetchall()
        if not rows:
            return FeatureColumns(np.array([], dtype=np.int64), np.array([], dtype=object),
                                  {p: [] for p in properties})
        fids, blobs, *values = zip(*rows, strict=True)
        columns = {}
        for name, column in zip(properties, values, strict=True):
            if record.fields[name] == "bool":
                column = tuple(None if v is None else bool(v) for v in column)
            columns[name] = list(column)
        return FeatureColumns(np.array(fids, dtype=np.int64), gpkg_blobs_to_geometries(list(blobs)), columns)

    def envelopes(self, record: VersionRecord, properties: list[str]) -> tuple[np.ndarray, np.ndarray,
                                                                             dict[str, list[Any]]]:
        """Every feature's fid, envelope and ``properties``, in fid order, from the R-tree: no geometry is read.

        Envelopes are ``(n, 4)`` rows ``minx, miny, maxx, maxy`` as the R-tree keeps them (32-bit floats rounded
        outward, so never smaller than the geometry's); NaN for a feature without geometry.
        """
        check_properties(record, properties)
        db = self._features_db(record.location)
        cols = "".join(f", t.{_quote(n)}" for n in properties)
        rtree = _quote(f"rtree_{record.layer_id}_{GEOMETRY_COLUMN}")
        rows = db.execute(f"SELECT t.fid, r.minx, r.miny, r.maxx, r.maxy{cols} FROM {_quote(record.layer_id)} t "
                          f"LEFT JOIN {rtree} r ON r.id = t.fid ORDER BY t.fid").fetchall()
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty((0, 4)), {p: [] for p in properties}
        fids, *rest = zip(*rows, strict=True)
        bounds = np.array(rest[:4], dtype="float64").T  # None (no R-tree entry) becomes NaN
        return np.array(fids, dtype=np.int64), bounds, {p: list(v) for p, v in zip(properties, rest[4:], strict=True)}

    def read_frame(self, record: VersionRecord,
                   bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """The whole version (or the part intersecting ``bbox``) as a frame indexed by feature id."""
        frame = pyogrio.read_dataframe(record.location, layer=record.layer_id, bbox=bbox, fid_as_index=True)
        frame.index.name = "fid"
        for name, kind in record.fields.items():  # SQLite hands back nullable integers as floats
            if kind == "int" and name in frame and not pd.api.types.is_integer_dtype(frame[name]):
                frame[name] = frame[name].astype("Int64")
        return frame


# -- helpers ------------------------------------------------------------------------------------
_LAYER_COLS = ("l.id, l.kind, l.title, l.description, l.attribution, v.layer_id, v.version, v.created, "
               "v.feature_count, v.geometry_type, v.bbox, v.fields, v.provenance, v.location")
_VERSION_COLS = ("v.layer_id, v.version, v.created, v.feature_count, v.geometry_type, v.bbox, v.fields, "
                 "v.provenance, v.location")


def _layer(row: tuple) -> LayerRecord:
    return LayerRecord(row[0], LayerKind(row[1]), row[2], row[3], row[4], _version(row[5:]))


def _version(row: tuple) -> VersionRecord:
    return VersionRecord(row[0], int(row[1]), datetime.fromisoformat(row[2]), int(row[3]), row[4],
                         tuple(json.loads(row[5])), json.loads(row[6]), public_provenance(json.loads(row[7])), row[8])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path, layer: str, progress: Progress) -> None:
    if FID_COLUMN in frame.columns:  # GDAL takes a column named like the FID column as the feature ids
        frame = frame.drop(columns=["fid"], errors="ignore").rename(columns={FID_COLUMN: "fid"})
    geometry_type = frame_geometry_type(frame)
    # one GDAL session: the R-tree is filled once at the end (appending chunks would fill it row by row
    # through its triggers: ~40 % slower for 200 000 polygons)
    pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG", geometry_type=geometry_type,
                            promote_to_multi=geometry_type.startswith("Multi"))
    progress.advance(len(frame))


def gpkg_blobs_to_geometries(blobs: list[bytes]) -> np.ndarray:
    """Decode GeoPackage geometry blobs (GP header + WKB) into shapely geometries."""
    wkb = [b[8 + _ENVELOPE_BYTES[(b[3] >> 1) & 7]:] if b is not None else None for b in blobs]
    return shapely.from_wkb(wkb)


def _filter_sql(record: VersionRecord, filters: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses, params = ["1"], []  # equality filters (``?name=value``)
    for name, raw in filters.items():
        kind = record.fields.get(name)
        if kind is None:
            raise InvalidQuery(name, f"{name!r} is neither a query parameter nor a property of {record.layer_id!r}; "
                               f"properties: {', '.join(record.fields)}")
        clauses.append(f"t.{_quote(name)} = ?")
        params.append(coerce_filter(name, raw, kind))
    return " AND ".join(clauses), params


def _bbox_matches(db: sqlite3.Connection, table: str, bbox: tuple[float, float, float, float],
                  where: str, params: list[Any]) -> np.ndarray:
    """Feature ids whose geometry intersects ``bbox``, in fid order, using the R-tree first."""
    minx, miny, maxx, maxy = bbox
    rtree = _quote(f"rtree_{table}_{GEOMETRY_COLUMN}")
    rows = db.execute(
        f"SELECT r.id, r.minx >= ? AND r.maxx <= ? AND r.miny >= ? AND r.maxy <= ? "
        f"FROM {rtree} r JOIN {_quote(table)} t ON t.fid = r.id "
        f"WHERE r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ? AND {where}",
        (minx, maxx, miny, maxy, minx, maxx, miny, maxy, *params)).fetchall()
    if not rows:
        return np.array([], dtype=np.int64)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    inside = np.array([bool(r[1]) for r in rows])
    edge = ids[~inside]
    if len(edge):
        blobs = []
        for start in range(0, len(edge), 900):
            chunk = edge[start:start + 900].tolist()
            blobs += db.execute(f"SELECT fid, {GEOMETRY_COLUMN} FROM {_quote(table)} WHERE fid IN "
                                f"({','.join('?' * len(chunk))})", chunk).fetchall()
        geoms = gpkg_blobs_to_geometries([b for _, b in blobs])
        hit = shapely.intersects(geoms, shapely.box(minx, miny, maxx, maxy))
        keep = np.concatenate([ids[inside], np.array([f for (f, _), h in zip(blobs, hit, strict=True) if h],
                                                     dtype=np.int64)])
    else:
        keep = ids
    return np.sort(keep)

