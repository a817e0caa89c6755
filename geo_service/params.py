"""Query and path parameters checked once, at the edge: numbers are ASCII and bounded, boxes are finite.

Every helper raises ``InvalidQuery`` (400 with the parameter's name) or ``FeatureNotFound`` (404), never lets
a value through that a store, SQLite or PostgreSQL would choke on (a 64-bit overflow, a NaN, a Unicode digit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from layers.errors import FeatureNotFound, InvalidQuery

MAX_OFFSET = 2**31 - 1
"""Largest ``offset`` accepted (far beyond any layer; keeps SQLite and PostgreSQL integers in range)."""
MAX_FEATURE_ID = 2**63 - 1
"""Largest feature id: a GeoPackage fid and a PostGIS bigint are signed 64-bit integers."""
_ASCII_INT = re.compile(r"[0-9]{1,19}")


def feature_id(value: str, layer_id: str) -> int:
    """A feature id from the path: ASCII digits within 64 bits, else 404 (no such feature can exist)."""
    if _ASCII_INT.fullmatch(value) is None or int(value) > MAX_FEATURE_ID:
        raise FeatureNotFound(f"layer {layer_id!r} has no feature {value!r}; feature ids are integers "
                              f"from 0 to {MAX_FEATURE_ID}")
    return int(value)


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` (4 finite numbers; 6 with heights, which are ignored)."""
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if (len(numbers) != 4 or not all(math.isfinite(n) for n in numbers)
            or numbers[0] > numbers[2] or numbers[1] > numbers[3]):
        raise InvalidQuery("bbox", f"bbox={value!r} must be four finite numbers minx,miny,maxx,maxy with "
                                   "min <= max / bbox må være fire endelige tall")
    return numbers[0], numbers[1], numbers[2], numbers[3]


def property_filters(pairs: Iterable[tuple[str, str]], reserved: set[str]) -> dict[str, str]:
    """Equality filters from the query string (everything not reserved); a property given twice is refused.

    ``arealtype=21&arealtype=22`` is ambiguous for an equality filter: rather than silently keeping the last
    value, the client is told to use one value per property.
    """
    filters: dict[str, str] = {}
    for key, value in pairs:
        if key in reserved:
            continue
        if key in filters:
            raise InvalidQuery(key, f"{key!r} is given more than once; an equality filter takes one value "
                                    f"(egenskapen {key!r} kan bare filtreres på én verdi)")
        filters[key] = value
    return filters


def repeated_reserved(pairs: Iterable[tuple[str, str]], reserved: set[str]) -> None:
    """Refuse a reserved parameter (``bbox``, ``limit`` …) given twice: which one was meant is unknown."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in reserved and key in seen:
            raise InvalidQuery(key, f"{key!r} is given more than once / {key!r} er oppgitt flere ganger")
        seen.add(key)
