"""Writing a new version of a layer in PostGIS, in one transaction: its table (binary ``COPY``, primary key,
GiST index, ANALYZE), then its catalog rows. ``PostGISStore.publish`` runs the steps for a decoded frame;
``StreamedPublish`` runs them on a thread of its own from the source's WKB and the published attributes, while
the ingest still decodes and checks the geometries, and commits only when the caller finishes it.
"""

from __future__ import annotations

import json
import math
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from psycopg import Connection, sql

from layers import pg_copy
from layers.access import public_provenance, with_layer_meta
from layers.crs import WORKING_EPSG
from layers.migrations import CATALOG_SCHEMA
from layers.pg_sql import GEOMETRY_COLUMN, LAYERS_SCHEMA, column_name, table_name
from layers.progress import NoProgress, Progress
from layers.pyogrio_read import wkb_type_ids
from layers.store import FID_COLUMN, LayerMeta, VersionRecord, frame_field_types, geometry_type_of

LOCK_CLASS = 0x67656F6C  # "geol": advisory locks of layer publishes/rollbacks (objid = hashtext(layer id))
COPY_CHUNK = 20_000  # rows per COPY message (and progress step)
_GEOMETRY_TYPES = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
                   "GeometryCollection"}
VERSION_SELECT = (
    f"SELECT v.layer_id, v.version, v.created, v.feature_count, v.geometry_type, v.bbox, v.fields, "
    f"v.provenance, v.location FROM {CATALOG_SCHEMA}.versions v")


@dataclass(frozen=True)
class Rows:
    """What goes into a version's table: the geometries (decoded, or only their 2D WKB and type ids) and the
    attribute columns ready to COPY."""

    count: int
    geometry_type: str
    fields: dict[str, str]  # field -> int | float | bool | datetime | str
    columns: list[pg_copy.CopyField]
    geoms: np.ndarray | None = None
    wkb: np.ndarray | None = None
    types: np.ndarray | None = None  # shapely type ids, with ``wkb`` and no ``geoms``
    fids: np.ndarray | None = None  # 1..count unless given


def columns_of(attributes: pd.DataFrame, fields: dict[str, str]) -> list[pg_copy.CopyField]:
    """The attribute columns of a frame as ``CopyField``s."""
    return [pg_copy.prepare(attributes[name], kind, column_name(name)) for name, kind in fields.items()]


def write_table(conn: Connection, layer_id: str, rows: Rows, progress: Progress,
                copied: Callable[[], None] | None = None) -> tuple[int, str]:
    """In ``conn``'s open transaction: take the layer's publish lock and its next version number, create the
    version's table, fill it and index it. Returns the version and the table's name."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, layer_id))
    (version,) = conn.execute(f"SELECT COALESCE(MAX(version), 0) + 1 FROM {CATALOG_SCHEMA}.versions "
                              "WHERE layer_id = %s", (layer_id,)).fetchone()
    table = table_name(layer_id, version)
    ident = sql.Identifier(LAYERS_SCHEMA, table)
    geometry_sql = rows.geometry_type if rows.geometry_type in _GEOMETRY_TYPES else "Geometry"
    conn.execute(sql.SQL("CREATE TABLE {} (fid bigint NOT NULL, {} geometry({}, {}){})").format(
        ident, sql.Identifier(GEOMETRY_COLUMN), sql.SQL(geometry_sql), sql.Literal(WORKING_EPSG),
        sql.SQL("").join(sql.SQL(", {} {}").format(sql.Identifier(c.name), sql.SQL(pg_copy.sql_type(c)))
                         for c in rows.columns)))
    _copy_rows(conn, ident, rows, progress)
    if copied is not None:
        copied()
    conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (fid)").format(ident))
    conn.execute(sql.SQL("CREATE INDEX ON {} USING gist ({})").format(ident, sql.Identifier(GEOMETRY_COLUMN)))
    # planner statistics from 9 000 sampled rows (not 30 000): enough for bbox and equality plans, and
    # a tenth of the time on a large layer
    conn.execute("SET LOCAL default_statistics_target = 30")
    conn.execute(sql.SQL("ANALYZE {}").format(ident))
    return version, table


def enter_catalog(conn: Connection, layer_id: str, version: int, table: str, rows: Rows,
                  bounds: list[float], meta: LayerMeta) -> VersionRecord:
    """In the same transaction: the version's catalog row, and the layer's (made current)."""
    conn.execute(
        f"INSERT INTO {CATALOG_SCHEMA}.versions (layer_id, version, feature_count, geometry_type, bbox, "
        "fields, provenance, location) VALUES (%s, %s, %s, %s, %s, %s::json, %s::json, %s)",
        (layer_id, version, rows.count, rows.geometry_type, bounds, json.dumps(rows.fields),
         json_text(with_layer_meta(meta)), f"{LAYERS_SCHEMA}.{table}"))
    conn.execute(
        f"INSERT INTO {CATALOG_SCHEMA}.layers (id, kind, title, description, attribution, current_version) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
        "title = excluded.title, description = excluded.description, attribution = excluded.attribution, "
        "current_version = excluded.current_version, updated = now(), removed = NULL",
        (layer_id, meta.kind.value, meta.title or layer_id, meta.description, meta.attribution, version))
    row = conn.execute(VERSION_SELECT + " WHERE v.layer_id = %s AND v.version = %s", (layer_id, version)).fetchone()
    return version_record(row)


def frame_bounds(frame: gpd.GeoDataFrame) -> list[float]:
    """The catalog's bbox of a version (NaN for an empty one)."""
    return [float(v) for v in frame.total_bounds] if len(frame) else [math.nan] * 4


class _Abandoned(Exception):
    """The caller gave the streamed publish up: its transaction rolls back."""


class StreamedPublish:
    """A publish written while its caller still works: the table is created, filled from ``rows`` (the
    source's WKB and the attributes as they will be published) and indexed on a thread of its own, in a
    transaction that waits for ``finish`` (catalog rows and commit) or ``abandon`` (roll back: nothing of it
    is ever seen). The caller must end it with one of the two."""

    def __init__(self, connection: Callable[[], AbstractContextManager[Connection]], layer_id: str, rows: Rows,
                 committed: Callable[[], None]) -> None:
        self.layer_id, self.rows = layer_id, rows
        self._connection, self._committed = connection, committed
        self._orders: queue.SimpleQueue[tuple[list[float], LayerMeta] | None] = queue.SimpleQueue()
        self._written = threading.Event()
        self._copied = threading.Event()
        self._error: BaseException | None = None
        self._record: VersionRecord | None = None
        self._ended = False
        self._thread = threading.Thread(target=self._run, name=f"publish-{layer_id}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                version, table = write_table(conn, self.layer_id, self.rows, NoProgress(), self._copied.set)
                self._written.set()
                order = self._orders.get()
                if order is None:
                    raise _Abandoned
                self._record = enter_catalog(conn, self.layer_id, version, table, self.rows, *order)
            self._committed()
        except _Abandoned:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by finish()
            self._error = exc
        finally:
            self._copied.set()
            self._written.set()

    def wait_copied(self) -> None:
        """Wait until the rows are in the table (or the write failed): the caller's work that follows does not
        compete with the COPY for the GIL, and overlaps the index builds instead."""
        self._copied.wait()

    def finish(self, frame: gpd.GeoDataFrame, meta: LayerMeta, progress: Progress | None = None,
               before_commit: Callable[[], None] | None = None) -> VersionRecord:
        """Commit the version, once written, as ``Store.publish(frame, …)`` would have written it: ``frame`` is
        the published frame whose rows were streamed (its bbox goes into the catalog). ``before_commit`` runs
        after the write, before the commit; if it raises, nothing is published. The write's own error, if any,
        is raised here."""
        if self._ended:
            raise RuntimeError(f"the streamed publish of {self.layer_id!r} has already ended")
        if len(frame) != self.rows.count or frame_field_types(frame) != self.rows.fields:
            self.abandon()
            raise ValueError(f"publish of {self.layer_id!r}: the frame is not the one streamed ({len(frame)} rows, "
                             f"fields {frame_field_types(frame)}; streamed {self.rows.count}, {self.rows.fields})")
        progress = progress or NoProgress()
        progress.stage("writing", self.rows.count)
        self._written.wait()
        if self._error is not None:
            self._end(None)
            raise self._error
        progress.advance(self.rows.count)
        try:
            if before_commit is not None:
                before_commit()
        except BaseException:
            self.abandon()
            raise
        self._end((frame_bounds(frame), meta))
        if self._error is not None:
            raise self._error
        assert self._record is not None
        return self._record

    def abandon(self) -> None:
        """Roll the publish back (if not ended yet) and wait for its thread; its errors are dropped."""
        if not self._ended:
            self._end(None)

    def _end(self, order: tuple[list[float], LayerMeta] | None) -> None:
        self._ended = True
        self._orders.put(order)
        self._thread.join()


def begin(connection: Callable[[], AbstractContextManager[Connection]], layer_id: str, attributes: pd.DataFrame,
          wkb: np.ndarray, committed: Callable[[], None]) -> StreamedPublish | None:
    """A ``StreamedPublish`` of ``attributes`` (as published, row for row with ``wkb``) and ``wkb``, returned
    once the rows are copied (the database indexes them while the caller goes on); None when the WKB cannot
    be written as it is (a missing geometry, Z or M, curves)."""
    types = wkb_type_ids(wkb)
    if types is None:
        return None
    fields = frame_field_types(attributes)
    rows = Rows(len(wkb), geometry_type_of(types), fields, columns_of(attributes, fields), wkb=wkb, types=types)
    streamed = StreamedPublish(connection, layer_id, rows, committed)
    streamed.wait_copied()
    return streamed


def _copy_rows(conn: Connection, table: sql.Identifier, rows: Rows, progress: Progress) -> None:
    """Binary COPY of fid (1..n in frame order, or the given fids), geometry (the WKB when given) and fields,
    reporting every chunk."""
    n = rows.count
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, pg_copy.copy_columns(rows.columns, GEOMETRY_COLUMN))))
    fids = np.arange(1, n + 1, dtype=np.int64) if rows.fids is None else rows.fids.astype(np.int64)
    chunks = [(start, min(n, start + COPY_CHUNK)) for start in range(0, n, COPY_CHUNK)]
    multi = rows.geometry_type.startswith("Multi")

    def encode(start: int, stop: int) -> bytes:
        return pg_copy.encode_rows(fids, rows.geoms, multi, rows.columns, start, stop, wkb=rows.wkb,
                                   types=rows.types)

    # the next chunk is encoded (WKB, numpy: mostly without the GIL) while this one is sent
    with ThreadPoolExecutor(1) as encoder, conn.cursor().copy(statement) as copy:
        copy.write(pg_copy.HEADER)
        pending = encoder.submit(encode, *chunks[0]) if chunks else None
        for i, (start, stop) in enumerate(chunks):
            data = pending.result()  # type: ignore[union-attr]
            if i + 1 < len(chunks):
                pending = encoder.submit(encode, *chunks[i + 1])
            copy.write(data)
            progress.advance(stop - start)
        copy.write(pg_copy.TRAILER)


def json_text(value: Any) -> str:
    """JSON text for a ``json`` column: non-finite floats (invalid JSON) become null."""
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(value), default=str)


def version_record(row: tuple) -> VersionRecord:
    """A catalog version row (``VERSION_SELECT``'s columns) as a ``VersionRecord``."""
    minx, miny, maxx, maxy = (float(v) for v in row[5])
    return VersionRecord(row[0], int(row[1]), row[2], int(row[3]), row[4], (minx, miny, maxx, maxy),
                         row[6], public_provenance(row[7]), row[8])


def given_fids(frame: gpd.GeoDataFrame) -> np.ndarray | None:
    """The frame's own feature ids (an edit keeps them), if it has any."""
    return frame[FID_COLUMN].to_numpy() if FID_COLUMN in frame.columns else None
