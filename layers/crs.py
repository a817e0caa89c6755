"""Coordinate reference systems: the working CRS, OGC CRS URIs and cached transformers.

Every overlay, area and buffer happens in the working CRS (EPSG:25832, metres). CRS84 (lon/lat) is
the default on the way out. EPSG:4326 is served in its authority axis order (lat, lon), as OGC API –
Features Part 2 requires; the other supported CRSs are easting/northing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from layers.errors import InvalidQuery

WORKING_EPSG = 25832
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{code}"
SUPPORTED_EPSG: tuple[int, ...] = (4326, 25832, 25833, 3857)


@dataclass(frozen=True)
class OutputCrs:
    """A CRS a client may ask for: its URI, EPSG code (CRS84 is 4326 in lon/lat) and axis order."""

    uri: str
    epsg: int
    lat_lon: bool  # True for EPSG:4326 (authority order), False for CRS84 and projected CRSs


CRS84 = OutputCrs(CRS84_URI, 4326, lat_lon=False)


def supported_crs_uris() -> list[str]:
    """All CRS URIs listed per collection (OGC API – Features Part 2, ``crs``)."""
    return [CRS84_URI, *(EPSG_URI.format(code=c) for c in SUPPORTED_EPSG)]


def parse_crs_uri(value: str | None, parameter: str = "crs") -> OutputCrs:
    """Parse an OGC CRS URI (or ``EPSG:n`` / CURIE ``[EPSG:n]``) into a supported ``OutputCrs``."""
    if value is None or value == "":
        return CRS84
    text = value.strip().strip("[]")
    if text in (CRS84_URI, "OGC:CRS84", "CRS84", "http://www.opengis.net/def/crs/OGC/0/CRS84"):
        return CRS84
    code: int | None = None
    for prefix in ("http://www.opengis.net/def/crs/EPSG/0/", "https://www.opengis.net/def/crs/EPSG/0/",
                   "EPSG:", "urn:ogc:def:crs:EPSG::"):
        if text.startswith(prefix) and text[len(prefix):].isascii() and text[len(prefix):].isdigit():
            code = int(text[len(prefix):])
    if code is None or code not in SUPPORTED_EPSG:
        listed = ", ".join(supported_crs_uris())
        raise InvalidQuery(parameter, f"{parameter}={value!r} is not supported; use one of: {listed}")
    return OutputCrs(EPSG_URI.format(code=code), code, lat_lon=code == 4326)


@lru_cache(maxsize=64)
def transformer(src_epsg: int, dst_epsg: int) -> Transformer:
    """A cached x/y-ordered transformer (EUREF89 → WGS84 is a null transform, no grid needed)."""
    return Transformer.from_crs(CRS.from_epsg(src_epsg), CRS.from_epsg(dst_epsg), always_xy=True)


def _swap_xy(coords: np.ndarray) -> np.ndarray:
    return coords[:, ::-1].copy()


def to_output(geoms: np.ndarray, target: OutputCrs, src_epsg: int = WORKING_EPSG) -> np.ndarray:
    """Reproject working-CRS geometries for output, swapping to lat/lon for EPSG:4326."""
    out = geoms
    if target.epsg != src_epsg:
        tr = transformer(src_epsg, target.epsg)
        out = shapely.transform(out, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    if target.lat_lon:
        out = shapely.transform(out, _swap_xy)
    return out


def bbox_to_working(bbox: tuple[float, float, float, float], bbox_crs: OutputCrs) -> tuple[float, ...]:
    """Turn a request bbox in ``bbox_crs`` into a working-CRS envelope (densified edges).

    The box is first clamped to the working CRS's area of use (expressed in ``bbox_crs``): outside it the
    projection is meaningless, and ``-180,-90,180,90`` would otherwise project to a box missing most data.
    A box wholly outside the area of use becomes an empty box far from any data (it matches nothing).
    """
    minx, miny, maxx, maxy = bbox
    if bbox_crs.lat_lon:  # EPSG:4326 bbox is lat_min, lon_min, lat_max, lon_max
        minx, miny, maxx, maxy = miny, minx, maxy, maxx
    if bbox_crs.epsg == WORKING_EPSG:
        return (minx, miny, maxx, maxy)
    ax0, ay0, ax1, ay1 = area_of_use_in(bbox_crs.epsg)
    minx, miny, maxx, maxy = max(minx, ax0), max(miny, ay0), min(maxx, ax1), min(maxy, ay1)
    if minx > maxx or miny > maxy:
        return (0.0, 0.0, 0.0, 0.0)  # no overlap with the area of use: no feature can match
    tr = transformer(bbox_crs.epsg, WORKING_EPSG)
    return tuple(tr.transform_bounds(minx, miny, maxx, maxy, densify_pts=21))


@lru_cache(maxsize=16)
def area_of_use_in(epsg: int) -> tuple[float, float, float, float]:
    """The working CRS's area of use as x/y bounds in ``epsg`` (lon/lat for 4326)."""
    area = CRS.from_epsg(WORKING_EPSG).area_of_use
    assert area is not None  # EPSG:25832 has one
    if epsg == 4326:
        return (area.west, area.south, area.east, area.north)
    return tuple(transformer(4326, epsg).transform_bounds(area.west, area.south, area.east, area.north,
                                                          densify_pts=21))


def bounds_to_crs84(bounds: tuple[float, float, float, float], src_epsg: int = WORKING_EPSG) -> list[float]:
    """Working-CRS bounds as a CRS84 bbox ``[minlon, minlat, maxlon, maxlat]``."""
    tr = transformer(src_epsg, 4326)
    return [round(v, 7) for v in tr.transform_bounds(*bounds, densify_pts=21)]
