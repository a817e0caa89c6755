"""One SOSI record (feature) from its dotted lines: attributes, coordinate blocks, ``..REF`` text, coordinates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from layers.errors import CorruptSource
from layers.sosi import geometry as geo
from layers.sosi.attributes import parse_value

_COORD_NAMES = {"NØ": 2, "NØH": 3}
ARC_GROUPS = ("BUEP", "SIRKELP", "BUE", "SIRKEL")


@dataclass
class Feature:
    """A parsed record: attributes (for the chosen layer), coordinate blocks, REF text."""

    group: str
    ident: int | None
    attrs: dict[str, Any]
    blocks: list[tuple[int, str]]
    ref_text: str


# lines whose following non-dotted lines belong to them; a node mark on a line of its own (``...KP 1``) is
# followed by more coordinates of the same block
_WITH_BODY = frozenset({"NØ", "NØH", "REF", "KP"})


def parse_feature(group: str, ident: int | None, lines: list[tuple[int, str, str, str]], full: bool) -> Feature:
    """Attributes, coordinate blocks and ``..REF`` text of one record's dotted lines.

    The attribute nesting of ``AttributeBuilder`` is inlined here: this runs once per feature.
    """
    values: dict[str, Any] = {}
    path: list[str] = []
    blocks: list[tuple[int, str]] = []
    ref_parts: list[str] = []
    for level, name, value, body in lines:
        dim = _COORD_NAMES.get(name)
        if dim is not None:
            blocks.append((dim, value + body))
            continue
        if name == "REF":
            ref_parts.append(value + body)
            continue
        if name == "KP":
            if blocks and body.strip():
                blocks.append((blocks[-1][0], body))
            continue
        if not full or not name or name == "KP":
            continue
        if level == 2:
            path = [name]
            key = name
        else:
            del path[level - 2:]
            path.append(name)
            key = ".".join(path)
        if not value:
            continue
        parsed = parse_value(value)
        if parsed is None:
            continue
        old = values.get(key, _MISSING)
        if old is _MISSING:
            values[key] = parsed
        elif isinstance(old, list):
            old.append(parsed)
        else:
            values[key] = [old, parsed]
    return Feature(group, ident, values, blocks, " ".join(ref_parts))


_MISSING = object()


def split_records(text: str) -> Iterator[tuple[str, int | None, list[tuple[int, str, str, str]]]]:
    """``(group, id, dotted lines as (level, name, value, body))`` per record of a chunk; level 2 is ``..NAME``.

    ``str.split("\\n.")`` cuts the chunk at every dotted line at C speed (a regex with groups is several
    times slower here); the coordinate lines travel as the ``body`` of the line before them.
    """
    group: str | None = None
    ident: int | None = None
    lines: list[tuple[int, str, str, str]] = []
    pieces = ("\n" + text).split("\n.")
    for piece in pieces[1:]:  # pieces[0]: anything before the first dotted line (comments)
        line, _, body = piece.partition("\n")
        if line[:1] != ".":  # one dot: a new record (.KURVE 12:)
            if group is not None:
                yield group, ident, lines
            parts = line.split(None, 1)
            group = parts[0].upper() if parts else ""
            number = parts[1].split(":", 1)[0].strip() if len(parts) > 1 else ""
            ident = int(number) if number.lstrip("-").isdigit() else None
            lines = []
            continue
        stripped = line.lstrip(".")
        parts = stripped.split(None, 1)
        name = parts[0] if parts else ""
        if "!" in name:
            name = name.split("!", 1)[0]
        value = parts[1] if len(parts) > 1 else ""
        lines.append((len(line) - len(stripped) + 1, name, value, body if name in _WITH_BODY else ""))
    if group is not None:
        yield group, ident, lines


def objtype_of(lines: list[tuple[int, str, str, str]]) -> str | None:
    for level, name, value, _body in lines:
        if name == "OBJTYPE" and level == 2:
            parts = value.split("!", 1)[0].split()
            return parts[0] if parts else None
    return None


def raw_coordinates(feature: Feature, where: str) -> np.ndarray:
    """The feature's coordinates in file units, north first, ``(n, 2|3)`` (Z dropped when blocks mix 2D/3D)."""
    arrays = []
    dims = {dim for dim, _ in feature.blocks}
    for dim, text in feature.blocks:
        try:
            values = geo.parse_numbers(text)
        except ValueError:
            raise CorruptSource(f"{where} coordinates that are not numbers after ..NØ; fix or export the file "
                                "again") from None
        if len(values) % dim:
            raise CorruptSource(f"{where} {len(values)} numbers after ..{'NØH' if dim == 3 else 'NØ'} are not a "
                                "whole number of points; fix or export the file again")
        pts = values.reshape(-1, dim)
        arrays.append(pts if len(dims) == 1 else pts[:, :2])
    if not arrays:
        return np.empty((0, 2))
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def densify(feature: Feature, raw: np.ndarray, transform: geo.Transform, tolerance: float,
            where: str) -> np.ndarray:
    """Arcs and circles densified (in real units, returned in file units); other curves as they are."""
    group = feature.group
    if group not in ARC_GROUPS:
        return raw
    xy = transform.to_xy(raw[:, :2])
    if group == "BUEP" and len(xy) >= 3:
        out = geo.arc_through(xy[0], xy[1], xy[-1], tolerance)
    elif group == "SIRKELP" and len(xy) >= 3:
        out = geo.circle_through(xy[0], xy[1], xy[2], tolerance)
    elif group in ("BUE", "SIRKEL") and len(xy) >= 1:
        radius = feature.attrs.get("RADIUS")
        if not isinstance(radius, (int, float)):
            raise CorruptSource(f"{where} .{group} without a numeric ..RADIUS; fix the file")
        if group == "SIRKEL":
            out = geo.circle_radius(xy[0], radius, tolerance)
        elif len(xy) >= 2:
            out = geo.arc_radius(xy[0], xy[-1], radius, bool(feature.attrs.get("STORBUE")), tolerance)
        else:
            return raw
    else:
        return raw
    return transform.to_raw(out)


