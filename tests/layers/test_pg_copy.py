"""``layers.pg_copy``: the COPY rows are the same whether the store encodes the WKB or is handed it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from layers import pg_copy
from layers.pyogrio_read import wkb_type_ids


def test_handed_wkb_gives_the_same_rows_as_encoding_the_geometries() -> None:
    """SYNTHETIC: polygons, a one-part multi, a missing geometry, for a Multi column (single parts wrapped)."""
    geoms = np.array([shapely.box(0, 0, 1, 1), None, shapely.MultiPolygon([shapely.box(2, 2, 3, 3)]),
                      shapely.box(5, 5, 7, 8)], dtype=object)
    fields = [pg_copy.prepare(pd.Series([1, 2, None, 4], dtype="Int64"), "int", "arealtype"),
              pg_copy.prepare(pd.Series(["Åker", None, "Skog", "Myr"]), "str", "navn")]
    fids = np.arange(1, 5, dtype=np.int64)
    wkb = np.array([None if g is None else shapely.to_wkb(g) for g in geoms], dtype=object)
    for start, stop in ((0, 4), (1, 3), (3, 4)):
        encoded = pg_copy.encode_rows(fids, geoms, True, fields, start, stop)
        assert pg_copy.encode_rows(fids, geoms, True, fields, start, stop, wkb=wkb) == encoded
    assert shapely.to_wkb(geoms[3]) in encoded  # the last chunk: the last row, its polygon as it is


def test_rows_from_wkb_and_type_ids_alone_are_the_rows_of_the_geometries() -> None:
    """SYNTHETIC: what a streamed publish COPYs before the geometries are decoded (``geoms=None``: the WKB and
    the type ids read from its headers) is byte for byte what the decoded geometries give, single parts
    wrapped for a Multi column included."""
    geoms = np.array([shapely.box(0, 0, 1, 1), shapely.MultiPolygon([shapely.box(2, 2, 3, 3)]),
                      shapely.box(5, 5, 7, 8)], dtype=object)
    fields = [pg_copy.prepare(pd.Series(["Åker", None, "Skog"]), "str", "navn")]
    fids = np.arange(1, 4, dtype=np.int64)
    wkb = shapely.to_wkb(geoms)
    types = wkb_type_ids(wkb)
    for multi in (True, False):
        assert (pg_copy.encode_rows(fids, None, multi, fields, 0, 3, wkb=wkb, types=types)
                == pg_copy.encode_rows(fids, geoms, multi, fields, 0, 3))
    with pytest.raises(ValueError, match="needs their WKB and type ids"):
        pg_copy.encode_rows(fids, None, True, fields, 0, 3, wkb=wkb)


def test_type_ids_from_wkb_headers() -> None:
    """SYNTHETIC: every OGC type in both byte orders gives shapely's type id; missing values, Z, M, SRID-flagged
    (extended) WKB and curves give None, so those are decoded before they are written."""
    geoms = np.array([shapely.Point(1, 2), shapely.LineString([(0, 0), (1, 1)]), shapely.box(0, 0, 1, 1),
                      shapely.MultiPoint([(1, 1)]), shapely.MultiLineString([[(0, 0), (1, 1)]]),
                      shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]), shapely.Polygon(),
                      shapely.GeometryCollection([shapely.Point(1, 1)])], dtype=object)
    for byte_order in (0, 1):
        ids = wkb_type_ids(shapely.to_wkb(geoms, byte_order=byte_order))
        assert ids is not None and ids.tolist() == shapely.get_type_id(geoms).tolist() == [0, 1, 3, 4, 5, 6, 3, 7]
    assert wkb_type_ids(np.array([shapely.to_wkb(geoms[0]), None], dtype=object)) is None
    assert wkb_type_ids(shapely.to_wkb([shapely.Point(1, 2, 3)])) is None  # ISO Z (1001)
    assert wkb_type_ids(shapely.to_wkb([shapely.Point(1, 2, 3)], flavor="extended")) is None  # EWKB Z flag
    srid = shapely.set_srid(shapely.points([[1, 2]]), 25832)
    assert wkb_type_ids(shapely.to_wkb(srid, include_srid=True)) is None  # EWKB SRID flag
    curve = bytes.fromhex("0108000000" "03000000" + "00" * 48)  # CIRCULARSTRING, little endian, 3 points
    assert wkb_type_ids(np.array([curve], dtype=object)) is None
    assert wkb_type_ids(np.array([b"\x01\x03"], dtype=object)) is None  # cut short
    assert wkb_type_ids(np.array([], dtype=object)).tolist() == []
