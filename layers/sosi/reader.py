"""Read one layer (one OBJTYPE) of a SOSI file into a GeoDataFrame, streaming.

Pass 1 (``scan``) reads the header and counts features per OBJTYPE with one regular expression per
chunk; pass 2 (``read``) parses only the chosen OBJTYPE fully, plus the coordinates of curves that
``.FLATE`` features may reference. Coordinates are parsed per block by numpy, geometries are built with
shapely's vectorised constructors at the end.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.errors import CorruptSource, LayerChoiceRequired, MissingCRS, NoFeatures
from layers.sosi import geometry as geo
from layers.sosi.attributes import AttributeBuilder, parse_value
from layers.sosi.encoding import Decoder, decoder_for
from layers.sosi.header import Header, build_header
from layers.sosi.koordsys import Koordsys, lookup
from layers.sosi.lexer import chunks, group_of, records

POINT_GROUPS = {"PUNKT", "SVERM"}
CURVE_GROUPS = {"KURVE", "LINJE", "BUEP", "BUE", "SIRKEL", "SIRKELP", "KLOTOIDE", "TRASE"}
AREA_GROUPS = {"FLATE"}
FEATURE_GROUPS = POINT_GROUPS | CURVE_GROUPS | AREA_GROUPS
SKIPPED_GROUPS = {"TEKST", "SYMBOL"}  # cartographic text and symbols: not data for analysis
SILENT_GROUPS = {"HODE", "DEF", "OBJDEF", "SLUTT"}

_SCAN = re.compile(r"\n\.(?:([A-ZÆØÅa-zæøå]+)|\.OBJTYPE[ \t]+([^\s!]+))")  # literal prefix: fast
_LINE = re.compile(r"^(\.+)([^\s!]*)[ \t]*([^\n]*)", re.MULTILINE)
_COORD_NAMES = {"NØ": 2, "NØH": 3}


@dataclass
class SosiScan:
    """Pass 1: the header and what the file holds."""

    path: Path
    header: Header
    koordsys: Koordsys | None
    crs_problem: str | None
    layers: dict[str, int]  # OBJTYPE (or group name when a feature has none) -> feature count
    layer_groups: dict[str, set[str]]
    skipped: Counter[str]
    has_slutt: bool
    codec: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class SosiReport:
    """What pass 2 did beyond reading: the reader's warnings go into the ingest report."""

    features: int = 0
    rings: geo.RingReport = field(default_factory=geo.RingReport)
    arcs: int = 0
    warnings: list[str] = field(default_factory=list)


def _open(path: Path, encoding: str | None, warnings: list[str]) -> Decoder:
    with path.open("rb") as fh:
        head = fh.read(64 * 1024)
    if not head.lstrip(b"\xef\xbb\xbf \r\n\t!").startswith(b".HODE") and b"\n.HODE" not in head[:4096]:
        raise CorruptSource(f"{path}: not a SOSI file (it does not start with .HODE); export it again as SOSI")
    return decoder_for(head, str(path), encoding, warnings)


def scan(path: str | Path, encoding: str | None = None) -> SosiScan:
    """Pass 1: header, OBJTYPE counts, skipped groups, ``.SLUTT`` (remembered while the file is unchanged)."""
    p = Path(path)
    stat = p.stat()
    return _scan_cached(str(p.resolve()), stat.st_mtime_ns, stat.st_size, encoding)


@lru_cache(maxsize=8)
def _scan_cached(path: str, _mtime_ns: int, _size: int, encoding: str | None) -> SosiScan:
    return _scan(Path(path), encoding)


def _scan(p: Path, encoding: str | None) -> SosiScan:
    warnings: list[str] = []
    decoder = _open(p, encoding, warnings)
    header_values: dict[str, Any] | None = None
    counts: Counter[tuple[str, str | None]] = Counter()
    skipped: Counter[str] = Counter()
    has_slutt = False
    pending: str | None = None
    for text in chunks(p, decoder):
        if header_values is None:
            header_values = _header_values(text)
        for group, objtype in _SCAN.findall("\n" + text):
            if group:
                if pending is not None:
                    counts[(pending, None)] += 1
                group = group.upper()
                pending = group if group in FEATURE_GROUPS else None
                if group in SKIPPED_GROUPS or group not in FEATURE_GROUPS | SILENT_GROUPS:
                    skipped[group] += 1
                if group == "SLUTT":
                    has_slutt = True
            elif pending is not None:
                counts[(pending, objtype)] += 1
                pending = None
    if pending is not None:
        counts[(pending, None)] += 1
    header = build_header(header_values or {}, str(p))
    koordsys, problem = None, None
    try:
        koordsys = lookup(header.koordsys, str(p))
    except MissingCRS as exc:
        problem = str(exc)
    layers: Counter[str] = Counter()
    layer_groups: dict[str, set[str]] = {}
    for (group, objtype), n in counts.items():
        name = objtype or group
        layers[name] += n
        layer_groups.setdefault(name, set()).add(group)
    if not has_slutt:
        warnings.append("the file has no .SLUTT (it may be cut off); read what is there / filen mangler .SLUTT "
                        "og kan være avkuttet")
    return SosiScan(p, header, koordsys, problem, dict(sorted(layers.items())), layer_groups, skipped, has_slutt,
                    decoder.codec, warnings)


def _header_values(text: str) -> dict[str, Any]:
    for record in records(text):
        if group_of(record)[0] == "HODE":
            builder = AttributeBuilder()
            for m in _LINE.finditer(record):
                level = len(m.group(1))
                if level >= 2:
                    builder.add(level, m.group(2), m.group(3))
            return builder.values
        break
    return {}


def choose(info: SosiScan, layer: str | None) -> str:
    """The OBJTYPE to read; several and no ``--layer`` is an error listing them with counts."""
    listed = ", ".join(f"{name} ({n})" for name, n in info.layers.items())
    if layer is not None:
        if layer not in info.layers:
            raise LayerChoiceRequired(f"{info.path}: no OBJTYPE {layer!r}; the file holds: {listed or 'nothing'}")
        return layer
    if not info.layers:
        raise NoFeatures(f"{info.path}: holds no features (only {', '.join(info.skipped) or 'a header'}); "
                         "check the export")
    if len(info.layers) > 1:
        raise LayerChoiceRequired(f"{info.path}: holds {len(info.layers)} OBJTYPEs; choose one with --layer NAME "
                                  f"from: {listed}")
    return next(iter(info.layers))


@dataclass
class _Feature:
    group: str
    ident: int | None
    attrs: dict[str, Any]
    blocks: list[tuple[int, str]]
    ref_text: str


_WITH_BODY = frozenset({"NØ", "NØH", "REF"})  # lines whose following non-dotted lines belong to them


def _feature(group: str, ident: int | None, lines: list[tuple[int, str, str, str]], full: bool) -> _Feature:
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
    return _Feature(group, ident, values, blocks, " ".join(ref_parts))


_MISSING = object()


def _records(text: str) -> Iterator[tuple[str, int | None, list[tuple[int, str, str, str]]]]:
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


def _objtype_of(lines: list[tuple[int, str, str, str]]) -> str | None:
    for level, name, value, _body in lines:
        if name == "OBJTYPE" and level == 2:
            parts = value.split("!", 1)[0].split()
            return parts[0] if parts else None
    return None


class _Collector:
    """Geometries of the chosen layer, built at the end with vectorised constructors."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.attrs: list[dict[str, Any]] = []
        self.coords: list[np.ndarray] = []  # points and lines, one array per feature
        self.rings: list[list[np.ndarray] | None] = []  # polygons: rings (shell first), None otherwise


def _raw(feature: _Feature, where: str) -> np.ndarray:
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


def _curve(feature: _Feature, raw: np.ndarray, transform: geo.Transform, tolerance: float, report: SosiReport,
           where: str) -> np.ndarray:
    """Arcs and circles densified (in real units, returned in file units); other curves as they are."""
    group = feature.group
    if group not in ("BUEP", "SIRKELP", "BUE", "SIRKEL"):
        return raw
    report.arcs += 1
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


def read(path: str | Path, layer: str | None = None, encoding: str | None = None,
         arc_tolerance: float = geo.ARC_TOLERANCE_M, info: SosiScan | None = None
         ) -> tuple[gpd.GeoDataFrame, SosiReport]:
    """Read the features of one OBJTYPE as a GeoDataFrame (x = east) in the file's CRS.

    With an unknown KOORDSYS the frame has no CRS and ``frame.attrs["missing_crs_reason"]`` says why
    (``--crs`` then sets it). The reader's warnings are in ``frame.attrs["reader_warnings"]``.
    """
    info = info or scan(path, encoding)
    chosen = choose(info, layer)
    report = SosiReport(warnings=list(info.warnings))
    transform = info.header.transform
    tolerance = arc_tolerance / 111_000.0 if (info.koordsys and info.koordsys.geographic) else arc_tolerance
    join_tol = 0.5  # file units: curve ends that round to the same stored coordinate meet
    groups = info.layer_groups.get(chosen, set())
    need_curves = bool(groups & AREA_GROUPS)
    curves: dict[int, np.ndarray] = {}
    collected = _Collector()
    areas: list[tuple[int, _Feature]] = []
    by_group = {g for g in groups}
    warnings: list[str] = []
    decoder = _open(info.path, encoding, warnings)
    for text in chunks(info.path, decoder):
        for group, ident, lines in _records(text):
            if group not in FEATURE_GROUPS:
                continue
            objtype = _objtype_of(lines)
            mine = (objtype or group) == chosen and group in by_group
            if not mine and not (need_curves and group in CURVE_GROUPS):
                continue
            feature = _feature(group, ident, lines, full=mine or group in ("BUE", "SIRKEL"))
            where = f"{info.path}: .{group} {ident}:"
            if mine and group in AREA_GROUPS:
                areas.append((len(collected.kinds), feature))
                collected.kinds.append("polygon")
                collected.attrs.append(feature.attrs)
                collected.coords.append(np.empty((0, 2)))
                collected.rings.append(None)
                continue
            xy = _raw(feature, where)
            if group in CURVE_GROUPS:
                xy = _curve(feature, xy, transform, tolerance, report, where)
                if need_curves and ident is not None:
                    curves[ident] = xy[:, :2] if xy.shape[1] > 2 else xy
            if mine:
                collected.kinds.append("point" if group in POINT_GROUPS else "line")
                collected.attrs.append(feature.attrs)
                collected.coords.append(xy)
                collected.rings.append(None)
    for index, feature in areas:
        collected.rings[index] = _rings(feature, curves, transform, join_tol, report, info.path)
    curves.clear()  # every ring is assembled: the curves' memory goes before the geometries are built
    areas.clear()
    report.features = len(collected.kinds)
    frame = _frame(collected, info, chosen, transform)
    _summarise(report, info)
    frame.attrs["reader_warnings"] = report.warnings
    if info.crs_problem:
        frame.attrs["missing_crs_reason"] = info.crs_problem
    return frame, report


def _rings(feature: _Feature, curves: dict[int, np.ndarray], transform: geo.Transform, tolerance: float,
           report: SosiReport, path: Path) -> list[np.ndarray] | None:
    groups = geo.parse_refs(feature.ref_text)
    rings: list[np.ndarray] = []
    for n, group in enumerate(groups):
        parts = []
        for ident, reverse in group:
            xy = curves.get(ident)
            if xy is None:
                report.rings.dangling.append(f".FLATE {feature.ident}: :{ident}")
                return None
            parts.append(xy[::-1] if reverse else xy)
        if not parts:
            if n == 0:
                report.rings.dangling.append(f".FLATE {feature.ident}: no ..REF")
                return None
            continue
        rings.append(geo.assemble_ring(parts, report.rings, tolerance))
    return rings


def _frame(c: _Collector, info: SosiScan, chosen: str, transform: geo.Transform) -> gpd.GeoDataFrame:
    n = len(c.kinds)
    geoms = np.empty(n, dtype=object)
    kinds = np.array(c.kinds, dtype=object)
    for kind, build in (("point", _points), ("line", _lines)):
        idx = np.flatnonzero(kinds == kind)
        if len(idx):
            geoms[idx] = build([c.coords[i] for i in idx], transform)
    c.coords.clear()
    poly_idx = [i for i in np.flatnonzero(kinds == "polygon") if c.rings[i] is not None]
    if poly_idx:
        geoms[poly_idx] = _polygons([c.rings[i] for i in poly_idx], transform)  # type: ignore[misc]
    c.rings.clear()
    keep = np.array([g is not None for g in geoms], dtype=bool)
    attrs = pd.DataFrame([a for a, k in zip(c.attrs, keep, strict=True) if k])
    attrs = _tidy_columns(attrs)
    crs = f"EPSG:{info.koordsys.epsg}" if info.koordsys else None
    frame = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms[keep], crs=crs), crs=crs)
    frame.attrs["sosi_layer"] = chosen
    return frame


def _by_dim(arrays: list[np.ndarray]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, a in enumerate(arrays):
        out.setdefault(a.shape[1], []).append(i)
    return out


def _points(arrays: list[np.ndarray], transform: geo.Transform) -> np.ndarray:
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        xy = transform.to_xy(a)
        out[i] = shapely.points(xy[0]) if len(xy) == 1 else (shapely.multipoints(xy) if len(xy) else None)
    return out


def _lines(arrays: list[np.ndarray], transform: geo.Transform) -> np.ndarray:
    out = np.empty(len(arrays), dtype=object)
    for members in _by_dim(arrays).values():
        ok = [i for i in members if len(arrays[i]) >= 2]
        for start in range(0, len(ok), _BATCH):
            batch = ok[start:start + _BATCH]
            lengths = np.array([len(arrays[i]) for i in batch])
            coords = transform.to_xy(np.concatenate([arrays[i] for i in batch]))
            out[batch] = shapely.linestrings(coords, indices=np.repeat(np.arange(len(batch)), lengths))
    return out


_BATCH = 10_000  # features per vectorised constructor call: bounds the temporary coordinate arrays


def _polygons(ring_lists: list[list[np.ndarray]], transform: geo.Transform) -> np.ndarray:
    out = np.empty(len(ring_lists), dtype=object)
    for start in range(0, len(ring_lists), _BATCH):
        batch = ring_lists[start:start + _BATCH]
        rings = [r for rings in batch for r in rings]
        ring_of = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
        linear = shapely.linearrings(transform.to_xy(np.concatenate(rings)), indices=ring_of)
        poly_of = np.repeat(np.arange(len(batch)), [len(r) for r in batch])
        out[start:start + len(batch)] = shapely.polygons(linear, indices=poly_of)
    return out


def _tidy_columns(attrs: pd.DataFrame) -> pd.DataFrame:
    """Columns mixing numbers and text become text (a code column must not be half int, half str)."""
    for col in attrs.columns:
        values = attrs[col]
        if values.dtype != object:
            continue
        kinds = {type(v) for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))}
        if kinds and kinds <= {int}:
            attrs[col] = values.astype("Int64")
        elif kinds and kinds <= {int, float}:
            attrs[col] = values.astype("float64")
        elif len(kinds) > 1 and list not in kinds:
            attrs[col] = values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return attrs


def _summarise(report: SosiReport, info: SosiScan) -> None:
    rings = report.rings
    if rings.closed:
        report.warnings.append(f"closed {rings.closed} FLATE ring(s) that did not close / lukket {rings.closed} "
                               "flategrense(r) som ikke var lukket")
    if rings.flipped:
        report.warnings.append(f"reversed {rings.flipped} ..REF curve(s) whose direction did not fit / snudde "
                               f"{rings.flipped} kurve(r) i ..REF")
    if rings.dangling:
        shown = ", ".join(rings.dangling[:10]) + (" …" if len(rings.dangling) > 10 else "")
        report.warnings.append(f"dropped {len(rings.dangling)} FLATE(s) whose ..REF names a curve not in the file "
                               f"({shown}) / utelot flater med REF til kurver som mangler")
    if report.arcs:
        report.warnings.append(f"densified {report.arcs} arc(s) to within {geo.ARC_TOLERANCE_M} m / "
                               f"{report.arcs} buer gjort om til linjer")
    skipped = {g: n for g, n in info.skipped.items()}
    if skipped:
        report.warnings.append("skipped " + ", ".join(f"{n} .{g}" for g, n in sorted(skipped.items()))
                               + " (not map data for analysis) / hoppet over tekst/symbol")
