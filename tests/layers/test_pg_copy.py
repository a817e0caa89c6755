"""``layers.pg_copy``: the COPY rows are the same whether the store encodes the WKB or is handed it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from layers import pg_copy


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
