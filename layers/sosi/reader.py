"""Read one layer (one OBJTYPE) of a SOSI file into a GeoDataFrame, streaming.

Pass 1 (``scan``) reads the header and counts features per OBJTYPE with one regular expression per
chunk; pass 2 (``read``) parses only the chosen OBJTYPE fully, plus the coordinates of curves that
``.FLATE`` features may reference. Coordinates are parsed per block by numpy, geometries are built with
shapely's vectorised constructors at the end.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from layers.errors import CorruptSource, LayerChoiceRequired, MissingCRS, NoFeatures
from layers.sosi import geometry as geo
from layers.sosi.attributes import AttributeBuilder
from layers.sosi.encoding import Decoder, decoder_for
from layers.sosi.frame import Collector, build_frame
from layers.sosi.header import Header, build_header
from layers.sosi.koordsys import Koordsys, lookup
from layers.sosi.lexer import chunks, group_of, records
from layers.sosi.records import (
    ARC_GROUPS,
    Feature,
    densify,
    objtype_of,
    parse_feature,
    raw_coordinates,
    split_records,
)

POINT_GROUPS = {"PUNKT", "SVERM"}
CURVE_GROUPS = {"KURVE", "LINJE", "BUEP", "BUE", "SIRKEL", "SIRKELP", "KLOTOIDE", "TRASE"}
AREA_GROUPS = {"FLATE"}
FEATURE_GROUPS = POINT_GROUPS | CURVE_GROUPS | AREA_GROUPS
SKIPPED_GROUPS = {"TEKST", "SYMBOL"}  # cartographic text and symbols: not data for analysis
SILENT_GROUPS = {"HODE", "DEF", "OBJDEF", "SLUTT"}

_SCAN = re.compile(r"\n\.(?:([A-ZÆØÅa-zæøå]+)|\.OBJTYPE[ \t]+([^\s!]+))")  # literal prefix: fast
_LINE = re.compile(r"^(\.+)([^\s!]*)[ \t]*([^\n]*)", re.MULTILINE)


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


def choose(info: SosiScan, layer: str | None, shown: str | Path | None = None) -> str:
    """The OBJTYPE to read; several and no ``--layer`` is an error listing them with counts.

    ``shown`` is the name messages use (an upload's own name, not the server path it was saved under).
    """
    name = shown or info.path
    listed = ", ".join(f"{name} ({n})" for name, n in info.layers.items())
    if layer is not None:
        if layer not in info.layers:
            raise LayerChoiceRequired(f"{name}: no OBJTYPE {layer!r}; the file holds: {listed or 'nothing'}")
        return layer
    if not info.layers:
        raise NoFeatures(f"{name}: the SOSI file holds no features (only "
                         f"{', '.join('.' + g for g in info.skipped) or 'a header'}); check that the export contains data")
    if len(info.layers) > 1:
        raise LayerChoiceRequired(f"{name}: holds {len(info.layers)} OBJTYPEs; choose one with --layer NAME "
                                  f"from: {listed}")
    return next(iter(info.layers))


def read(path: str | Path, layer: str | None = None, encoding: str | None = None,
         arc_tolerance: float = geo.ARC_TOLERANCE_M, info: SosiScan | None = None,
         shown: str | Path | None = None) -> tuple[gpd.GeoDataFrame, SosiReport]:
    """Read the features of one OBJTYPE as a GeoDataFrame (x = east) in the file's CRS.

    With an unknown KOORDSYS the frame has no CRS and ``frame.attrs["missing_crs_reason"]`` says why
    (``--crs`` then sets it). The reader's warnings are in ``frame.attrs["reader_warnings"]``.
    """
    info = info or scan(path, encoding)
    chosen = choose(info, layer, shown)
    name = shown or info.path
    report = SosiReport(warnings=list(info.warnings))
    transform = info.header.transform
    tolerance = arc_tolerance / 111_000.0 if (info.koordsys and info.koordsys.geographic) else arc_tolerance
    join_tol = 0.5  # file units: curve ends that round to the same stored coordinate meet
    groups = info.layer_groups.get(chosen, set())
    need_curves = bool(groups & AREA_GROUPS)
    curves: dict[int, np.ndarray] = {}
    collected = Collector()
    areas: list[tuple[int, Feature]] = []
    warnings: list[str] = []
    decoder = _open(info.path, encoding, warnings)
    for text in chunks(info.path, decoder):
        for group, ident, lines in split_records(text):
            if group not in FEATURE_GROUPS:
                continue
            objtype = objtype_of(lines)
            mine = (objtype or group) == chosen and group in groups
            if not mine and not (need_curves and group in CURVE_GROUPS):
                continue
            feature = parse_feature(group, ident, lines, full=mine or group in ("BUE", "SIRKEL"))
            where = f"{name}: .{group} {ident}:"
            if mine and group in AREA_GROUPS:
                areas.append((len(collected.kinds), feature))
                collected.kinds.append("polygon")
                collected.attrs.append(feature.attrs)
                collected.coords.append(np.empty((0, 2)))
                collected.rings.append(None)
                continue
            xy = raw_coordinates(feature, where)
            if group in CURVE_GROUPS:
                report.arcs += group in ARC_GROUPS
                xy = densify(feature, xy, transform, tolerance, where)
                if need_curves and ident is not None:
                    curves[ident] = xy[:, :2] if xy.shape[1] > 2 else xy
            if mine:
                collected.kinds.append("point" if group in POINT_GROUPS else "line")
                collected.attrs.append(feature.attrs)
                collected.coords.append(xy)
                collected.rings.append(None)
    for index, feature in areas:
        collected.rings[index] = _rings(feature, curves, transform, join_tol, report)
    curves.clear()  # every ring is assembled: the curves' memory goes before the geometries are built
    areas.clear()
    report.features = len(collected.kinds)
    frame = build_frame(collected, f"EPSG:{info.koordsys.epsg}" if info.koordsys else None, transform)
    frame.attrs["sosi_layer"] = chosen
    _summarise(report, info)
    frame.attrs["reader_warnings"] = report.warnings
    if info.crs_problem:
        frame.attrs["missing_crs_reason"] = info.crs_problem
    return frame, report


def _rings(feature: Feature, curves: dict[int, np.ndarray], transform: geo.Transform, tolerance: float,
           report: SosiReport) -> list[np.ndarray] | None:
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
