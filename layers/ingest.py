"""Ingest: read a source, validate and normalise it, publish it as a new version of a layer."""

from __future__ import annotations

import errno
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from layers.checks import CheckContext, CheckResult, check_layer, require_ok
from layers.errors import StoreFull
from layers.ids import check_layer_id
from layers.kinds import LayerKind
from layers.normalise import NormaliseReport, normalise, validity_provenance
from layers.progress import NoProgress, Progress
from layers.readers import (
    check_declared_crs,
    check_encoding,
    choose_layer,
    count_features,
    read_layer,
    resolve_source,
)
from layers.store import LayerMeta, Store, VersionRecord


@dataclass(frozen=True)
class IngestReport:
    """The short report GIS staff see after ``layers add``."""

    layer_id: str
    version: int
    source: str
    source_layer: str
    driver: str
    normalised: NormaliseReport
    bbox: tuple[float, float, float, float]
    seconds: float
    checks: CheckResult | None = None

    def lines(self) -> list[str]:
        """Human-readable report lines."""
        n = self.normalised
        minx, miny, maxx, maxy = self.bbox
        lines = [
            (f"published {self.layer_id} version {self.version} from {self.source} "
             f"(layer {self.source_layer!r}, {self.driver})"),
            (f"features: {n.features_in} read, {n.features_out} published; repaired {n.repaired} invalid; "
             f"dropped {n.dropped_empty} empty, {n.dropped_collapsed} collapsed"),
            f"geometry: {', '.join(f'{v} {k}' for k, v in n.geometry_types.items())}",
            f"CRS: {n.crs_in} -> {n.crs_out}{' (from --crs)' if n.crs_overridden else ''}",
            f"bbox ({n.crs_out}): {minx:.1f}, {miny:.1f}, {maxx:.1f}, {maxy:.1f}",
        ]
        if n.field_map:
            lines.append("fields: " + ", ".join(f"{k} <- {v}" for k, v in n.field_map.items()))
        lines += [f"warning: {w}" for w in n.warnings]
        if self.checks is not None:
            lines += [f"warning: {w}" for w in self.checks.warnings]
        lines.append(f"took {self.seconds:.2f} s")
        return lines

    def as_dict(self) -> dict[str, Any]:
        """JSON-able report (stored as the version's provenance)."""
        return asdict(self)


def ingest(
    store: Store,
    path: str | Path,
    layer_id: str,
    kind: LayerKind,
    *,
    layer: str | None = None,
    crs: str | int | None = None,
    encoding: str | None = None,
    title: str = "",
    description: str = "",
    attribution: str = "",
    progress: Progress | None = None,
    checks: CheckContext | None = None,
) -> IngestReport:
    """Read ``path`` and publish it as a new version of ``layer_id``.

    Nothing is published unless every step succeeds; the previous version keeps serving. With ``checks``,
    the kind checks (``layers.checks``) run first and refuse a layer the analysis cannot use.
    """
    started = time.perf_counter()
    progress = progress or NoProgress()
    check_layer_id(layer_id)
    check_encoding(encoding)
    source = resolve_source(path)
    if crs is None:
        check_declared_crs(source)
    chosen = choose_layer(source, layer)
    expected = count_features(source, chosen)
    progress.stage("reading", expected)
    raw = read_layer(source, chosen, encoding=encoding, expected=expected)
    progress.advance(len(raw))
    progress.stage("validating", None)
    frame, report = normalise(raw, kind, str(source.path), crs_override=crs)
    result = None
    if checks is not None:
        result = check_layer(frame, kind, report.field_map, checks)
        require_ok(result, Path(path).name)
    provenance = {
        "source": str(Path(path).resolve()),
        "source_layer": chosen,
        "driver": source.driver,
        "report": asdict(report),
        **validity_provenance(report),
    }
    meta = LayerMeta(kind=kind, title=title or layer_id,
                     description=description or f"{kind.value} layer loaded from {Path(path).name}",
                     attribution=attribution, provenance=provenance)
    try:
        record: VersionRecord = store.publish(layer_id, frame, meta, progress=progress)
    except Exception as exc:
        if is_out_of_space(exc):
            raise StoreFull(f"no space left to write layer {layer_id!r}, or the disk refused the write "
                            f"({_reason(exc)}); nothing was published and the previous version keeps serving. "
                            "Free disk space (or raise the quota or file size limit) and add the file again") from None
        raise
    return IngestReport(layer_id, record.version, str(path), chosen, source.driver, report, record.bbox,
                        time.perf_counter() - started, result)


_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_FULL_TEXTS = ("no space left", "file too large", "disk quota", "database or disk is full", "disk i/o error",
               "write failed", "could not extend file")


def is_out_of_space(exc: BaseException) -> bool:
    """Whether an error from a store write means the disk (or quota, or file-size limit) is full.

    ENOSPC, EFBIG and EDQUOT alike; GDAL and SQLite report them in words rather than an errno.
    """
    for e in (exc, exc.__cause__, exc.__context__):
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return True
        if isinstance(e, (OSError, RuntimeError, sqlite3.Error)) or type(e).__module__.startswith(("pyogrio",
                                                                                                   "psycopg")):
            text = str(e).lower()
            if any(t in text for t in _FULL_TEXTS):
                return True
    return False


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
