"""CQL2 → parameterised SQL for both stores (``SQLITE``: the GeoPackage, ``POSTGIS``).

The translation checks every property against the layer's fields (unknown: 400 naming it and listing the
queryables), types every literal by the field it is compared with, and never puts a value into the SQL text:
values are parameters, identifiers quoted. Operators outside the supported set are a 400 naming them.

Spatial predicates: PostGIS evaluates ``ST_<op>(geom, literal)`` (GiST index); the GeoPackage first narrows
to the R-tree entries meeting the literal's envelope, then refines exactly with shapely in a SQL function
(``cql_spatial``, registered on each connection by ``register_sqlite_functions``). Both get the same literal,
reprojected from ``filter-crs`` to the working CRS in Python, so both answer alike.

Semantics shared by both: LIKE is case-sensitive (``%`` any text, ``_`` one character, ``\\`` escapes),
CASEI lower-cases by Unicode rules, text compares and sorts by code point, NULLs sort last in either direction.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import shapely
from pygeofilter import ast, values
from shapely.geometry import shape

from layers.cql2 import Cql2Filter, SortKey
from layers.crs import WORKING_EPSG, OutputCrs, transformer
from layers.errors import InvalidQuery
from layers.store import VersionRecord

GEOMETRY_COLUMN = "geom"
MAX_DEPTH = 100  # nested AND/OR/NOT levels (SQLite refuses expressions deeper than 1000)
GEOMETRY_NAMES = ("geometry", "geom")  # what a filter may call the feature geometry
_INT64 = 2**63
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

_COMPARISONS = {ast.ComparisonOp.EQ: "=", ast.ComparisonOp.NE: "<>", ast.ComparisonOp.LT: "<",
                ast.ComparisonOp.LE: "<=", ast.ComparisonOp.GT: ">", ast.ComparisonOp.GE: ">="}
# spatial predicate -> (shapely/PostGIS name, its converse when the literal comes first, implies envelopes meet)
_SPATIAL = {"INTERSECTS": ("intersects", "intersects", True), "DISJOINT": ("disjoint", "disjoint", False),
            "CONTAINS": ("contains", "within", True), "WITHIN": ("within", "contains", True),
            "TOUCHES": ("touches", "touches", True), "CROSSES": ("crosses", "crosses", True),
            "OVERLAPS": ("overlaps", "overlaps", True), "EQUALS": ("equals", "equals", True)}
_PYTHON_OPS: dict[str, Callable[[Any, Any], Any]] = {"=": operator.eq, "<>": operator.ne, "<": operator.lt,
                                                     "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_SHAPELY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    name: getattr(shapely, name) for name in ("intersects", "contains", "within", "touches", "crosses",
                                              "overlaps", "equals")}


@dataclass(frozen=True)
class Dialect:
    """How one store spells parameters, columns and the functions the translation needs."""

    name: str
    placeholder: str

    def quote(self, name: str) -> str:
        text = '"' + name.replace('"', '""') + '"'
        return text.replace("%", "%%") if self.name == "postgis" else text  # psycopg reads % in the query


SQLITE = Dialect("sqlite", "?")
POSTGIS = Dialect("postgis", "%s")


@dataclass
class CompiledFilter:
    """A SQL condition over the table aliased ``t`` and its parameters, in order."""

    sql: str
    params: list[Any] = field(default_factory=list)


def compile_filter(record: VersionRecord, cql: Cql2Filter, dialect: Dialect) -> CompiledFilter:
    """``cql`` as a condition on ``record``'s table (``InvalidQuery('filter')`` naming what cannot be used)."""
    compiler = _Compiler(record, dialect, cql.crs)
    text = compiler.condition(cql.node)
    return CompiledFilter(text, compiler.params)


def bbox_condition(record: VersionRecord, bbox: tuple[float, float, float, float], dialect: Dialect) -> CompiledFilter:
    """Exact intersection with a working-CRS box, spelled like a CQL2 ``S_INTERSECTS``."""
    compiler = _Compiler(record, dialect, None)
    text = compiler.spatial("intersects", True, shapely.box(*bbox))
    return CompiledFilter(text, compiler.params)


def order_by(record: VersionRecord, keys: tuple[SortKey, ...], dialect: Dialect) -> str:
    """``ORDER BY`` terms (without the keywords): the keys, NULLs last, then the feature id as tiebreak."""
    terms = []
    for key in keys:
        kind = record.fields.get(key.name)
        if kind is None:
            raise InvalidQuery("sortby", f"{record.layer_id!r} har ingen egenskap / has no property {key.name!r} "
                               f"to sort by; sortables: {', '.join(record.fields)}")
        column = _column_sql(key.name, kind, dialect, ordered=True)
        terms.append(f"{column} {'DESC' if key.descending else 'ASC'} NULLS LAST")
    terms.append("t.fid ASC")
    return ", ".join(terms)


def register_sqlite_functions(db: sqlite3.Connection) -> None:
    """``cql_spatial(op, geometry blob, literal WKB)`` and ``cql_casei(text)`` on one SQLite connection."""
    # per connection: the store's connections are thread-local and sqlite3 refuses them to other threads
    # (check_same_thread), so these prepared geometries are never used by two threads (GEOS would crash)
    literals: dict[bytes, Any] = {}

    def literal(wkb: bytes) -> Any:
        geom = literals.get(wkb)
        if geom is None:
            if len(literals) > 64:
                literals.clear()
            geom = literals[wkb] = shapely.from_wkb(wkb)
            shapely.prepare(geom)
        return geom

    def spatial(op: str, blob: bytes | None, wkb: bytes) -> int | None:
        if blob is None:
            return None
        geom = shapely.from_wkb(blob[8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 7]:])
        lit = literal(wkb)
        if op == "intersects":  # symmetric: the prepared literal goes first
            return int(shapely.intersects(lit, geom))
        return int(_SHAPELY_OPS[op](geom, lit))

    db.create_function("cql_spatial", 3, spatial, deterministic=True)
    db.create_function("cql_casei", 1, lambda v: v.lower() if isinstance(v, str) else v, deterministic=True)


class _Compiler:
    """One translation: walks pygeofilter's AST and collects parameters."""

    def __init__(self, record: VersionRecord, dialect: Dialect, crs: OutputCrs | None) -> None:
        self.record = record
        self.dialect = dialect
        self.crs = crs
        self.params: list[Any] = []
        self.depth = 0

    # -- conditions ----------------------------------------------------------------------------
    def condition(self, node: Any) -> str:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidQuery("filter", f"filteret er for dypt nøstet / the filter nests more than {MAX_DEPTH} "
                               "levels; use IN (…) for long lists of alternatives")
        try:
            return self._condition(node)
        finally:
            self.depth -= 1

    def _condition(self, node: Any) -> str:
        if isinstance(node, ast.And):
            return f"({self.condition(node.lhs)} AND {self.condition(node.rhs)})"
        if isinstance(node, ast.Or):
            return f"({self.condition(node.lhs)} OR {self.condition(node.rhs)})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.condition(node.sub_node)})"
        if isinstance(node, ast.Comparison):
            return self.comparison(node.lhs, _COMPARISONS[node.op], node.rhs)
        if isinstance(node, ast.Between):
            kind, column = self.operand(node.lhs, ordered=True)
            low = self.value(node.low, kind, "BETWEEN", ordered=True)
            high = self.value(node.high, kind, "BETWEEN", ordered=True)
            return f"({column} {'NOT ' if node.not_ else ''}BETWEEN {low} AND {high})"
        if isinstance(node, ast.In):
            kind, column = self.operand(node.lhs)
            items = ", ".join(self.value(v, kind, "IN") for v in node.sub_nodes)
            return f"({column} {'NOT ' if node.not_ else ''}IN ({items}))"
        if isinstance(node, ast.IsNull):
            _, column = self.operand(node.lhs)
            return f"({column} IS {'NOT ' if node.not_ else ''}NULL)"
        if isinstance(node, ast.Like):
            return self.like(node)
        if isinstance(node, ast.Include):
            return "(1 = 0)" if node.not_ else "(1 = 1)"
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self.spatial_predicate(node.op.name, node.lhs, node.rhs)
        if isinstance(node, ast.BBox):
            if node.crs:
                raise _unsupported("BBOX(…, crs)", "use filter-crs for the CRS of the coordinates")
            envelope = values.Envelope(node.minx, node.maxx, node.miny, node.maxy)
            return self.spatial_predicate("INTERSECTS", node.lhs, envelope)
        raise _unsupported(_operator_name(node))

    def comparison(self, lhs: Any, op: str, rhs: Any) -> str:
        ordered = op not in ("=", "<>")
        for side in (lhs, rhs):
            if isinstance(side, ast.Arithmetic) or (isinstance(side, ast.Function) and not _is_casei_call(side)):
                raise _unsupported(_operator_name(side))
        if _is_property(lhs) or _is_casei(lhs):
            kind, left = self.operand(lhs, ordered=ordered)
            right = self.value(rhs, kind, op, casei=_is_casei(lhs), ordered=ordered)
        elif _is_property(rhs) or _is_casei(rhs):
            kind, right = self.operand(rhs, ordered=ordered)
            left = self.value(lhs, kind, op, casei=_is_casei(rhs), ordered=ordered)
        else:  # two literals: answered here (a type clash in SQL would be a server error)
            return "(1 = 1)" if _compare_literals(lhs, op, rhs) else "(1 = 0)"
        return f"({left} {op} {right})"

    def like(self, node: ast.Like) -> str:
        casei = _is_casei(node.lhs)
        kind, column = self.operand(node.lhs)
        if kind != "str":
            raise InvalidQuery("filter", f"LIKE trenger en tekstegenskap / LIKE needs a text property; "
                               f"{_property_name(node.lhs)!r} holds {kind} values")
        pattern = node.pattern
        if _is_casei_call(pattern):
            pattern, casei = pattern.arguments[0], True
        if not isinstance(pattern, str):
            raise InvalidQuery("filter", "LIKE-mønsteret må være tekst / the LIKE pattern must be a text literal")
        if casei:
            pattern = pattern.lower()
        negate = "NOT " if node.not_ else ""
        if self.dialect is SQLITE:  # GLOB is case-sensitive, as CQL2's LIKE and PostgreSQL's are
            return f"({column} {negate}GLOB {self.param(_like_to_glob(pattern))})"
        return f"({column} {negate}LIKE {self.param(pattern)})"

    def spatial_predicate(self, name: str, lhs: Any, rhs: Any) -> str:
        if name not in _SPATIAL:
            raise _unsupported(f"S_{name}")
        op, converse, _ = _SPATIAL[name]
        if _is_geometry_property(lhs) and not _is_geometry_property(rhs):
            return self.spatial(op, True, self.geometry(rhs))
        if _is_geometry_property(rhs) and not _is_geometry_property(lhs):
            return self.spatial(converse, True, self.geometry(lhs))
        if _is_geometry_property(lhs):
            raise InvalidQuery("filter", f"S_{name} mellom geometrien og seg selv / of the geometry with itself "
                               "is not supported; compare it with a geometry literal")
        answer = _SHAPELY_OPS[op](self.geometry(lhs), self.geometry(rhs)) if op != "disjoint" else \
            shapely.disjoint(self.geometry(lhs), self.geometry(rhs))
        return "(1 = 1)" if answer else "(1 = 0)"

    def spatial(self, op: str, positive: bool, literal: Any) -> str:
        """``op(feature geometry, literal)``; disjoint is spelled as NOT intersects (indexed)."""
        if op == "disjoint":
            return f"(NOT {self.spatial('intersects', positive, literal)})"
        wkb = shapely.to_wkb(literal)
        geom = f"t.{self.dialect.quote(GEOMETRY_COLUMN)}"
        if self.dialect is POSTGIS:
            return f"ST_{op.capitalize()}({geom}, ST_GeomFromWKB({self.param(wkb)}, {WORKING_EPSG}))"
        minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(literal))
        rtree = self.dialect.quote(f"rtree_{self.record.layer_id}_{GEOMETRY_COLUMN}")
        envelope = (f"t.fid IN (SELECT r.id FROM {rtree} r WHERE r.maxx >= {self.param(minx)} AND "
                    f"r.minx <= {self.param(maxx)} AND r.maxy >= {self.param(miny)} AND r.miny <= {self.param(maxy)})")
        return f"({envelope} AND cql_spatial({self.param(op)}, {geom}, {self.param(wkb)}))"

    # -- operands ------------------------------------------------------------------------------
    def operand(self, node: Any, *, ordered: bool = False) -> tuple[str, str]:
        """A property (or CASEI of one) as ``(field kind, SQL)``; ``ordered``: compared by order (<, BETWEEN)."""
        if _is_casei(node):
            kind, column = self.operand(node.arguments[0])
            if kind != "str":
                raise InvalidQuery("filter", f"CASEI trenger en tekstegenskap / CASEI needs a text property, "
                                   f"{_property_name(node.arguments[0])!r} holds {kind} values")
            lowered = self.casei(column)
            return kind, f'{lowered} COLLATE "C"' if ordered and self.dialect is POSTGIS else lowered
        if isinstance(node, ast.Function | ast.Arithmetic):
            raise _unsupported(_operator_name(node))
        if not _is_property(node):
            raise InvalidQuery("filter", f"venstre side må være en egenskap / the left side of this predicate must "
                               f"be a property, not {_describe(node)}")
        name = node.name
        kind = self.record.fields.get(name)
        if kind is None:
            if name in GEOMETRY_NAMES:
                raise InvalidQuery("filter", f"{name!r} er geometrien / is the geometry: use it in S_INTERSECTS and "
                                   "the other spatial functions")
            raise InvalidQuery("filter", f"{self.record.layer_id!r} har ingen egenskap / has no property {name!r}; "
                               f"queryables: {', '.join([*self.record.fields, 'geometry'])}")
        return kind, _column_sql(name, kind, self.dialect, ordered=ordered)

    def value(self, node: Any, kind: str | None, op: str, *, casei: bool = False, ordered: bool = False) -> str:
        """A literal (typed by the property it meets) or another property, as SQL."""
        if _is_property(node) or _is_casei(node):
            other, column = self.operand(node, ordered=ordered)
            if kind is not None and _family(other) != _family(kind):
                raise InvalidQuery("filter", f"{op}: egenskapene har ulike typer / the properties hold different "
                                   f"types ({kind} and {other}): {_property_name(node)!r}")
            return column
        if _is_casei_call(node):
            node, casei = node.arguments[0], True
        if isinstance(node, ast.Function | ast.Arithmetic):
            raise _unsupported(_operator_name(node))
        if isinstance(node, ast.Node | values.Geometry | values.Envelope):
            raise InvalidQuery("filter", f"{op} sammenligner en egenskap med en verdi / compares a property "
                               f"with a value, not with {_describe(node)}")
        typed = _typed(node, kind, op)
        if casei and isinstance(typed, str):
            typed = typed.lower()
        if kind == "datetime" and self.dialect is SQLITE:
            return f"julianday({self.param(typed.isoformat(timespec='milliseconds'))})"
        return self.param(typed)

    def casei(self, column: str) -> str:
        if self.dialect is SQLITE:
            return f"cql_casei({column})"
        return f'lower({column} COLLATE "und-x-icu")'

    def geometry(self, node: Any) -> Any:
        """A geometry literal (GeoJSON-like, WKT, BBOX or ENVELOPE) in the working CRS, checked."""
        if isinstance(node, values.Geometry):
            if "crs" in node.geometry:
                raise InvalidQuery("filter", "SRID=…; i geometrien støttes ikke / is not supported: give the CRS "
                                   "of the coordinates with filter-crs")
            try:
                geom = shape(node.geometry)
            except Exception as exc:  # noqa: BLE001 - malformed coordinates
                raise InvalidQuery("filter", f"ugyldig geometri / invalid geometry literal: {exc}") from None
        elif isinstance(node, values.Envelope):
            geom = shapely.box(node.x1, node.y1, node.x2, node.y2)
        elif isinstance(node, ast.Function) and node.name.lower() == "bbox" and len(node.arguments) in (4, 6):
            numbers = node.arguments if len(node.arguments) == 4 else [node.arguments[i] for i in (0, 1, 3, 4)]
            if not all(isinstance(v, int | float) for v in numbers):
                raise InvalidQuery("filter", "BBOX tar fire tall / takes four numbers minx, miny, maxx, maxy")
            geom = shapely.box(*numbers)
        else:
            raise InvalidQuery("filter", f"romlige funksjoner sammenligner geometrien med en geometri / spatial "
                               f"functions compare the geometry with a geometry literal, not {_describe(node)}")
        return self.to_working(geom)

    def to_working(self, geom: Any) -> Any:
        crs = self.crs
        if crs is not None:
            if crs.lat_lon:
                geom = shapely.transform(geom, lambda xy: xy[:, ::-1].copy())
            if crs.epsg != WORKING_EPSG:
                tr = transformer(crs.epsg, WORKING_EPSG)
                geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
        if geom.is_empty or not np.isfinite(shapely.get_coordinates(geom)).all():
            raise InvalidQuery("filter", "geometrien er tom eller utenfor CRS-ets gyldighetsområde / the geometry "
                               "is empty or outside the area of filter-crs (CRS84 is lon,lat)")
        if not geom.is_valid:
            raise InvalidQuery("filter", f"ugyldig geometri / invalid geometry literal: {shapely.is_valid_reason(geom)}")
        return geom

    def param(self, value: Any) -> str:
        self.params.append(value)
        return self.dialect.placeholder


# -- helpers ----------------------------------------------------------------------------------------
def _column_sql(name: str, kind: str, dialect: Dialect, *, ordered: bool) -> str:
    column = name
    if dialect is POSTGIS and name in ("fid", GEOMETRY_COLUMN):
        column = f"{name}_"  # as layers.postgis_store.column_name
    sql = f"t.{dialect.quote(column)}"
    if kind == "datetime" and dialect is SQLITE:
        return f"julianday({sql})"  # ISO text with or without milliseconds and zone, compared as instants
    if kind == "str" and dialect is POSTGIS and ordered:
        return f'{sql} COLLATE "C"'  # code-point order, as SQLite's BINARY
    return sql


def _typed(value: Any, kind: str | None, op: str) -> Any:
    """A literal as the parameter for a field of ``kind`` (``InvalidQuery`` naming the clash)."""
    if isinstance(value, values.Interval | list | dict | tuple):
        raise InvalidQuery("filter", f"{op}: verdien / the value {value!r} is not a scalar")
    if kind is None:
        return _plain(value)
    try:
        if kind in ("int", "float"):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                value = float(value) if any(c in value for c in ".eE") or kind == "float" else int(value)
            if not isinstance(value, int | float):
                raise ValueError
            return float(value) if isinstance(value, int) and abs(value) >= _INT64 else value
        if kind == "bool":
            if isinstance(value, bool):
                return value
            return {"true": True, "false": False, "1": True, "0": False}[str(value).lower()]
        if kind == "datetime":
            return _instant(value)
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    except (ValueError, KeyError, TypeError, OverflowError):
        raise InvalidQuery("filter", f"{op}: verdien / the value {value!r} passer ikke / does not fit a property "
                           f"holding {kind} values") from None


def _instant(value: Any) -> str | datetime:
    """A date, timestamp or ISO text as a UTC instant (text for SQLite's julianday, datetime for PostGIS)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise TypeError(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _family(kind: str) -> str:
    return "number" if kind in ("int", "float") else kind


def _compare_literals(lhs: Any, op: str, rhs: Any) -> bool:
    """``lhs op rhs`` for two literals (``1 = 1``); values of different types are a 400."""
    for value in (lhs, rhs):
        if isinstance(value, ast.Node | values.Geometry | values.Envelope | values.Interval | list | dict):
            raise InvalidQuery("filter", f"{op} sammenligner en egenskap med en verdi / compares a property "
                               f"with a value, not with {_describe(value)}")
    if isinstance(lhs, bool) != isinstance(rhs, bool) or isinstance(lhs, str) != isinstance(rhs, str):
        raise InvalidQuery("filter", f"{lhs!r} {op} {rhs!r}: verdiene har ulike typer / the values have "
                           "different types")
    try:
        return bool(_PYTHON_OPS[op](lhs, rhs))
    except TypeError:
        raise InvalidQuery("filter", f"{lhs!r} {op} {rhs!r}: verdiene har ulike typer / the values have "
                           "different types") from None


def _plain(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _INT64:
        return float(value)
    return value


def _like_to_glob(pattern: str) -> str:
    """A CQL2 LIKE pattern (``%``, ``_``, ``\\`` escape) as a SQLite GLOB pattern (``*``, ``?``, ``[x]``)."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(f"[{char}]" if char in "*?[" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out)


def _is_property(node: Any) -> bool:
    return isinstance(node, ast.Attribute) and node.name not in GEOMETRY_NAMES


def _is_geometry_property(node: Any) -> bool:
    return isinstance(node, ast.Attribute) and node.name in GEOMETRY_NAMES


def _is_casei_call(node: Any) -> bool:
    return isinstance(node, ast.Function) and node.name.lower() in ("lower", "casei") and len(node.arguments) == 1


def _is_casei(node: Any) -> bool:
    """CASEI of a property (CASEI of a literal is just the lower-cased literal)."""
    return _is_casei_call(node) and isinstance(node.arguments[0], ast.Attribute)


def _property_name(node: Any) -> str:
    return node.name if isinstance(node, ast.Attribute) else _describe(node)


def _describe(node: Any) -> str:
    if isinstance(node, ast.Attribute):
        return f"property {node.name!r}"
    if isinstance(node, values.Geometry | values.Envelope):
        return "a geometry"
    if isinstance(node, ast.Node):
        return _operator_name(node)
    return repr(node)


def _operator_name(node: Any) -> str:
    """The CQL2 name of an operator we do not translate (for the 400 message)."""
    if isinstance(node, ast.TemporalPredicate):
        return f"T_{node.op.name}"
    if isinstance(node, ast.ArrayPredicate):
        return f"A_{node.op.name}"
    if isinstance(node, ast.SpatialDistancePredicate):
        return f"S_D{node.op.name}"
    if isinstance(node, ast.Arithmetic):
        return {"ADD": "+", "SUB": "-", "MUL": "*", "DIV": "/"}.get(node.op.name, node.op.name)
    if isinstance(node, ast.Function):
        return f"{node.name}()"
    if isinstance(node, ast.Relate):
        return "RELATE"
    return type(node).__name__


def _unsupported(operator: str, hint: str = "") -> InvalidQuery:
    supported = ("=, <>, <, <=, >, >=, AND, OR, NOT, BETWEEN, IN, LIKE, IS NULL, CASEI, S_INTERSECTS, S_DISJOINT, "
                 "S_CONTAINS, S_WITHIN, S_TOUCHES, S_CROSSES, S_OVERLAPS, S_EQUALS, BBOX")
    return InvalidQuery("filter", f"operatoren / the operator {operator} støttes ikke / is not supported"
                        f"{'; ' + hint if hint else ''}; supported: {supported}")
