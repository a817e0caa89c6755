"""SQL and rows of the PostGIS store's version tables: their names, the WHERE and GeoJSON statements, and
rows turned into feature pages and frames (``layers.postgis_store`` runs them)."""

from __future__ import annotations

import math
import zlib
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from psycopg import sql

from layers import pg_geojson
from layers.cql2 import SortKey
from layers.cql2_sql import POSTGIS, order_by
from layers.crs import WORKING_EPSG, OutputCrs
from layers.errors import InvalidQuery
from layers.migrations import CATALOG_SCHEMA
from layers.store import FeaturePage, VersionRecord, coerce_filter, feature_page

LAYERS_SCHEMA = "geo_layers"
GEOMETRY_COLUMN = "geom"


# -- names ----------------------------------------------------------------------------------------
def table_name(layer_id: str, version: int) -> str:
    """``<id>_v<n>``; ids too long for PostgreSQL's 63-byte names are shortened with a checksum."""
    suffix = f"_v{version}"
    if len(layer_id) + len(suffix) <= 63:
        return layer_id + suffix
    digest = f"{zlib.crc32(layer_id.encode()):08x}"
    return f"{layer_id[:63 - len(suffix) - 9]}_{digest}{suffix}"


def column_name(field: str) -> str:
    """The table column of a field (``fid`` and ``geom`` are taken by the store itself)."""
    return f"{field}_" if field in ("fid", GEOMETRY_COLUMN) else field


def table_of(record: VersionRecord) -> sql.Identifier:
    """The version's table, ``"<schema>"."<table>"``."""
    schema, _, table = record.location.partition(".")
    return sql.Identifier(schema, table)


def select_columns(record: VersionRecord, names: list[str]) -> sql.Composable:
    cols = [sql.SQL("t.fid"), sql.SQL("ST_AsBinary(t.{})").format(sql.Identifier(GEOMETRY_COLUMN))]
    cols += [pg_geojson.column(column_name(n)) for n in names]  # a % in a name is doubled for psycopg
    return sql.SQL(", ").join(cols)


def attribute_sql(name: str, kind: str, aware: bool) -> sql.Composable:
    """A tile attribute as the Python tile path has it: datetimes as the GeoPackage's ISO text."""
    col = pg_geojson.column(column_name(name))  # a % in a name is doubled for psycopg (the alias's too)
    if kind != "datetime":
        return sql.SQL("{} AS {}").format(col, pg_geojson.identifier(name))
    return sql.SQL("{} AS {}").format(pg_geojson.iso_text_sql(col, aware), pg_geojson.identifier(name))


def bbox_clause() -> sql.Composable:
    geom = sql.Identifier(GEOMETRY_COLUMN)
    envelope = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, {})").format(sql.Literal(WORKING_EPSG))
    return sql.SQL("t.{g} && {e} AND ST_Intersects(t.{g}, {e})").format(g=geom, e=envelope)


_CHECK = "FROM (SELECT) one LEFT JOIN {catalog}.layers l ON l.id = %s AND l.removed IS NULL"
CATALOG_CHECK = sql.SQL("SELECT l.current_version, l.updated " + _CHECK).format(catalog=sql.Identifier(CATALOG_SCHEMA))


def geojson_statement(record: VersionRecord, where: sql.Composable | None, sortby: tuple[SortKey, ...],
                       target: OutputCrs, aware: frozenset[str]) -> tuple[sql.Composable | None, list[str]]:
    """The statement of ``PostGISStore.geojson_page`` and its field-name parameters (None: not writable).

    Parameters in order: the WHERE clause's, limit, offset (then the feature count when there is no WHERE),
    the field names, the layer id. One row: current version and ``updated`` of the layer, features returned,
    features matched, the features' JSON (UTF-8 bytea; NULL when none).
    """
    feature = pg_geojson.feature_sql(record.fields, {n: column_name(n) for n in record.fields}, aware,
                                     GEOMETRY_COLUMN, target)
    if feature is None:
        return None, []
    text, names = feature
    keys = sql.SQL("").join(sql.SQL(", ") + pg_geojson.column(column_name(k.name)) for k in sortby)
    if where is None:
        head = "WITH p AS MATERIALIZED (SELECT t.fid FROM {table} t ORDER BY {order} LIMIT %s OFFSET %s)"
        matched = "%s::bigint"
    else:
        head = ("WITH m AS MATERIALIZED (SELECT t.fid{keys} FROM {table} t WHERE {where}), "
                "p AS MATERIALIZED (SELECT t.fid FROM m t ORDER BY {order} LIMIT %s OFFSET %s)")
        matched = "(SELECT count(*) FROM m)"
    query = sql.SQL(
        head + " SELECT l.current_version, l.updated, (SELECT count(*) FROM p), " + matched + ", "
        "(SELECT convert_to(string_agg({text}, ',' ORDER BY {order}), 'UTF8') FROM p JOIN {table} t "
        "ON t.fid = p.fid) " + _CHECK).format(
        table=table_of(record), where=where or sql.SQL("true"), keys=keys, order=sql.SQL(order_by(record, sortby, POSTGIS)),
        text=text, catalog=sql.Identifier(CATALOG_SCHEMA))
    return query, names


def where_clause(record: VersionRecord, bbox: tuple[float, float, float, float] | None, filters: dict[str, Any],
           aware: frozenset[str]) -> tuple[sql.Composable | None, list[Any]]:
    """The WHERE clause of a query (None when there is nothing to filter) and its parameters."""
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for name, raw in filters.items():
        kind = record.fields.get(name)
        if kind is None:
            raise InvalidQuery(name, f"{name!r} is neither a query parameter nor a property of {record.layer_id!r}; "
                               f"properties: {', '.join(record.fields)}")
        value = _filter_value(name, raw, kind, name in aware)
        if value is _NO_MATCH:
            clauses.append(sql.SQL("false"))
            continue
        clauses.append(pg_geojson.column(column_name(name)) + sql.SQL(" = %s"))
        params.append(value)
    if bbox is not None:
        clauses.append(bbox_clause())
        params += list(bbox) * 2
    if not clauses:
        return None, []
    return sql.SQL(" AND ").join(clauses), params


_NO_MATCH = object()


def _filter_value(name: str, raw: Any, kind: str, aware: bool) -> Any:
    """The typed value of an equality filter (``InvalidQuery`` naming the property when it cannot be)."""
    if kind == "bool":
        return bool(coerce_filter(name, raw, kind))
    if kind != "datetime":
        return coerce_filter(name, raw, kind)
    # the GeoPackage compares ISO text; here a value that is no timestamp of the column's kind matches nothing
    try:
        value = datetime.fromisoformat(str(raw))
    except ValueError:
        return _NO_MATCH
    if (value.tzinfo is not None) != aware:
        return _NO_MATCH
    return value


# -- rows <-> Python --------------------------------------------------------------------------------
def iso_text(value: datetime) -> str:
    """A timestamp as the GeoPackage stores it: ``2024-05-01T10:00:00``, ``.123`` if it has milliseconds,
    ``Z`` when it has a time zone (always UTC here)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
        suffix = "Z"
    else:
        suffix = ""
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text + suffix


def out_column(values: list[Any], kind: str, aware: bool) -> list[Any]:
    if kind == "datetime":
        return [None if v is None else iso_text(v) for v in values]
    return values


def page_of(record: VersionRecord, rows: list[tuple], matched: int) -> FeaturePage:
    return feature_page(record, rows, matched, shapely.from_wkb, {"datetime": iso_text})


def frame_of(record: VersionRecord, rows: list[tuple]) -> gpd.GeoDataFrame:
    names = list(record.fields)
    columns = list(zip(*rows, strict=True)) if rows else [()] * (2 + len(names))
    index = pd.Index(np.array(columns[0], dtype=np.int64), name="fid")
    data = {name: _series(list(column), record.fields[name]).set_axis(index)
            for name, column in zip(names, columns[2:], strict=True)}
    geometry = gpd.GeoSeries(shapely.from_wkb(list(columns[1])) if rows else np.array([], dtype=object),
                             index=index, crs=WORKING_EPSG)
    return gpd.GeoDataFrame(data, geometry=geometry, index=index, crs=WORKING_EPSG)


def _series(values: list[Any], kind: str) -> pd.Series:
    has_null = any(v is None for v in values)
    if kind == "int":
        return pd.Series(values, dtype="Int64" if has_null else "int64")
    if kind == "float":
        return pd.Series([math.nan if v is None else v for v in values], dtype="float64")
    if kind == "bool":
        return pd.Series(values, dtype="boolean" if has_null else "bool")
    if kind == "datetime":
        return pd.Series(pd.to_datetime(values, utc=any(getattr(v, "tzinfo", None) for v in values)))
    return pd.Series(values) if values else pd.Series([], dtype=object)  # text: pandas picks its string dtype
