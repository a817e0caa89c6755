"""SOSI code lists written as ranges ("1000-1999", 1300) and vectorised membership tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, PlainSerializer

Ranges = tuple[tuple[int, int], ...]


def parse_ranges(value: Any) -> Ranges:
    """Parse ``[1300, "1310-1390", ...]`` (or one such item) into sorted, merged ``(lo, hi)`` ranges.

    Raises ``ValueError`` (reported by pydantic with the field path) on anything else.
    """
    if value is None:
        return ()
    items: Iterable[Any] = [value] if isinstance(value, (int, str)) else value
    spans: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, bool):  # ValueError, not TypeError: pydantic reports only ValueError per field
            raise ValueError(f"code {item!r} is not a number")  # noqa: TRY004
        if isinstance(item, int):
            spans.append((item, item))
            continue
        if isinstance(item, (list, tuple)) and len(item) == 2:
            lo, hi = int(item[0]), int(item[1])
        elif isinstance(item, str):
            text = item.strip()
            if "-" in text:
                left, _, right = text.partition("-")
                try:
                    lo, hi = int(left), int(right)
                except ValueError:
                    raise ValueError(f"code range {item!r} is not 'low-high' with whole numbers") from None
            else:
                try:
                    lo = hi = int(text)
                except ValueError:
                    raise ValueError(f"code {item!r} is not a whole number") from None
        else:
            raise ValueError(f"code {item!r} is neither a number nor a 'low-high' range")
        if lo > hi:
            raise ValueError(f"code range {item!r} runs backwards")
        spans.append((lo, hi))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def format_ranges(ranges: Ranges) -> list[int | str]:
    """Inverse of :func:`parse_ranges`, in the compact form used in rule files and the rules hash."""
    return [lo if lo == hi else f"{lo}-{hi}" for lo, hi in ranges]


CodeRanges = Annotated[
    Ranges,
    BeforeValidator(parse_ranges),
    PlainSerializer(format_ranges, return_type=list),
]


def in_ranges(codes: np.ndarray, ranges: Ranges) -> np.ndarray:
    """Boolean mask: which ``codes`` (float array, NaN for missing) fall in any of ``ranges``."""
    codes = np.asarray(codes, dtype="float64")
    mask = np.zeros(codes.shape, dtype=bool)
    for lo, hi in ranges:
        mask |= (codes >= lo) & (codes <= hi)
    return mask
