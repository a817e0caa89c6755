"""Ingest: read a source, validate and normalise it, publish it as a new version of a layer."""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from layers.checks import CheckContext, CheckResult, GeometryFacts, RegionLookup, check_layer, require_ok
from layers.crs import WORKING_EPSG
from layers.errors import StoreFull
from layers.ids import check_layer_id
from layers.kinds import LayerKind
from layers.normalise import (
    NormalisedAttributes,
    NormaliseReport,
    all_valid,
    normalise,
    normalise_assuming_valid,
    normalise_attributes,
    parse_epsg,
    validity_provenance,
)
from layers.progress import NoProgress, Progress
from layers.pyogrio_read import unchanged_rows
from layers.readers import (
    check_declared_crs,
    check_encoding,
    choose_layer,
    count_features,
    read_layer_wkb,
    resolve_source,
)
from layers.store import LayerMeta, Store, StreamedWrite, VersionRecord


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
    the kind checks (``layers.checks``) refuse a layer the analysis cannot use. They run, like the validity
    check, while the store writes the new version (``Store.publish``'s ``before_commit`` waits for them).
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
    shown = str(source.path)

    def meta_of(report: NormaliseReport) -> LayerMeta:
        provenance = {"source": str(Path(path).resolve()), "source_layer": chosen, "driver": source.driver,
                      "report": asdict(report), **validity_provenance(report)}
        return LayerMeta(kind=kind, title=title or layer_id,
                         description=description or f"{kind.value} layer loaded from {Path(path).name}",
                         attribution=attribution, provenance=provenance)

    with (ThreadPoolExecutor(2, thread_name_prefix="ingest", initializer=_yield_to_the_write) as helpers,
          ThreadPoolExecutor(1, thread_name_prefix="ingest-facts", initializer=_yield_to_the_write) as facts):
        progress.stage("reading", expected)
        # the geometries are checked a block at a time as they are decoded, on the other core
        blocks = _BlockChecks(helpers, facts, checks)
        # a layer that can be published as read starts going into the store before its geometries are decoded
        stream = _Stream(store, layer_id, kind, crs)
        try:
            raw, raw_wkb = read_layer_wkb(source, chosen, encoding=encoding, expected=expected, decoded=blocks.add,
                                          before_decode=stream.start)
            progress.advance(len(raw))
            if not store.writes_wkb:  # the source's WKB (~70 MB per 200 000 parcels) is not needed past the read
                raw_wkb = None
            progress.stage("validating", None)
            write = _Write(store, layer_id, kind, Path(path).name, checks, progress, helpers)
            # the common case first: a valid layer in the working CRS is written while its validity and the
            # kind checks are computed; it is committed only when both pass (else rolled back and done the long
            # way)
            try:
                quick = normalise_assuming_valid(raw, kind, shown, crs_override=crs, attributes=stream.attributes)
            except Exception:  # noqa: BLE001 - the full normalise below raises what it would have raised
                quick = None
            if quick is not None:
                frame, report = quick
                published = np.asarray(frame.geometry.values, dtype=object)
                rows = unchanged_rows(np.asarray(raw.geometry.values, dtype=object), published)
                # geometries left as read: their checks are the blocks', and they go to the store as the WKB
                # they were read from (no second encoding), or are there already (every row streamed)
                streamed = stream.take(rows is not None and len(rows) == len(raw))
                valid = blocks.validity(rows) if rows is not None else None
                if valid is None:
                    valid = helpers.submit(all_valid, published).result
                try:
                    record, result = write.publish(
                        frame, report, meta_of(report), valid,
                        raw_wkb[rows] if rows is not None and raw_wkb is not None and streamed is None else None,
                        blocks.facts(rows) if rows is not None else None, streamed)
                except _NotAllValid:
                    pass
                else:
                    return IngestReport(layer_id, record.version, str(path), chosen, source.driver, report,
                                        record.bbox, time.perf_counter() - started, result)
        finally:
            stream.abandon()  # (the publish below waits for the layer's lock, which a stream holds)
        frame, report = normalise(raw, kind, shown, crs_override=crs)
        record, result = write.publish(frame, report, meta_of(report), None, None, None)
    return IngestReport(layer_id, record.version, str(path), chosen, source.driver, report, record.bbox,
                        time.perf_counter() - started, result)


def _yield_to_the_write() -> None:
    """Lower this helper thread's CPU priority: the write (and the database behind it) is the critical path;
    the checks fill the cores it leaves idle (Linux schedules threads one by one; elsewhere a no-op)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


class _BlockChecks:
    """The geometry checks a block at a time as the reader decodes the blocks (decoding holds the GIL; GEOS
    releases it): ``shapely.is_valid`` on the helper threads and, with kind checks, the region facts
    (``RegionLookup.facts``) on a thread of their own. For 200 000 polygons both end about when the read does,
    and only the cheap field checks are left for the time of the write."""

    def __init__(self, helpers: ThreadPoolExecutor, facts: ThreadPoolExecutor, checks: CheckContext | None) -> None:
        self._helpers, self._facts, self._checks = helpers, facts, checks
        self._valid: list[Future[np.ndarray]] = []
        self._found: list[Future[GeometryFacts]] = []
        self._lookup: RegionLookup | None = None
        if checks is not None:  # built while the source is read (the facts thread is idle until then)
            facts.submit(self._region_lookup)

    def _region_lookup(self) -> RegionLookup:
        if self._lookup is None:  # built by the one facts thread, which alone uses it
            self._lookup = RegionLookup(self._checks.region)  # type: ignore[union-attr]
            _ = self._lookup.shape
        return self._lookup

    def add(self, geoms: np.ndarray) -> None:
        self._valid.append(self._helpers.submit(shapely.is_valid, geoms))
        if self._checks is not None:
            self._found.append(self._facts.submit(self._facts_of, geoms))

    def _facts_of(self, geoms: np.ndarray) -> GeometryFacts:
        return self._region_lookup().facts(geoms)

    def validity(self, rows: np.ndarray) -> Callable[[], bool] | None:
        """Waits for whether the geometries in ``rows`` (of all those read) are all valid; None when the
        reader gave no blocks (SOSI is parsed here)."""
        if not self._valid:
            return None
        blocks = self._valid
        return lambda: bool(np.concatenate([b.result() for b in blocks])[rows].all())

    def facts(self, rows: np.ndarray) -> Callable[[], GeometryFacts] | None:
        """Waits for the region facts of the geometries in ``rows``; None without blocks or kind checks."""
        if not self._found:
            return None
        blocks = self._found
        return lambda: GeometryFacts.joined([b.result() for b in blocks]).take(rows)


class _Stream:
    """The store writing the layer while its geometries are decoded and checked (``Store.begin_publish``),
    when it may be published as read: in the working CRS, with the attributes as ``normalise_attributes``
    publishes them (found here, before the geometries, for either store). Whether the write is kept is decided
    once the layer is normalised: only when the published geometries are all those read (``take``)."""

    def __init__(self, store: Store, layer_id: str, kind: LayerKind, crs_override: str | int | None) -> None:
        self._store, self._layer_id, self._kind, self._crs_override = store, layer_id, kind, crs_override
        self.attributes: NormalisedAttributes | None = None
        self._write: StreamedWrite | None = None

    def start(self, attributes: pd.DataFrame, wkb: np.ndarray, crs: Any) -> None:
        """``read_with_wkb``'s ``before_decode``: start the store's write when the layer can be published as
        read. Anything that stops it here is left for ``normalise`` to find (and name)."""
        try:
            declared = parse_epsg(self._crs_override) if self._crs_override is not None else CRS.from_user_input(crs)
            if declared.to_epsg() != WORKING_EPSG:
                return  # reprojected: not the geometries as read
            self.attributes = normalise_attributes(attributes, self._kind)
            self._write = self._store.begin_publish(self._layer_id, self.attributes.frame, wkb)
        except Exception:  # noqa: BLE001 - e.g. no CRS: normalise refuses the layer with the reason
            return

    def take(self, every_row: bool) -> StreamedWrite | None:
        """The streamed write, when the published layer holds ``every_row`` read (else it is dropped)."""
        if self._write is not None and not every_row:
            self.abandon()
        return self._write

    def abandon(self) -> None:
        """Drop the streamed write unless it has ended (``finish`` ends it; this runs whatever happened, so a
        write nobody finished never keeps its connection and the layer's lock)."""
        if self._write is not None:
            self._write.abandon()
            self._write = None


class _NotAllValid(Exception):
    """A layer written on the assumption that it is valid is not (nothing was committed)."""


@dataclass
class _Write:
    """Publishing one ingest's frame with the kind checks (and maybe the validity check) running alongside."""

    store: Store
    layer_id: str
    kind: LayerKind
    source_name: str
    checks: CheckContext | None
    progress: Progress
    helpers: ThreadPoolExecutor

    def publish(self, frame: gpd.GeoDataFrame, report: NormaliseReport, meta: LayerMeta,
                validity: Callable[[], bool] | None, wkb: np.ndarray | None,
                facts: Callable[[], GeometryFacts] | None,
                streamed: StreamedWrite | None = None) -> tuple[VersionRecord, CheckResult | None]:
        checking = None
        if self.checks is not None:  # a shallow copy: the checks thread has its own frame object
            checking = self.helpers.submit(_check, frame.copy(deep=False), self.kind, report.field_map, self.checks,
                                           facts)

        def ready() -> None:
            if validity is not None and not validity():
                raise _NotAllValid
            if checking is not None:
                require_ok(checking.result(), self.source_name)

        try:
            if streamed is not None:
                record = streamed.finish(frame, meta, progress=self.progress, before_commit=ready)
            else:
                record = self.store.publish(self.layer_id, frame, meta, progress=self.progress,
                                            before_commit=ready, wkb=wkb)
        except _NotAllValid:
            raise
        except Exception as exc:
            ready()  # an invalid or refused layer explains a failed write better than the write's own error
            if is_out_of_space(exc):
                raise StoreFull(f"no space left to write layer {self.layer_id!r}, or the disk refused the write "
                                f"({_reason(exc)}); nothing was published and the previous version keeps "
                                "serving. Free disk space (or raise the quota or file size limit) and add the "
                                "file again") from None
            raise
        return record, checking.result() if checking is not None else None


def _check(frame: gpd.GeoDataFrame, kind: LayerKind, field_map: dict[str, str], checks: CheckContext,
           facts: Callable[[], GeometryFacts] | None) -> CheckResult:
    return check_layer(frame, kind, field_map, checks, facts() if facts is not None else None)


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
