"""PostgreSQL binary ``COPY`` of a frame, encoded with numpy instead of a Python call per row.

A binary COPY row is a field count (int16) and, per field, a byte length (int32, -1 for NULL) and the value
in network byte order. Here the fixed-width part of every row (count, fid, the non-null numeric fields and
the geometry's length) is one numpy structured array; the variable parts (geometry WKB, text, nullable
fields) are lists of ``bytes``; a chunk is the interleaving of those lists joined once (``b"".join``).
For 200 000 polygons that is ~0.2 s against ~0.9 s with ``psycopg.Copy.write_row``.

Geometries go as plain WKB: a ``geometry(<type>, 25832)`` column gives WKB without an SRID the column's
SRID. A single part bound for a ``Multi*`` column is wrapped in a one-part multi header (9 bytes), as the
GeoPackage store promotes it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_EPOCH_2000_US = 946_684_800_000_000  # PostgreSQL timestamps count microseconds from 2000-01-01
_FIXED = {"int": (">i8", "bigint"), "float": (">f8", "double precision"), "bool": ("u1", "boolean"),
          "timestamp": (">i8", "timestamp"), "timestamptz": (">i8", "timestamptz")}
_MULTI_OF = {0: 4, 1: 5, 3: 6}  # shapely type id of a single part -> WKB type of its multi


@dataclass(frozen=True)
class CopyField:
    """One attribute column ready to encode: its COPY kind, values and NULL mask."""

    name: str
    kind: str  # int, float, bool, timestamp, timestamptz, text
    values: np.ndarray  # numbers (int64, float64, bool, µs since 2000 for timestamps) or objects (text)
    null: np.ndarray  # bool

    @property
    def fixed(self) -> bool:
        return self.kind != "text"


def prepare(column: pd.Series, kind: str, name: str) -> CopyField:
    """A frame column as a ``CopyField``; ``kind`` is the store's field type (int, float, bool, datetime, str).

    Missing values (None, NaN, NA, NaT) are NULL; non-text objects become their ``str``.
    """
    null = column.isna().to_numpy(dtype=bool)
    if kind == "int":
        return CopyField(name, "int", column.fillna(0).to_numpy(dtype=np.int64), null)
    if kind == "float":
        return CopyField(name, "float", column.to_numpy(dtype=np.float64, na_value=np.nan), null)
    if kind == "bool":
        return CopyField(name, "bool", column.fillna(False).to_numpy(dtype=bool), null)
    if kind == "datetime":
        aware = getattr(column.dtype, "tz", None) is not None
        times = column.dt.tz_convert("UTC").dt.tz_localize(None) if aware else column
        micros = times.to_numpy(dtype="datetime64[us]").astype(np.int64) - _EPOCH_2000_US
        micros[null] = 0
        return CopyField(name, "timestamptz" if aware else "timestamp", micros, null)
    values = column.to_numpy(dtype=object, copy=True)
    values[null] = None
    if not isinstance(column.dtype, pd.StringDtype) and pd.api.types.infer_dtype(values, skipna=True) not in (
            "string", "empty"):  # e.g. numbers in an object column
        values = np.array([v if v is None or isinstance(v, str) else str(v) for v in values], dtype=object)
    return CopyField(name, "text", values, null)


def sql_type(field: CopyField) -> str:
    """The column type a field is stored as."""
    return "text" if field.kind == "text" else _FIXED[field.kind][1]


def copy_columns(fields: list[CopyField], geometry: str) -> list[str]:
    """The column list of the COPY statement, in the order ``encode_rows`` writes: fid, the fixed-width
    fields without NULLs (they join the per-row numpy block), the geometry, then the other fields."""
    block, rest = _split(fields)
    return ["fid", *(f.name for f in block), geometry, *(f.name for f in rest)]


def _split(fields: list[CopyField]) -> tuple[list[CopyField], list[CopyField]]:
    block = [f for f in fields if f.fixed and not f.null.any()]
    return block, [f for f in fields if not (f.fixed and not f.null.any())]


def encode_rows(fids: np.ndarray, geoms: np.ndarray | None, multi: bool, fields: list[CopyField], start: int,
                stop: int, *, wkb: np.ndarray | None = None, types: np.ndarray | None = None) -> bytes:
    """Rows ``start:stop`` as binary COPY data (without header or trailer) for the columns
    ``copy_columns(fields, …)``; ``multi``: single parts are wrapped as one-part multis. ``wkb``: the
    geometries' 2D WKB (row for row with ``geoms``), written as they are instead of encoding ``geoms``.
    Without ``geoms`` (not decoded yet), ``wkb`` holds no missing value and ``types`` gives the shapely type
    id of each (``pyogrio_read.wkb_type_ids``)."""
    n = stop - start
    if n <= 0:
        return b""
    block_fields, rest = _split(fields)

    if geoms is None:
        if wkb is None or types is None:
            raise ValueError("encode_rows without geometries needs their WKB and type ids")
        chunk, missing = None, np.zeros(n, dtype=bool)
    else:
        chunk = geoms[start:stop]
        missing = shapely.is_missing(chunk)
    if wkb is not None:
        encoded = np.asarray(wkb[start:stop], dtype=object)
        if missing.any():
            encoded = encoded.copy()
            encoded[missing] = b""
    else:
        encoded = np.full(n, b"", dtype=object)
        if not missing.all():
            encoded[~missing] = shapely.to_wkb(chunk[~missing])  # type: ignore[index]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    prefix = np.full(n, b"", dtype=object)
    if multi:
        kinds = shapely.get_type_id(chunk) if chunk is not None else types[start:stop]  # type: ignore[index]
        for single, multi_type in _MULTI_OF.items():
            wrap = kinds == single
            if wrap.any():
                prefix[wrap] = b"\x01" + struct.pack("<II", multi_type, 1)
                lengths[wrap] += 9
    lengths[missing] = -1

    # the fixed-width head of every row: field count, fid, NULL-free numbers, the geometry's length
    dtype = [("count", ">i2"), ("fid_len", ">i4"), ("fid", ">i8")]
    for i, f in enumerate(block_fields):
        dtype += [(f"l{i}", ">i4"), (f"v{i}", _FIXED[f.kind][0])]
    dtype += [("geom_len", ">i4")]
    head = np.empty(n, dtype=dtype)
    head["count"] = 2 + len(fields)
    head["fid_len"] = 8
    head["fid"] = fids[start:stop]
    for i, f in enumerate(block_fields):
        head[f"l{i}"] = np.dtype(_FIXED[f.kind][0]).itemsize
        head[f"v{i}"] = f.values[start:stop]
    head["geom_len"] = lengths
    segments: list[Any] = [_as_bytes(head), prefix.tolist(), encoded.tolist()]
    for f in rest:
        segments.extend(_field_segments(f, start, stop))

    parts: list[bytes] = [b""] * (n * len(segments))
    for j, segment in enumerate(segments):
        parts[j::len(segments)] = segment
    return b"".join(parts)


def _as_bytes(array: np.ndarray) -> list[bytes]:
    """One ``bytes`` per element of a structured array (a void view keeps trailing zero bytes)."""
    return np.ascontiguousarray(array).view(np.dtype((np.void, array.dtype.itemsize))).tolist()


def _field_segments(f: CopyField, start: int, stop: int) -> list[list[bytes]]:
    null = f.null[start:stop]
    if f.kind == "text":
        data = [b"" if v is None else v.encode("utf-8") for v in f.values[start:stop].tolist()]
        lengths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
        lengths[null] = -1
        return [_as_bytes(lengths.astype(">i4")), data]
    code = _FIXED[f.kind][0]
    cell = np.empty(stop - start, dtype=[("len", ">i4"), ("value", code)])
    cell["len"] = np.dtype(code).itemsize
    cell["value"] = f.values[start:stop]
    out = np.array(_as_bytes(cell), dtype=object)
    out[null] = _NULL
    return [out.tolist()]
