"""A pyogrio read that keeps the source's WKB: ``pyogrio.read_dataframe``'s frame, and the bytes each
geometry was built from.

``read_dataframe`` decodes GDAL's WKB into shapely geometries and drops it; a store then encodes the same
geometries back to WKB to write them (for 200 000 polygons ~0.3 s each way, holding the GIL). Here the frame
is assembled from ``pyogrio.raw.read`` as ``read_dataframe`` assembles it (``test_pyogrio_read`` checks the
two frames are equal on every real file in ``shared/data``), and the WKB is returned beside it, so an ingest
that leaves the geometries as read can hand the bytes to the store (``Store.publish(wkb=…)``).
"""

from __future__ import annotations

import json
import operator
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.raw
import shapely

BLOCK = 25_000  # geometries decoded at a time
_SHAPELY_TYPE_OF_WKB = np.array([-1, 0, 1, 3, 4, 5, 6, 7], dtype=np.int32)  # WKB 1..7 -> shapely (2 is LinearRing)


def read_with_wkb(path: str | Path, *, layer: str | int | None = None, encoding: str | None = None,
                  decoded: Callable[[np.ndarray], object] | None = None,
                  before_decode: Callable[[pd.DataFrame, np.ndarray, Any], object] | None = None,
                  **open_options: Any) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The layer as ``pyogrio.read_dataframe`` reads it (a plain DataFrame when it has no geometry column),
    and its geometries' WKB as GDAL gave it (None without geometry). Errors are pyogrio's and shapely's.

    ``decoded`` is called with each block of geometries (in order, ``BLOCK`` at a time) as soon as it is
    decoded, e.g. to check them on another core while the next block decodes (decoding holds the GIL).
    ``before_decode`` is called with the attributes (the frame without geometry), the WKB and the source's CRS
    (as pyogrio gives it) before the first block is decoded, e.g. to start writing them."""
    meta, _, wkb, field_data = pyogrio.raw.read(str(path), layer=layer, encoding=encoding, datetime_as_string=True,
                                                **open_options)
    columns = meta["fields"].tolist()
    frame = pd.DataFrame({columns[i]: field_data[i] for i in range(len(columns))}, columns=columns)
    for dtype, name in zip(meta["dtypes"], columns, strict=True):
        if dtype.startswith("datetime"):
            frame[name] = _datetimes(frame[name])
    for subtype, name in zip(meta["ogr_subtypes"], columns, strict=True):
        if subtype == "OFSTJSON" and pd.api.types.infer_dtype(frame[name]) == "string":
            try:
                frame[name] = frame[name].map(json.loads, na_action="ignore")
            except ValueError:
                warnings.warn(f"Could not parse column '{name}' as JSON; leaving as string", stacklevel=2)
    if wkb is None:
        return frame, None
    if before_decode is not None:
        before_decode(frame, wkb, meta["crs"])
    blocks = []
    for start in range(0, len(wkb), BLOCK):
        blocks.append(shapely.from_wkb(wkb[start:start + BLOCK]))
        if decoded is not None:
            decoded(blocks[-1])
    geoms = np.concatenate(blocks) if blocks else np.empty(0, dtype=object)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=meta["crs"]), wkb


def _datetimes(text: pd.Series) -> pd.Series:
    """ISO 8601 text as datetimes, mixed UTC offsets as UTC, in ms (GDAL's precision); the text when it does
    not parse (with a warning), as ``read_dataframe`` does."""
    try:
        parsed = pd.to_datetime(text, format="ISO8601")
        if parsed.dtype.kind != "M":  # pandas < 3: mixed offsets give objects
            parsed = pd.to_datetime(text, format="ISO8601", utc=True)
    except (ValueError, TypeError, OverflowError) as exc:
        if "Mixed timezones detected" not in str(exc):
            warnings.warn(f"Error parsing datetimes, original strings are returned: {exc}", stacklevel=3)
            return text
        try:
            parsed = pd.to_datetime(text, format="ISO8601", utc=True)
        except (ValueError, TypeError, OverflowError) as again:
            warnings.warn(f"Error parsing datetimes, original strings are returned: {again}", stacklevel=3)
            return text
    return parsed.dt.as_unit("ms")


def unchanged_rows(read: np.ndarray, published: np.ndarray) -> np.ndarray | None:
    """The rows of ``read`` that ``published`` holds, when those are the geometries left as they were read
    (the same objects, in order, missing and empty ones dropped); otherwise None. The source's WKB
    (``read_with_wkb``) of those rows is then the published geometries' WKB (with their Z or M, if any: a
    store writing 2D does not take it then), and what was found of the read ones holds for them."""
    if len(published) > len(read):
        return None
    if len(published) == len(read):
        return np.arange(len(read)) if all(map(operator.is_, read, published)) else None
    # normalise drops missing and empty geometries, nothing else, before anything may change
    rows = np.flatnonzero(~(shapely.is_missing(read) | shapely.is_empty(read)))
    if len(rows) != len(published) or not all(map(operator.is_, read[rows], published)):
        return None
    return rows


def wkb_type_ids(wkb: np.ndarray) -> np.ndarray | None:
    """The shapely type id of each 2D WKB value (ISO or extended, either byte order), read from its 5-byte
    header without decoding it; None when any value is missing, too short, curved, or has Z or M (those go
    through the geometries). Empty geometries have their type; only decoding tells them apart."""
    try:
        heads = np.frombuffer(b"".join([w[:5] for w in wkb]), dtype=np.uint8)
    except TypeError:  # a missing geometry (None)
        return None
    if len(heads) != 5 * len(wkb):
        return None
    heads = heads.reshape(-1, 5).astype(np.uint32)
    little = heads[:, 1] | heads[:, 2] << 8 | heads[:, 3] << 16 | heads[:, 4] << 24
    big = heads[:, 4] | heads[:, 3] << 8 | heads[:, 2] << 16 | heads[:, 1] << 24
    codes = np.where(heads[:, 0] == 1, little, big)
    if ((codes < 1) | (codes > 7)).any():  # Z, M (ISO 1000s or extended flags), SRID flag, curves
        return None
    return _SHAPELY_TYPE_OF_WKB[codes]
