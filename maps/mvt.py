"""A vectorised Mapbox Vector Tile (MVT 2.1) encoder: numpy in, protobuf bytes out.

Pure-Python encoders spend their time in a loop per vertex; here every step is a numpy array operation
over all the features of a layer at once:

1. shapely hands back parts, rings and coordinates with index arrays (no Python loop per geometry);
2. coordinates are rounded to the integer tile grid, repeated points are dropped, rings that collapse
   are dropped with their holes, and rings are oriented as the spec requires (exterior clockwise with
   y pointing down, i.e. positive surveyor's area; holes the other way);
3. geometry commands (MoveTo, LineTo, ClosePath with zigzag deltas) and attribute tags are scattered
   into one array of protobuf varint values, with field keys and byte lengths computed alongside;
4. that array is varint-encoded in one pass.

Steps 1–3 are ``maps.mvt_geometry``; the protobuf (varints, attributes, the layer message) is here.

The output is a ``Tile`` message holding one layer; several such messages concatenated are a valid
multi-layer tile (a repeated protobuf field), which is how multi-collection tiles are composed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

from maps.mvt_geometry import POLYGON, U64, geometry_commands, path_commands, segment_offsets

EXTENT = 4096

# -- varints -------------------------------------------------------------------------------------
_VARINT_LIMITS = np.array([1 << s for s in range(7, 64, 7)], dtype=U64)


def varint_sizes(values: np.ndarray) -> np.ndarray:
    """Bytes each unsigned value takes as a protobuf varint."""
    return np.searchsorted(_VARINT_LIMITS, values.astype(U64, copy=False), side="right") + 1


def encode_varints(values: np.ndarray, sizes: np.ndarray | None = None) -> bytes:
    """Concatenated protobuf varints of unsigned ``values`` (``sizes`` from ``varint_sizes``, if known)."""
    v = values.astype(U64, copy=False)
    if sizes is None:
        sizes = varint_sizes(v)
    if not len(v):
        return b""
    ends = np.cumsum(sizes)
    starts = ends - sizes
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    byte = (v & U64(0x7F)).astype(np.uint8)
    byte[sizes > 1] |= 0x80
    out[starts] = byte
    for k in range(1, int(sizes.max())):
        m = sizes > k
        byte = ((v[m] >> U64(7 * k)) & U64(0x7F)).astype(np.uint8)
        byte[sizes[m] > k + 1] |= 0x80
        out[starts[m] + k] = byte
    return out.tobytes()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


# -- attributes ----------------------------------------------------------------------------------
def _value_message(value: Any) -> bytes:
    """A ``Tile.Value``: strings, doubles, (u/s)ints and bools."""
    if isinstance(value, bool | np.bool_):
        return b"\x38" + (b"\x01" if value else b"\x00")
    if isinstance(value, int | np.integer):
        v = int(value)
        if v >= 0:
            return b"\x28" + _varint(v)  # uint_value
        return b"\x30" + _varint((v << 1) ^ (v >> 63))  # sint_value
    if isinstance(value, float | np.floating):
        return b"\x19" + np.float64(value).tobytes()  # double_value, little endian
    if isinstance(value, datetime | date):
        value = value.isoformat()
    return b"\x0a" + _field_bytes(str(value).encode())


def _field_bytes(payload: bytes) -> bytes:
    return _varint(len(payload)) + payload


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def attribute_tags(columns: Mapping[str, Sequence[Any]], rows: np.ndarray
                   ) -> tuple[list[str], list[bytes], np.ndarray, np.ndarray]:
    """Keys, encoded values, and for the given rows the tag integers (flat) and how many each row has."""
    keys = list(columns)
    n_rows, n_cols = len(rows), len(keys)
    if not n_cols or not n_rows:
        return keys, [], np.zeros(0, dtype=U64), np.zeros(n_rows, dtype=np.int64)
    value_index: dict[tuple[type, Any], int] = {}  # keyed by type too: True == 1 but they are not one value
    values: list[bytes] = []
    tag_values = np.empty((n_rows, n_cols), dtype=np.int64)
    select = rows.tolist()
    for c, name in enumerate(keys):
        column = columns[name]
        if len(column) != n_rows or n_rows and select[-1] != n_rows - 1:
            column = [column[i] for i in select]
        lookup = {}
        for value in dict.fromkeys(column):  # distinct values, at C speed
            if _is_missing(value):
                lookup[value] = -1
                continue
            key = (type(value), value)
            index = value_index.get(key)
            if index is None:
                index = value_index[key] = len(values)
                values.append(_value_message(value))
            lookup[value] = index
        tag_values[:, c] = np.fromiter(map(lookup.__getitem__, column), dtype=np.int64, count=n_rows)
    has = tag_values >= 0
    counts = 2 * has.sum(axis=1)
    if has.all():
        pairs = np.empty((n_rows, n_cols, 2), dtype=U64)
        pairs[:, :, 0] = np.arange(n_cols)
        pairs[:, :, 1] = tag_values
        return keys, values, pairs.ravel(), counts
    key_idx = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
    pairs = np.stack([key_idx[has], tag_values[has]], axis=1).astype(U64).ravel()
    return keys, values, pairs, counts


# -- layer ---------------------------------------------------------------------------------------
def encode_layer(name: str, geoms: np.ndarray, ids: np.ndarray | None = None,
                 columns: Mapping[str, Sequence[Any]] | None = None, extent: int = EXTENT, quantum: int = 1,
                 thin: float = 0.0) -> bytes:
    """A ``Tile`` message with one layer ``name``; ``geoms`` are in tile coordinates (y down, 0..extent).

    ``ids`` (non-negative integers) become feature ids; ``columns`` map attribute names to one value per
    geometry (``None``/NaN leave the attribute out for that feature). Coordinates snap to a grid of
    ``quantum`` units (1: the tile's own grid; 2, 4, …: coarser) and, with ``thin`` > 0, vertices adding
    less than ``thin`` units² to their outline are dropped: both generalise dense low-zoom tiles.
    Returns ``b""`` when no feature is left after quantisation: an empty tile.
    """
    feats, types, stream, counts = geometry_commands(geoms, quantum, thin)
    return _layer(name, feats, types, stream, counts, ids, columns, extent)


def encode_boxes(name: str, boxes: np.ndarray, feature: np.ndarray,
                 columns: Mapping[str, Sequence[Any]] | None = None, extent: int = EXTENT) -> bytes:
    """A ``Tile`` message with one layer of axis-parallel rectangles: no geometry objects, no checks.

    ``boxes`` (r, 4) are integer tile units ``x0, y0, x1, y1`` (x0 < x1, y0 < y1, y down); ``feature`` (sorted)
    says which feature each box is a polygon of: feature ``i`` is a MultiPolygon of its boxes with the
    attributes of row ``i`` of ``columns`` (one row per feature, features without a box left out).
    """
    if not len(boxes):
        return b""
    b = np.asarray(boxes, dtype=np.int64)
    # exterior rings with positive surveyor's area (y down): top-left, top-right, bottom-right, bottom-left
    q = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1).reshape(-1, 2)
    feature = np.asarray(feature, dtype=np.int64)
    cmds = path_commands(q, np.repeat(feature, 4), np.full(len(b), 4), feature, close=True)
    types = np.full(len(cmds.feature), POLYGON)
    return _layer(name, cmds.feature, types, cmds.stream, cmds.counts, None, columns, extent)


def _layer(name: str, feats: np.ndarray, types: np.ndarray, stream: np.ndarray, counts: np.ndarray,
           ids: np.ndarray | None, columns: Mapping[str, Sequence[Any]] | None, extent: int) -> bytes:
    """The layer message around encoded geometry commands (``geometry_commands``' four arrays)."""
    if not len(feats):
        return b""
    keys, values, tags, tag_counts = attribute_tags(columns or {}, feats)
    n = len(feats)
    geom_sizes = varint_sizes(stream)
    geom_offsets = segment_offsets(counts)
    geom_bytes = np.add.reduceat(geom_sizes, geom_offsets[:-1]) if n else geom_sizes
    if len(tags):
        tag_sizes = varint_sizes(tags)
        tag_offsets = segment_offsets(tag_counts)
        tag_bytes = np.zeros(n, dtype=np.int64)
        nonempty = tag_counts > 0
        tag_bytes[nonempty] = np.add.reduceat(tag_sizes, tag_offsets[:-1][nonempty])
    else:
        tag_sizes = np.zeros(0, dtype=np.int64)
        tag_bytes = np.zeros(n, dtype=np.int64)
    has_tags = tag_counts > 0
    fid = ids[feats].astype(U64) if ids is not None else None
    # feature message = [id] [tags] type geometry
    body = (2 + geom_bytes + varint_sizes(geom_bytes) + 1  # 0x18 type, 0x22 len geometry
            + np.where(has_tags, 1 + varint_sizes(tag_bytes) + tag_bytes, 0))
    if fid is not None:
        body = body + 1 + varint_sizes(fid)
    # integers per feature in the token stream: 0x12 len [0x08 id] [0x12 len tags..] 0x18 type 0x22 len geom..
    head = 2 + (2 if fid is not None else 0)
    n_tokens = head + np.where(has_tags, 2 + tag_counts, 0) + 4 + counts
    tok_offsets = segment_offsets(n_tokens)
    tokens = np.empty(int(tok_offsets[-1]), dtype=U64)
    sizes = np.empty(len(tokens), dtype=np.int64)
    s = tok_offsets[:-1]
    tokens[s], sizes[s] = 0x12, 1
    tokens[s + 1] = body.astype(U64)
    sizes[s + 1] = varint_sizes(body)
    p = s + 2
    if fid is not None:
        tokens[p], sizes[p] = 0x08, 1
        tokens[p + 1] = fid
        sizes[p + 1] = varint_sizes(fid)
        p = p + 2
    if len(tags):
        pt = p[has_tags]
        tokens[pt], sizes[pt] = 0x12, 1
        tokens[pt + 1] = tag_bytes[has_tags].astype(U64)
        sizes[pt + 1] = varint_sizes(tag_bytes[has_tags])
        tc = tag_counts[has_tags]
        dest = np.repeat(pt + 2 - segment_offsets(tc)[:-1], tc) + np.arange(len(tags))
        tokens[dest] = tags
        sizes[dest] = tag_sizes
        p = p + np.where(has_tags, 2 + tag_counts, 0)
    tokens[p], sizes[p] = 0x18, 1
    tokens[p + 1] = types.astype(U64)
    sizes[p + 1] = 1
    tokens[p + 2], sizes[p + 2] = 0x22, 1
    tokens[p + 3] = geom_bytes.astype(U64)
    sizes[p + 3] = varint_sizes(geom_bytes)
    dest = np.repeat(p + 4 - geom_offsets[:-1], counts) + np.arange(len(stream))
    tokens[dest] = stream
    sizes[dest] = geom_sizes
    features = encode_varints(tokens, sizes)
    layer = b"".join((
        b"\x78\x02",  # version 2
        _field(1, name.encode()),
        features,
        b"".join(_field(3, k.encode()) for k in keys),
        b"".join(_field(4, v) for v in values),
        b"\x28" + _varint(extent),
    ))
    return _field(3, layer)
