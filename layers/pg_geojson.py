"""GeoJSON Features written by PostgreSQL: one SQL expression per feature, the same JSON as ``layers.geojson``.

The PostGIS store builds a whole ``items`` page in the database (``PostGISStore.geojson_page``): each feature's
text is ``{"type":"Feature","id":…,"geometry":…,"properties":{…}}`` and the page comes back as one UTF-8
``bytea``. The JSON *values* equal what ``layers.geojson.encode_features`` writes for the same rows (the tests
compare both on every field type and every supported CRS):

* geometry: ``ST_AsGeoJSON`` of the geometry reprojected by PostGIS (``ST_Transform``; lat/lon order for
  EPSG:4326 through ``ST_FlipCoordinates``), rounded to the same decimals (7 in degrees, 3 in metres);
* properties in the layer's field order; NULL, NaN and ±Infinity as ``null``; datetimes as the
  GeoPackage's ISO text (``2024-05-01T10:00:00``, ``.250`` with milliseconds, ``Z`` when stored with a
  time zone); texts escaped by ``to_json``.

Numbers may be *spelled* differently (PostgreSQL writes ``60`` and ``1e+20`` where orjson writes ``60.0``
and ``1e20``): the same JSON numbers. Field names travel as query parameters, never inside the SQL text.
"""

from __future__ import annotations

import orjson
from psycopg import sql

from layers.crs import WORKING_EPSG, OutputCrs

FEATURE_KINDS = frozenset({"int", "float", "str", "bool", "datetime"})  # the field types written here


def decimals(target: OutputCrs) -> int:
    """Decimals of output coordinates: 7 in degrees (~1 cm), 3 in metres (1 mm)."""
    return 7 if target.epsg == 4326 else 3


def iso_text_sql(column: sql.Composable, aware: bool) -> sql.Composable:
    """A timestamp column as the GeoPackage's ISO text (``…T10:00:00``, ``.MS`` if any fraction, ``Z`` if aware)."""
    return sql.SQL("to_char({c}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_part('microseconds', {c})::bigint "
                   "%% 1000000 <> 0 THEN to_char({c}, '.MS') ELSE '' END{z}").format(
        c=column, z=sql.SQL(" || 'Z'") if aware else sql.SQL(""))


def geometry_sql(column: sql.Composable, target: OutputCrs) -> sql.Composable:
    """The GeoJSON text of a working-CRS geometry column in ``target`` (``null`` for a missing geometry)."""
    shape = column if target.epsg == WORKING_EPSG else sql.SQL("ST_Transform({}, {})").format(
        column, sql.Literal(target.epsg))
    if target.lat_lon:
        shape = sql.SQL("ST_FlipCoordinates({})").format(shape)
    return sql.SQL("COALESCE(ST_AsGeoJSON({}, {}, 0), 'null')").format(shape, sql.Literal(decimals(target)))


def value_sql(column: sql.Composable, kind: str, aware: bool) -> sql.Composable:
    """The JSON text of one property value (never SQL NULL: ``null`` instead)."""
    if kind in ("int", "bool"):  # bigint and boolean text are JSON as they are
        return sql.SQL("COALESCE({}::text, 'null')").format(column)
    if kind == "float":  # JSON has no NaN or infinities: null, as orjson writes them
        return sql.SQL("CASE WHEN {c} IS NULL OR {c} IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) "
                       "THEN 'null' ELSE {c}::text END").format(c=column)
    if kind == "datetime":
        return sql.SQL("COALESCE(to_json({})::text, 'null')").format(iso_text_sql(column, aware))
    return sql.SQL("COALESCE(to_json({})::text, 'null')").format(column)


def column(name: str) -> sql.Composable:
    """``t."name"``, safe in a statement run with parameters: psycopg reads a ``%`` in a quoted name as a
    placeholder, so it is doubled (``%%``, which psycopg sends as ``%``)."""
    return sql.SQL("t.") + identifier(name)


def identifier(name: str) -> sql.Composable:
    """``"name"`` (a column alias, say), with a ``%`` doubled as in ``column``."""
    return sql.SQL('"{}"'.format(name.replace('"', '""').replace("%", "%%")))


def feature_sql(fields: dict[str, str], columns: dict[str, str], aware: frozenset[str], geometry: str,
                target: OutputCrs) -> tuple[sql.Composable, list[str]] | None:
    """The text of one GeoJSON Feature of the table aliased ``t``, and its parameters (the quoted field names).

    ``columns`` maps each field to its table column; ``aware`` holds the datetime fields stored with a time
    zone. None when a field type is not one written here (the caller encodes in Python instead).
    """
    if any(kind not in FEATURE_KINDS for kind in fields.values()):
        return None
    geom = geometry_sql(sql.SQL("t.{}").format(sql.Identifier(geometry)), target)
    parts: list[sql.Composable] = [sql.SQL("'{\"type\":\"Feature\",\"id\":' || t.fid || ',\"geometry\":' || "), geom,
                                   sql.SQL(" || ',\"properties\":{'")]
    params: list[str] = []
    for i, (name, kind) in enumerate(fields.items()):
        key = ("," if i else "") + _json_string(name) + ":"
        parts.append(sql.SQL(" || %s::text || "))
        parts.append(value_sql(column(columns[name]), kind, name in aware))
        params.append(key)
    parts.append(sql.SQL(" || '}}'"))
    return sql.Composed(parts), params


def _json_string(text: str) -> str:
    return orjson.dumps(text).decode()
