"""SOSI geometry: coordinate blocks to numbers, arcs densified, FLATE rings assembled from ``..REF``.

Coordinates are integers north first (``N E`` or ``N E H``); real coordinates are ``ORIGO-NØ + value × ENHET``.
Everything here returns x/y(/z) ``float64`` arrays (x = east or longitude).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

ARC_TOLERANCE_M = 0.01  # densified arcs stay within 1 cm of the true circle (chord height)

_POINT_ATTRS = re.compile(r"\.\.\.[^\n]*")  # "...KP 1" and other point-level marks after a coordinate
_COMMENT = re.compile(r"![^\n]*")
_REF_TOKEN = re.compile(r"([()])|(-?):?(-?)(\d+)")


@dataclass(frozen=True)
class Transform:
    """``ORIGO-NØ`` and ``ENHET`` (``ENHET-H`` for heights) of a file."""

    origo_n: float = 0.0
    origo_e: float = 0.0
    enhet: float = 1.0
    enhet_h: float = 1.0

    def to_xy(self, raw: np.ndarray) -> np.ndarray:
        """File units, north first (``(n, 2|3)``) → x (east), y (north)(, z) in the CRS's units."""
        out = np.empty(raw.shape, dtype=np.float64)
        out[:, 0] = raw[:, 1] * self.enhet + self.origo_e
        out[:, 1] = raw[:, 0] * self.enhet + self.origo_n
        if raw.shape[1] == 3:
            out[:, 2] = raw[:, 2] * self.enhet_h
        return out

    def to_raw(self, xy: np.ndarray) -> np.ndarray:
        """The inverse of ``to_xy`` for x, y (file units, north first)."""
        out = np.empty((len(xy), 2), dtype=np.float64)
        out[:, 0] = (xy[:, 1] - self.origo_n) / self.enhet
        out[:, 1] = (xy[:, 0] - self.origo_e) / self.enhet
        return out


def parse_numbers(text: str) -> np.ndarray:
    """All numbers of a coordinate block; point-level marks (``...KP 1``) and ``!`` comments removed.

    Raises ``ValueError`` on anything that is not a number.
    """
    if "." in text:
        text = _POINT_ATTRS.sub("", text)
    if "!" in text:
        text = _COMMENT.sub("", text)
    try:
        return np.fromstring(text, sep=" ", dtype=np.int64)  # integers: the fast path (~400 MB/s)
    except ValueError:
        return np.fromstring(text, sep=" ", dtype=np.float64)


def _segments(radius: float, sweep: float, tolerance: float) -> int:
    if radius <= tolerance:
        return 1
    step = 2.0 * math.acos(max(-1.0, 1.0 - tolerance / radius))
    return max(1, math.ceil(abs(sweep) / step))


def _arc(center: tuple[float, float], radius: float, start: float, sweep: float, tolerance: float) -> np.ndarray:
    n = _segments(radius, sweep, tolerance)
    angles = start + sweep * np.linspace(0.0, 1.0, n + 1)
    return np.column_stack([center[0] + radius * np.cos(angles), center[1] + radius * np.sin(angles)])


def arc_through(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, tolerance: float) -> np.ndarray:
    """``.BUEP``: the arc from ``p1`` through ``p2`` to ``p3``, densified; collinear points give the polyline."""
    (x1, y1), (x2, y2), (x3, y3) = p1[:2], p2[:2], p3[:2]
    d = 2.0 * (x1 * (y2 - y3) + x2 * (y3 - y1) + x3 * (y1 - y2))
    if abs(d) < 1e-12 * max(1.0, abs(x1) + abs(y1)):
        return np.array([p1[:2], p2[:2], p3[:2]], dtype=np.float64)
    # centre relative to p1 for precision with large UTM coordinates
    ax, ay, bx, by = x2 - x1, y2 - y1, x3 - x1, y3 - y1
    d = 2.0 * (ax * by - ay * bx)
    ux = (by * (ax * ax + ay * ay) - ay * (bx * bx + by * by)) / d
    uy = (ax * (bx * bx + by * by) - bx * (ax * ax + ay * ay)) / d
    cx, cy = x1 + ux, y1 + uy
    r = math.hypot(ux, uy)
    a1, a2, a3 = (math.atan2(y - cy, x - cx) for x, y in ((x1, y1), (x2, y2), (x3, y3)))
    ccw = (ax * by - ay * bx) > 0  # p1→p2→p3 turns left: counter-clockwise
    sweep = (a3 - a1) % (2 * math.pi) if ccw else -((a1 - a3) % (2 * math.pi))
    del a2
    out = _arc((cx, cy), r, a1, sweep, tolerance)
    out[0], out[-1] = p1[:2], p3[:2]
    return out


def circle_through(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, tolerance: float) -> np.ndarray:
    """``.SIRKELP``: the full circle through three points, as a closed ring."""
    arc = arc_through(p1, p2, p3, tolerance)
    if len(arc) == 3:
        return arc
    centre, r = _centre_radius(arc)
    out = _arc(centre, r, math.atan2(p1[1] - centre[1], p1[0] - centre[0]), 2 * math.pi, tolerance)
    out[-1] = out[0]
    return out


def _centre_radius(arc: np.ndarray) -> tuple[tuple[float, float], float]:
    a, b, c = arc[0], arc[len(arc) // 2], arc[-1]
    ax, ay, bx, by = b[0] - a[0], b[1] - a[1], c[0] - a[0], c[1] - a[1]
    d = 2.0 * (ax * by - ay * bx)
    ux = (by * (ax * ax + ay * ay) - ay * (bx * bx + by * by)) / d
    uy = (ax * (bx * bx + by * by) - bx * (ax * ax + ay * ay)) / d
    return (a[0] + ux, a[1] + uy), math.hypot(ux, uy)


def arc_radius(p1: np.ndarray, p2: np.ndarray, radius: float, large: bool, tolerance: float) -> np.ndarray:
    """``.BUE``: the arc from ``p1`` to ``p2`` with ``..RADIUS``; a positive radius turns clockwise (to the right
    seen from ``p1``), a negative one counter-clockwise; the shorter arc unless ``..STORBUE``."""
    r = abs(radius)
    (x1, y1), (x2, y2) = p1[:2], p2[:2]
    chord = math.hypot(x2 - x1, y2 - y1)
    if chord == 0.0 or r == 0.0:
        return np.array([p1[:2], p2[:2]], dtype=np.float64)
    r = max(r, chord / 2.0)
    h = math.sqrt(max(0.0, r * r - (chord / 2.0) ** 2))
    mx, my = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    nx, ny = -(y2 - y1) / chord, (x2 - x1) / chord  # left normal of p1→p2
    clockwise = radius > 0
    # clockwise short arc: centre to the right of the chord; a large arc puts it on the other side
    side = -1.0 if clockwise != large else 1.0
    cx, cy = mx + side * h * nx, my + side * h * ny
    a1, a2 = math.atan2(y1 - cy, x1 - cx), math.atan2(y2 - cy, x2 - cx)
    sweep = -((a1 - a2) % (2 * math.pi)) if clockwise else (a2 - a1) % (2 * math.pi)
    out = _arc((cx, cy), r, a1, sweep, tolerance)
    out[0], out[-1] = p1[:2], p2[:2]
    return out


def circle_radius(centre: np.ndarray, radius: float, tolerance: float) -> np.ndarray:
    """``.SIRKEL``: centre point and ``..RADIUS``, as a closed ring."""
    out = _arc((float(centre[0]), float(centre[1])), abs(radius), 0.0, 2 * math.pi, tolerance)
    out[-1] = out[0]
    return out


def parse_refs(text: str) -> list[list[tuple[int, bool]]]:
    """``..REF :1 -3 (:2) (:-4 :5)`` → ``[[(1, False), (3, True)], [(2, False)], [(4, True), (5, False)]]``:
    the outer boundary first, then one list per hole; ``True`` means the curve is used reversed."""
    groups: list[list[tuple[int, bool]]] = [[]]
    in_hole = False
    for paren, minus1, minus2, number in _REF_TOKEN.findall(_COMMENT.sub("", text)):
        if paren == "(":
            groups.append([])
            in_hole = True
        elif paren == ")":
            in_hole = False
        else:
            target = groups[-1] if in_hole else groups[0]
            target.append((int(number), bool(minus1 or minus2)))
    return groups


@dataclass
class RingReport:
    """What assembling rings had to do."""

    closed: int = 0  # rings that did not close and were closed
    flipped: int = 0  # curves joined in the other direction than REF said, because only that direction fits
    dangling: list[str] = field(default_factory=list)  # "FLATE 4: :99"


def assemble_ring(parts: list[np.ndarray], report: RingReport, tolerance: float) -> np.ndarray:
    """Join curve coordinate arrays (already in REF direction) into one closed ring.

    A curve whose far end meets the ring's end is joined reversed (counted); a ring that does not
    close is closed with a straight segment (counted).
    """
    first = parts[0][:, :2]
    pieces = [first]
    end = first[-1].tolist()
    for part in parts[1:]:
        xy = part[:, :2]
        if _near(xy[0].tolist(), end, tolerance):
            xy = xy[1:]
        elif _near(xy[-1].tolist(), end, tolerance):
            report.flipped += 1
            xy = xy[::-1][1:]
        pieces.append(xy)
        if len(xy):
            end = xy[-1].tolist()
    out = np.concatenate(pieces) if len(pieces) > 1 else first
    start = out[0].tolist()
    if not _near(start, end, tolerance):
        report.closed += 1
        return np.vstack([out, out[:1]])
    if start != end:
        out = out.copy()
        out[-1] = out[0]
    return out


def _near(a: list[float], b: list[float], tolerance: float) -> bool:
    return abs(a[0] - b[0]) <= tolerance and abs(a[1] - b[1]) <= tolerance
