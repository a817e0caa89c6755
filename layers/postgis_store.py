"""The PostGIS store: the same ``Store`` contract as the GeoPackage workspace, on PostgreSQL for many users
and many service processes.

Layout (schema made by ``layers.migrations``)::

    geo_catalog.layers            id, kind, title, …, current_version
    geo_catalog.versions          layer_id, version, created, feature_count, geometry_type, bbox, fields, …
    geo_layers."<id>_v<n>"        one table per version: fid bigint primary key, geom geometry(<type>, 25832)
                                  with a GiST index, one column per field; written once, never changed

A publish creates the version's table, fills it with binary ``COPY`` (EWKB geometries), builds the
indexes and inserts the catalog rows, all in one transaction: readers see nothing of it until the
commit, and a failure at any step leaves no trace (DDL is transactional in PostgreSQL). Publishes of one
layer are serialised by an advisory lock, so version numbers are never handed out twice. ``begin_publish``
runs the same transaction from an ingest's source WKB before the geometries are decoded, and leaves it open
until the ingest finishes or abandons it (``layers.pg_publish``).

Reads push the bbox to the GiST index (``geom && envelope AND ST_Intersects``) and fetch WKB
(``ST_AsBinary``, binary protocol) decoded with ``shapely.from_wkb``. ``mvt_tile`` builds a vector tile
in the database (``ST_AsMVTGeom`` + ``ST_AsMVT``) with the same generalisation as ``maps.tiles``.

Layer records are read from the database on every call, except by ``geojson_page`` (the ``items`` path),
which keeps each layer's record in memory and checks it in the same statement that reads the page (the
layer's ``current_version`` and ``updated``): a stale record is re-read and the page read again, so a
request costs one round trip. The map of current versions (``current_versions``, asked on every tile
request) is kept in memory by ``layers.pg_versions.VersionWatch``: PostgreSQL notifies every process at the
commit of a catalog change (LISTEN/NOTIFY), and a map is never used more than ``MAX_AGE_SECONDS`` (1 s) after
the query that read it began, so a publish by any process is seen by all within that bound (by the
publishing process at once); without a live listener every call reads the database. The column types of a
version's table are cached by table (never changed).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Self

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from psycopg import Connection, errors, sql
from psycopg_pool import ConnectionPool

from layers import pg_geojson, pg_publish
from layers.access import version_meta
from layers.access_pg import PostGISAccess
from layers.cql2 import Cql2Filter, SortKey
from layers.cql2_sql import POSTGIS, compile_filter, order_by
from layers.crs import WORKING_EPSG, OutputCrs
from layers.errors import FeatureNotFound, LayerNotFound, VersionNotFound
from layers.ids import check_layer_id
from layers.kinds import LayerKind
from layers.migrations import CATALOG_SCHEMA, migrate
from layers.pg_publish import LOCK_CLASS, VERSION_SELECT, version_record
from layers.pg_sql import (
    CATALOG_CHECK,
    GEOMETRY_COLUMN,
    LAYERS_SCHEMA,
    attribute_sql,
    bbox_clause,
    column_name,
    frame_of,
    geojson_statement,
    out_column,
    page_of,
    select_columns,
    table_of,
    where_clause,
)
from layers.pg_versions import VERSIONS_SQL, VersionGate, VersionWatch
from layers.progress import NoProgress, Progress
from layers.store import (
    FeatureColumns,
    FeaturePage,
    GeoJSONPage,
    LayerMeta,
    LayerRecord,
    VersionRecord,
    check_properties,
    frame_field_types,
    frame_geometry_type,
)

_NAMED_LOCK_CLASS = 0x67656F78  # "geox": named locks across replicas (exclusive(), e.g. derived refreshes)
_WEB_MERCATOR_SIZE = 2 * 20037508.342789244

_LAYER_SELECT = (
    f"SELECT l.id, l.kind, l.title, l.description, l.attribution, v.layer_id, v.version, v.created, "
    f"v.feature_count, v.geometry_type, v.bbox, v.fields, v.provenance, v.location "
    f"FROM {CATALOG_SCHEMA}.layers l JOIN {CATALOG_SCHEMA}.versions v "
    f"ON v.layer_id = l.id AND v.version = l.current_version")
_LAYER_TOKEN_SELECT = _LAYER_SELECT.replace("SELECT ", "SELECT l.updated, ", 1)
_PAGE_ATTEMPTS = 5  # reads of a page whose cached layer record turned out stale (a publish in between)


def _not_found(layer_id: str) -> LayerNotFound:
    return LayerNotFound(f"no layer {layer_id!r}; list the published layers with `geo-service layers list`")


class PostGISStore(PostGISAccess):
    """A ``Store`` on a PostGIS database (see module docstring).

    ``pool_size`` is the most connections this process opens; a service worker needs about as many as it
    serves requests at once (size the database's ``max_connections`` for workers x replicas x pool_size).
    """

    writes_wkb = True  # a publish COPYs the source's WKB as it is

    def __init__(self, url: str, *, pool_size: int = 8, migrate_schema: bool = True) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max(1, pool_size), open=True, name="geo-service",
            kwargs={"autocommit": True, "options": "-c TimeZone=UTC", "application_name": "geo-service"})
        self._aware: dict[str, frozenset[str]] = {}  # table -> its timestamptz columns (tables never change)
        self._aware_lock = threading.Lock()
        self._layers: dict[str, tuple[LayerRecord, datetime]] = {}  # id -> record, its catalog ``updated``
        self._statements: dict[tuple, tuple[sql.Composable | None, list[str]]] = {}  # geojson_page's SQL
        self._gate: VersionGate | None = None
        self._versions = VersionWatch(url)
        self.removed_leftovers: list[str] = []
        if migrate_schema:
            with self._connection() as conn:
                migrate(conn)
            self.removed_leftovers = self.drop_orphan_tables()

    def drop_orphan_tables(self) -> list[str]:
        """Drop version tables no catalog row points to (left by a failure outside a publish's transaction).

        A publish creates its table and its catalog row in one transaction, so a killed publish leaves nothing;
        this cleans what older releases or manual work left. Tables of running publishes are not visible yet.
        Returns the dropped tables. Runs when the store is opened and before every publish.
        """
        with self._connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname ~ '_v[0-9]+$' "
                f"AND NOT EXISTS (SELECT 1 FROM {CATALOG_SCHEMA}.versions v WHERE v.location = n.nspname || '.' "
                "|| c.relname)", (LAYERS_SCHEMA,)).fetchall()
            for (table,) in rows:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(LAYERS_SCHEMA, table)))
        return [f"{LAYERS_SCHEMA}.{table}" for (table,) in rows]

    def close(self) -> None:
        """Close the connection pool (and the event loop's catalog connection)."""
        self._versions.close()
        self._pool.close()
        if self._gate is not None:
            self._gate.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A session-level advisory lock, held on one pooled connection for the block, across replicas."""
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_NAMED_LOCK_CLASS, name))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (_NAMED_LOCK_CLASS, name))

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with self._pool.connection() as conn:
            yield conn

    # -- catalog -------------------------------------------------------------------------------
    def list_layers(self) -> list[LayerRecord]:
        with self._connection() as conn:
            rows = conn.execute(_LAYER_SELECT + " WHERE l.removed IS NULL ORDER BY l.id").fetchall()
        return [_layer(r) for r in rows]

    def get_layer(self, layer_id: str) -> LayerRecord:
        with self._connection() as conn:
            row = conn.execute(_LAYER_SELECT + " WHERE l.id = %s AND l.removed IS NULL", (layer_id,)).fetchone()
        if row is None:
            raise _not_found(layer_id)
        return _layer(row)

    def current_versions(self) -> dict[str, int]:
        """``{layer id: current version}``: the listener's map (``VersionWatch``, at most 1 s behind a commit),
        else read from the database (one small query). Treat the dict as read-only."""
        known = self._versions.get()
        if known is not None:
            return known
        with self._connection() as conn:
            return dict(conn.execute(VERSIONS_SQL).fetchall())

    def _catalog_changed(self) -> None:
        """Called after this process committed a catalog change: it reads its own write at once."""
        self._versions.changed()

    async def current_versions_async(self) -> dict[str, int]:
        """``current_versions`` for code on an event loop (the ASGI tile fast path), without blocking it.

        The listener's map when it is fresh (no round trip); else a query. Concurrent callers share queries
        but never get a stale answer: each is answered by a query that started after it asked
        (``VersionGate``), so under load one round trip serves many cache hits.
        """
        known = self._versions.get()
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        gate = self._gate
        if gate is None or gate.loop is not loop:
            gate = self._gate = VersionGate(self.url, loop)
        return await gate.get()

    def versions(self, layer_id: str) -> list[VersionRecord]:
        with self._connection() as conn:
            rows = conn.execute(VERSION_SELECT + " WHERE v.layer_id = %s ORDER BY v.version", (layer_id,)).fetchall()
        if not rows:
            raise _not_found(layer_id)
        return [version_record(r) for r in rows]

    def rollback(self, layer_id: str, version: int) -> LayerRecord:
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, layer_id))
            known = [r[0] for r in conn.execute(
                f"SELECT version FROM {CATALOG_SCHEMA}.versions WHERE layer_id = %s ORDER BY version", (layer_id,))]
            if not known:
                raise _not_found(layer_id)
            if version not in known:
                raise VersionNotFound(f"layer {layer_id!r} has no version {version}; versions: "
                                      f"{', '.join(map(str, known))}")
            (provenance,) = conn.execute(f"SELECT provenance FROM {CATALOG_SCHEMA}.versions WHERE layer_id = %s "
                                         "AND version = %s", (layer_id, version)).fetchone()
            title, description, attribution = version_meta(provenance)
            conn.execute(f"UPDATE {CATALOG_SCHEMA}.layers SET current_version = %s, updated = now(), removed = NULL, "
                         "title = COALESCE(%s, title), description = COALESCE(%s, description), "
                         "attribution = COALESCE(%s, attribution) WHERE id = %s",
                         (version, title, description, attribution, layer_id))
        self._catalog_changed()
        return self.get_layer(layer_id)

    # -- publish -------------------------------------------------------------------------------
    def publish(self, layer_id: str, frame: gpd.GeoDataFrame, meta: LayerMeta,
                progress: Progress | None = None, before_commit: Callable[[], None] | None = None,
                wkb: np.ndarray | None = None) -> VersionRecord:
        """Write ``frame`` (working CRS) as a new version and make it current, in one transaction
        (``before_commit`` runs in it, after the table and its indexes are built, before the catalog rows).
        ``wkb`` (2D, row for row) goes into the COPY as it is, instead of WKB encoded from the geometries."""
        check_layer_id(layer_id)
        progress = progress or NoProgress()
        progress.stage("writing", len(frame))
        fields = frame_field_types(frame)
        geoms = np.asarray(frame.geometry.to_numpy(), dtype=object)
        if shapely.has_z(geoms).any():
            geoms, wkb = shapely.force_2d(geoms), None
        if wkb is not None and hasattr(shapely, "has_m") and shapely.has_m(geoms).any():
            wkb = None  # measured geometries are encoded from the geometries, as before the source's WKB was kept
        if wkb is not None and len(wkb) != len(geoms):
            raise ValueError(f"publish of {layer_id!r}: {len(wkb)} WKB values for {len(frame)} features")
        rows = pg_publish.Rows(len(frame), frame_geometry_type(frame), fields, pg_publish.columns_of(frame, fields),
                               geoms=geoms, wkb=wkb, fids=pg_publish.given_fids(frame))
        self.drop_orphan_tables()
        with self._connection() as conn, conn.transaction():
            version, table = pg_publish.write_table(conn, layer_id, rows, progress)
            if before_commit is not None:
                before_commit()
            record = pg_publish.enter_catalog(conn, layer_id, version, table, rows, pg_publish.frame_bounds(frame),
                                              meta)
        self._catalog_changed()
        return record

    def begin_publish(self, layer_id: str, attributes: pd.DataFrame,
                      wkb: np.ndarray) -> pg_publish.StreamedPublish | None:
        """Write a new version from the source's ``wkb`` and the ``attributes`` as they will be published, before
        the caller has decoded the geometries: returns once the rows are copied; the indexes are built on a
        thread of the write's own while the caller goes on. None for WKB that must be decoded first (a missing
        geometry, Z or M, curves). See ``Store.begin_publish``."""
        check_layer_id(layer_id)
        self.drop_orphan_tables()
        return pg_publish.begin(self._connection, layer_id, attributes, wkb, self._catalog_changed)

    # -- features ------------------------------------------------------------------------------
    def query(self, record: VersionRecord, bbox: tuple[float, float, float, float] | None,
              filters: dict[str, Any], limit: int, offset: int, *, cql: Cql2Filter | None = None,
              sortby: tuple[SortKey, ...] = ()) -> FeaturePage:
        """A page of features matching ``bbox`` (working CRS, exact intersection), ``filters`` (equality) and
        ``cql`` (``layers.cql2_sql``), in ``sortby`` order then by fid."""
        table = table_of(record)
        compiled = compile_filter(record, cql, POSTGIS) if cql is not None else None
        order = sql.SQL(order_by(record, sortby, POSTGIS))
        with self._connection() as conn:
            aware = self._aware_columns(conn, record)
            where, params = where_clause(record, bbox, filters, aware)
            if compiled is not None:
                condition = sql.SQL(compiled.sql)
                where = condition if where is None else sql.SQL("{} AND {}").format(where, condition)
                params += compiled.params
            select = select_columns(record, list(record.fields))
            if where is None:  # no bbox, no filter: the count is in the catalog
                rows = conn.cursor(binary=True).execute(
                    sql.SQL("SELECT {} FROM {} t ORDER BY {} LIMIT %s OFFSET %s").format(select, table, order),
                    (limit, offset)).fetchall()
                return page_of(record, rows, record.feature_count)
            keys = sql.SQL("").join(sql.SQL(", ") + pg_geojson.column(column_name(k.name)) for k in sortby)
            rows = conn.cursor(binary=True).execute(sql.SQL(
                "WITH m AS MATERIALIZED (SELECT t.fid{keys} FROM {table} t WHERE {where}) "
                "SELECT {select}, (SELECT count(*) FROM m) FROM "
                "(SELECT t.fid FROM m t ORDER BY {order} LIMIT %s OFFSET %s) p JOIN {table} t ON t.fid = p.fid "
                "ORDER BY {order}").format(table=table, where=where, select=select, keys=keys, order=order),
                (*params, limit, offset)).fetchall()
            if rows:
                matched = int(rows[0][-1])
                rows = [r[:-1] for r in rows]
            elif offset == 0:
                matched = 0
            else:  # a page past the end: the count still has to be told
                (matched,) = conn.execute(sql.SQL("SELECT count(*) FROM {} t WHERE {}").format(table, where),
                                          params).fetchone()
        return page_of(record, rows, int(matched))

    def peek_layer(self, layer_id: str) -> LayerRecord | None:
        """The layer as this process last read it, or None (no I/O): maybe stale, which ``geojson_page``
        detects. For request paths that go on to ``geojson_page``; everything else uses ``get_layer``."""
        hit = self._layers.get(layer_id)
        return hit[0] if hit is not None else None

    def _read_layer(self, conn: Connection, layer_id: str) -> tuple[LayerRecord, datetime]:
        row = conn.execute(_LAYER_TOKEN_SELECT + " WHERE l.id = %s AND l.removed IS NULL", (layer_id,)).fetchone()
        if row is None:
            self._layers.pop(layer_id, None)
            raise _not_found(layer_id)
        found = self._layers[layer_id] = (_layer(row[1:]), row[0])
        if len(self._layers) > 1024:  # ids of removed layers linger otherwise
            self._layers.clear()
        return found

    def geojson_page(self, layer: LayerRecord, bbox: tuple[float, float, float, float] | None,
                     filters: dict[str, Any], limit: int, offset: int, *, cql: Cql2Filter | None = None,
                     sortby: tuple[SortKey, ...] = (), target: OutputCrs) -> GeoJSONPage | None:
        """``query`` + ``layers.geojson.encode_features`` in one statement: the page's GeoJSON is built by
        PostgreSQL (``layers.pg_geojson``) and checked against the catalog in the same snapshot.

        ``layer`` only names the layer: the record used is the cached one, re-read when the statement finds
        the catalog changed (then the page is read again). None for field types ``pg_geojson`` does not write.
        """
        with self._connection() as conn:
            cached = self._layers.get(layer.id) or self._read_layer(conn, layer.id)
            for _ in range(_PAGE_ATTEMPTS):
                record, token = cached
                try:
                    answer = self._geojson_rows(conn, record, bbox, filters, limit, offset, cql, sortby, target)
                except errors.UndefinedTable:  # the version's table was purged meanwhile
                    answer = None
                if answer is not None and answer[0] == (record.current.version, token):
                    if answer[1] is None:
                        return None
                    returned, matched, features = answer[1]
                    return GeoJSONPage(record, features or b"", returned, matched)
                cached = self._read_layer(conn, layer.id)  # LayerNotFound if it is gone
        return None  # the layer changed under every attempt: the caller reads it the plain way

    def _geojson_rows(self, conn: Connection, layer: LayerRecord, bbox: tuple[float, float, float, float] | None,
                      filters: dict[str, Any], limit: int, offset: int, cql: Cql2Filter | None,
                      sortby: tuple[SortKey, ...], target: OutputCrs
                      ) -> tuple[tuple[int | None, datetime | None], tuple[int, int, bytes | None] | None]:
        """((current version, updated) of the layer, (returned, matched, features) or None if not writable)."""
        record = layer.current
        aware = self._aware_columns(conn, record)
        where, params = where_clause(record, bbox, filters, aware)
        compiled = compile_filter(record, cql, POSTGIS) if cql is not None else None
        if compiled is not None:
            condition = sql.SQL(compiled.sql)
            where = condition if where is None else sql.SQL("{} AND {}").format(where, condition)
            params += compiled.params
        # kept for pages without filters: then the statement depends only on the table, bbox or not, the CRS and
        # the sort keys (filters change it with their values: a value of the wrong kind becomes ``false``)
        key = None if compiled is not None or filters else (record.location, bbox is None, target, sortby)
        statement = self._statements.get(key) if key is not None else None
        if statement is None:
            statement = geojson_statement(record, where, sortby, target, aware)
            if key is not None:
                if len(self._statements) > 256:
                    self._statements.clear()
                self._statements[key] = statement
        query, names = statement
        if query is None:  # a field type written in Python only: just the catalog check
            row = conn.execute(CATALOG_CHECK, (layer.id,)).fetchone()
            return (row[0], row[1]), None
        if where is None:  # no bbox, no filter: the count is in the catalog
            params = [limit, offset, record.feature_count]
        else:
            params = [*params, limit, offset]
        row = conn.cursor(binary=True).execute(query, [*params, *names, layer.id]).fetchone()
        return (row[0], row[1]), (int(row[2]), int(row[3]), row[4])

    def get_feature(self, record: VersionRecord, feature_id: int) -> FeaturePage:
        with self._connection() as conn:
            rows = conn.cursor(binary=True).execute(
                sql.SQL("SELECT {} FROM {} t WHERE t.fid = %s").format(
                    select_columns(record, list(record.fields)), table_of(record)), (feature_id,)).fetchall()
        if not rows:
            raise FeatureNotFound(f"layer {record.layer_id!r} (version {record.version}) has no feature {feature_id}")
        return page_of(record, rows, 1)

    def scan(self, record: VersionRecord, bbox: tuple[float, float, float, float],
             properties: list[str], limit: int | None = None) -> FeatureColumns:
        """Features whose envelope meets ``bbox`` (GiST index only, no exact test), as columns in fid order.

        With ``limit``, only the ``limit`` features with the largest envelopes are read (as the GeoPackage does).
        """
        check_properties(record, properties)
        geom = sql.Identifier(GEOMETRY_COLUMN)
        envelope = sql.SQL("t.{} && ST_MakeEnvelope(%s, %s, %s, %s, {})").format(geom, sql.Literal(WORKING_EPSG))
        params: tuple[Any, ...] = tuple(bbox)
        if limit is None:
            source = sql.SQL("{} t WHERE {}").format(table_of(record), envelope)
        else:
            source = sql.SQL("(SELECT t.fid FROM {table} t WHERE {envelope} ORDER BY ST_Area(Box2D(t.{geom})) DESC, "
                             "t.fid LIMIT %s) h JOIN {table} t ON t.fid = h.fid").format(
                table=table_of(record), envelope=envelope, geom=geom)
            params += (limit,)
        with self._connection() as conn:
            aware = self._aware_columns(conn, record)
            rows = conn.cursor(binary=True).execute(
                sql.SQL("SELECT {} FROM {} ORDER BY t.fid").format(select_columns(record, properties), source),
                params).fetchall()
        if not rows:
            return FeatureColumns(np.array([], dtype=np.int64), np.array([], dtype=object),
                                  {p: [] for p in properties})
        fids, blobs, *values = zip(*rows, strict=True)
        columns = {}
        for name, column in zip(properties, values, strict=True):
            columns[name] = out_column(list(column), record.fields[name], name in aware)
        return FeatureColumns(np.array(fids, dtype=np.int64), shapely.from_wkb(list(blobs)), columns)

    def read_frame(self, record: VersionRecord,
                   bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
        """The whole version (or the part intersecting ``bbox``) as a frame indexed by feature id."""
        names = list(record.fields)
        with self._connection() as conn:
            params: tuple[Any, ...] = ()
            where = sql.SQL("")
            if bbox is not None:
                where = sql.SQL(" WHERE ") + bbox_clause()
                params = tuple(bbox) * 2
            rows = conn.cursor(binary=True).execute(
                sql.SQL("SELECT {} FROM {} t{} ORDER BY t.fid").format(
                    select_columns(record, names), table_of(record), where), params).fetchall()
        return frame_of(record, rows)

    # -- tiles ---------------------------------------------------------------------------------
    def mvt_tile(self, record: VersionRecord, z: int, x: int, y: int, bbox: tuple[float, float, float, float],
                 properties: Sequence[str], *, name: str, extent: int = 4096, buffer: int = 64,
                 simplify: float = 0.5, min_area: float = 16.0, min_length: float = 2.0) -> bytes:
        """One layer of one WebMercatorQuad tile as MVT bytes, made by PostGIS (``ST_AsMVT``).

        ``bbox`` is the buffered tile in the working CRS (the index look-up); the generalisation is the one
        ``maps.tiles`` applies: features under ``min_area`` tile units² (polygons) or ``min_length`` units
        (lines) are dropped, the rest simplified with ``simplify`` units and clipped to the buffered tile.
        Features are in fid order, so every replica makes the same bytes (and ETag). ``b""``: no feature.
        """
        props = list(properties)
        check_properties(record, props)
        scale = extent / (_WEB_MERCATOR_SIZE / (1 << z))  # tile units per metre of EPSG:3857
        geom = sql.Identifier(GEOMETRY_COLUMN)
        with self._connection() as conn:
            aware = self._aware_columns(conn, record)
            attrs = sql.SQL("").join(sql.SQL(", ") + attribute_sql(n, record.fields[n], n in aware) for n in props)
            # ST_AsMVTGeom itself simplifies by half a tile unit; a coarser retry simplifies first. The
            # transform and ST_AsMVTGeom run once per row: OFFSET 0 keeps each lateral subquery from being
            # inlined (as a column of the feature query, the NOT NULL test pushed down into the scan computed
            # ST_AsMVTGeom a second time for every feature).
            shape = sql.SQL("ST_Simplify(s.g, %(tolerance)s)") if simplify > 0.5 else sql.SQL("s.g")
            query = sql.SQL(
                "SELECT ST_AsMVT(f, %(name)s, %(extent)s, '__mvt', '__fid') FROM ("
                "SELECT t.fid AS __fid{attrs}, m.__mvt "
                "FROM {table} t, LATERAL (SELECT ST_Transform(t.{geom}, 3857) AS g OFFSET 0) s, "
                "LATERAL (SELECT ST_AsMVTGeom({shape}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), %(extent)s, "
                "%(buffer)s, true) AS __mvt OFFSET 0) m "
                "WHERE t.{geom} && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, {srid}) AND CASE ST_Dimension(s.g) "
                "WHEN 2 THEN ST_Area(s.g) >= %(min_area)s WHEN 1 THEN ST_Length(s.g) >= %(min_length)s ELSE true END "
                "AND m.__mvt IS NOT NULL ORDER BY t.fid) f").format(
                attrs=attrs, geom=geom, table=table_of(record), srid=sql.Literal(WORKING_EPSG), shape=shape)
            (data,) = conn.execute(query, {
                "x0": bbox[0], "y0": bbox[1], "x1": bbox[2], "y1": bbox[3], "z": z, "x": x, "y": y,
                "extent": extent, "buffer": buffer, "tolerance": simplify / scale,
                "min_area": min_area / scale**2, "min_length": min_length / scale, "name": name}).fetchone()
        return bytes(data) if data else b""

    # -- helpers -------------------------------------------------------------------------------
    def _aware_columns(self, conn: Connection, record: VersionRecord) -> frozenset[str]:
        """The datetime fields stored with a time zone (looked up once per table: tables never change)."""
        if "datetime" not in record.fields.values():
            return frozenset()
        found = self._aware.get(record.location)
        if found is None:
            schema, _, table = record.location.partition(".")
            rows = conn.execute(
                "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s "
                "AND a.atttypid = 'timestamptz'::regtype AND a.attnum > 0 AND NOT a.attisdropped",
                (schema, table)).fetchall()
            stored = {r[0] for r in rows}
            found = frozenset(n for n in record.fields if column_name(n) in stored)
            with self._aware_lock:
                self._aware[record.location] = found
        return found


def _layer(row: tuple) -> LayerRecord:
    return LayerRecord(row[0], LayerKind(row[1]), row[2], row[3], row[4], version_record(row[5:]))
