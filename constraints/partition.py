"""The analysis split by municipality: what one partition reads and computes, and the combined result.

No Dask here (``constraints.distributed`` runs these functions on a cluster). A partition is the zones of one
municipality (their ``kommunenummer``, else the municipality polygon holding them; large ones are cut in
stripes: :mod:`constraints.plan`). Its task opens the store itself (:class:`StoreSpec`: a workspace path or a database URL) and reads
the zones by their bounding box and the constraint features within that box grown by :func:`reach_m`, the
longest distance any rule looks: nothing farther can hit a zone or come near it. What crosses partitions is
handled so that the combined result equals one run over everything:

* zones outside every municipality are grouped by 20 km squares (a box around them all would read everything);
* zone ids stay the global ids (the fid, or 1..N over several zoning layers as ``zoning_frame`` numbers them);
* in-force reguleringsplan zones of a neighbour that overlap a reserve are read as context (business areas);
* a nearest-feature distance beyond the reach is looked up again, exactly (:mod:`constraints.far`);
* coverage layers (kind ``coverage``) are read whole, and the municipality layer too when the box misses it
  or a zone names a municipality outside it (names in the texts, the ``region`` coverage);
* the repaired-geometry counts are added up as sets; business areas and land reserve are combined per zone.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from constraints.analysis import ZoneAnalysis
from constraints.business import business_areas
from constraints.far import exact_far_distances, read_box
from constraints.formal import RP, plan_types
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer
from constraints.overlay import analyse_zones, objection_risk
from constraints.publish import publishable_frames
from constraints.reserve import land_reserve
from constraints.risk import Risk
from constraints.rules import RuleSet
from layers.crs import WORKING_EPSG
from layers.kinds import LayerKind
from layers.store import LayerRecord, Store, VersionRecord

Box = tuple[float, float, float, float]
NOWHERE: Box = (-1e12, -1e12, -1e12 + 1, -1e12 + 1)  # a box no feature meets: an empty read with the schema


class StoreUnavailable(RuntimeError):
    """A worker cannot open the store it was told to read (a path not shared, a database not reachable)."""


@dataclass(frozen=True)
class StoreSpec:
    """How a worker opens the store itself: a GeoPackage workspace on a shared path, or a PostGIS URL."""

    kind: Literal["gpkg", "postgis"]
    location: str

    @classmethod
    def of(cls, store: Store) -> StoreSpec:
        """The spec of an open store (GeoPackage: its absolute workspace path; PostGIS: its URL)."""
        workspace = getattr(store, "workspace", None)
        if workspace is not None:
            return cls("gpkg", str(Path(workspace).resolve()))
        url = getattr(store, "url", None)
        if isinstance(url, str):
            return cls("postgis", url)
        raise StoreUnavailable(f"{type(store).__name__} cannot be opened by workers (no workspace path or URL)")

    def open(self) -> Store:
        """The store, opened once per process."""
        with _open_lock:
            store = _open_stores.get(self)
            if store is None:
                store = _open_stores[self] = self._open()
            return store

    def _open(self) -> Store:
        if self.kind == "gpkg":
            path = Path(self.location)
            if not (path / "catalog.sqlite").is_file():
                raise StoreUnavailable(
                    f"no workspace at {path} on this worker: put the workspace on a path every worker mounts "
                    "the same way (or use PostGIS)")
            from layers.gpkg_store import GeoPackageStore

            return GeoPackageStore(path)
        from layers.postgis_store import PostGISStore  # psycopg: the ``postgis`` extra

        try:
            return PostGISStore(self.location, pool_size=2, migrate_schema=False)
        except Exception as exc:  # noqa: BLE001 - any connection failure: say which database
            raise StoreUnavailable(f"cannot reach the database from this worker: {exc}") from None


_open_stores: dict[StoreSpec, Store] = {}
_open_lock = threading.Lock()


@dataclass(frozen=True)
class Partition:
    """The zones of one municipality (or one stripe of it): per zoning layer their fids and global ids."""

    key: str  # kommunenummer, "unknown", with "/2" ... for stripes
    bbox: Box | None  # of its zones; None: zones without geometry (read their layers whole)
    fids: tuple[np.ndarray, ...]  # aligned with the zoning layers
    ids: tuple[np.ndarray, ...]  # the global zone ids of those fids

    @property
    def n_zones(self) -> int:
        """How many zones the partition analyses."""
        return int(sum(len(f) for f in self.fids))


@dataclass(frozen=True)
class PartitionTask:
    """Everything a worker needs besides the store and the rules: small, pickled per task."""

    partition: Partition
    zoning: tuple[VersionRecord, ...]
    constraints: tuple[LayerRecord, ...]
    reach_m: float
    keep_findings: bool = False  # False: return the frames a publish writes (findings folded in, JSON text)


@dataclass
class PartitionResult:
    """What a task returns: per-zone results of its partition and what the combination needs."""

    key: str
    findings: pd.DataFrame
    risk: gpd.GeoDataFrame
    business: gpd.GeoDataFrame
    repaired: frozenset[tuple[str, object]]
    provenance: dict[str, Any]
    stats: dict[str, float] = field(default_factory=dict)


def reach_m(rules: RuleSet) -> float:
    """The longest distance any active rule looks (hit or proximity, municipality overrides included)."""
    out = 0.0
    for rule in rules.active_rules:
        for knr in (None, *rule.municipality_overrides):
            zone, proximity, _ = rule.distances_for(knr)
            out = max(out, zone, proximity)
    return out


def normalised_knr(values: pd.Series) -> np.ndarray:
    """kommunenummer as the engine reads it: stripped text, four digits; None where missing."""
    codes, uniques = pd.factorize(values.astype("string").str.strip(), use_na_sentinel=True)
    normalised = np.array([k.zfill(4) if k else None for k in uniques] + [None], dtype=object)
    return normalised[codes]  # the sentinel -1 picks the trailing None


# ------------------------------------------------------------------------------------------------ one task


def analyse_partition(spec: StoreSpec, task: PartitionTask, rules: RuleSet) -> PartitionResult:
    """Read one partition from the store, run the engine on it and return its per-zone results.

    The engine is the one :func:`constraints.analysis.run_analysis` runs (``analyse_zones``, ``objection_risk``,
    ``business_areas``); only the reading and the far distances differ.
    """
    started, cpu_started = time.perf_counter(), time.thread_time()
    store = spec.open()
    part = task.partition
    zoning, context = _read_zoning(store, task)
    box = NOWHERE if part.bbox is None else _grow(part.bbox, task.reach_m + 1.0)
    layers = _read_constraints(store, task, box, zoning)
    read_s = time.perf_counter() - started
    index = ConstraintIndex(layers, rules)
    findings = analyse_zones(zoning, layers, rules, index=index)
    repaired = index.repaired_features()
    provenance = dict(findings.attrs.get("provenance", {}))
    risk = objection_risk(zoning, findings, rules)
    with_context = zoning if context is None else _with_context(zoning, context)
    business = business_areas(with_context, findings, rules, index)  # far distances play no part in either
    if context is not None:
        business = business[business["zone_id"].isin(zoning.index.to_numpy())].reset_index(drop=True)
    if not task.keep_findings:
        findings = published_findings(findings)  # a GREEN finding's distance is never published
    far_started = time.thread_time()
    far = exact_far_distances(store, findings, zoning, task.constraints, rules, task.reach_m, box)
    far_cpu_s = time.thread_time() - far_started
    findings.attrs = {}
    risk.attrs, business.attrs = {}, {}
    if not task.keep_findings:  # what the publish writes, converted here in parallel: the client only writes
        risk, business = publishable_frames(ZoneAnalysis(findings, risk, business, pd.DataFrame(), {}))
        findings = findings.iloc[:0]
    stats = {"zones": float(len(zoning)), "read_s": read_s, "total_s": time.perf_counter() - started,
             "cpu_s": time.thread_time() - cpu_started,  # this thread's (the engine's, with one thread per task)
             "far_distances": float(far), "far_cpu_s": far_cpu_s, "context_zones": float(0 if context is None else len(context)),
             "started_at": time.time() - (time.perf_counter() - started), "ended_at": time.time(),
             "pid": float(os.getpid())}
    return PartitionResult(part.key, findings, risk, business, repaired, provenance, stats)


def warm_up() -> None:
    """Import what a task needs (the engine, the CQL2 parser the far distances may use): run on every worker
    while the client plans, so the first partitions do not wait for it."""
    from layers.cql2 import parse_filter

    parse_filter('"a" IS NOT NULL')


def published_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings a publish keeps (every one but plain GREEN; exempt ones say why): what the client needs."""
    keep = findings["risk"] != Risk.GREEN.value
    if "outcome" in findings:
        keep |= findings["outcome"] == "exempt"
    return findings[keep.to_numpy(dtype=bool)].reset_index(drop=True)


def _grow(box: Box, d: float) -> Box:
    return (box[0] - d, box[1] - d, box[2] + d, box[3] + d)


def _read_zoning(store: Store, task: PartitionTask) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """The partition's zones (global ids, ``zoning_frame``'s columns) and in-force reguleringsplan zones of
    other partitions that meet them (context for the reserves' regulated share)."""
    part = task.partition
    mine, others = [], []
    for record, fids, ids in zip(task.zoning, part.fids, part.ids, strict=True):
        frame = read_box(store, record, part.bbox)
        frame["source_layer"] = record.layer_id
        frame["source_fid"] = frame.index.to_numpy()
        inside = frame.index.isin(fids)
        chosen = frame.loc[fids]
        chosen.index = pd.Index(ids, name="fid")
        mine.append(chosen)
        if part.bbox is not None:
            others.append(frame[~inside])
    if len(mine) == 1:
        zoning = mine[0]
    else:
        joined = pd.concat(mine)
        zoning = gpd.GeoDataFrame(joined, geometry="geometry", crs=f"EPSG:{WORKING_EPSG}")
    zoning = zoning.sort_index(kind="stable")
    zoning.index.name = "fid"
    context = _context(zoning, others, task)
    return zoning, context


def _context(zoning: gpd.GeoDataFrame, others: list[gpd.GeoDataFrame],
             task: PartitionTask) -> gpd.GeoDataFrame | None:
    others = [o for o in others if len(o)]
    if not others:
        return None
    frame = others[0] if len(others) == 1 else gpd.GeoDataFrame(pd.concat(others), geometry="geometry",
                                                                  crs=zoning.crs)
    rp = plan_types(frame) == RP  # in force or not: business_areas decides (a superset does no harm)
    frame = frame[rp]
    if len(frame) == 0:
        return None
    geoms = np.asarray(frame.geometry.array, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    frame, geoms = frame[ok], geoms[ok]
    zones = np.asarray(zoning.geometry.array, dtype=object)
    zones = zones[~(shapely.is_missing(zones) | shapely.is_empty(zones))]
    if len(frame) == 0 or len(zones) == 0:
        return None
    hit, _ = shapely.STRtree(zones).query(geoms)  # envelope test: a superset of the zones that overlap
    frame = frame.iloc[np.unique(hit)].copy()
    if len(frame) == 0:
        return None
    if len(task.zoning) == 1:
        return frame  # fids: no clash with the partition's own ids
    frame.index = pd.Index(-np.arange(1, len(frame) + 1), name="fid")  # never a real zone id (dropped after)
    return frame


def _with_context(zoning: gpd.GeoDataFrame, context: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The partition's zones plus the context zones that are in-force reguleringsplan, in id order."""
    joined = pd.concat([zoning, context])
    out = gpd.GeoDataFrame(joined, geometry=zoning.geometry.name, crs=zoning.crs).sort_index(kind="stable")
    out.index.name = "fid"
    return out


def _read_constraints(store: Store, task: PartitionTask, box: Box,
                      zoning: gpd.GeoDataFrame) -> dict[str, ConstraintLayer]:
    """Constraint layers within ``box`` (coverage layers whole; municipalities whole when needed)."""
    wanted = set(normalised_knr(zoning["kommunenummer"])) - {None} if "kommunenummer" in zoning else set()
    layers: dict[str, ConstraintLayer] = {}
    for r in task.constraints:
        whole = r.kind == LayerKind.coverage
        frame = read_box(store, r.current, None if whole else box)
        if r.kind == LayerKind.municipality and not whole and r.current.feature_count:
            have = set(normalised_knr(frame["kommunenummer"])) if "kommunenummer" in frame else set()
            if len(frame) == 0 or not wanted <= have:
                frame = store.read_frame(r.current)
        layers[r.id] = ConstraintLayer(r.id, r.kind, frame, version=r.current.version)
    return layers


# ------------------------------------------------------------------------------------------------- combine


def combine(results: Sequence[PartitionResult], rules: RuleSet) -> ZoneAnalysis:
    """One :class:`ZoneAnalysis` from the partitions' results, in the order one run over everything gives."""
    order = {rule.id: i for i, rule in enumerate(rules.active_rules)}
    findings = pd.concat([r.findings for r in results], ignore_index=True) if results else pd.DataFrame()
    if len(findings):
        keys = np.lexsort((findings["zone_id"].to_numpy(), findings["rule_id"].map(order).to_numpy()))
        findings = findings.iloc[keys].reset_index(drop=True)
    risk = _concat_by_zone([r.risk for r in results])
    business = _concat_by_zone([r.business for r in results])
    provenance = dict(results[0].provenance) if results else {}
    repaired: set[tuple[str, object]] = set().union(*(r.repaired for r in results)) if results else set()
    counts: dict[str, int] = {}
    for layer_id, _ in repaired:
        counts[layer_id] = counts.get(layer_id, 0) + 1
    provenance["repaired_geometries"] = counts
    for frame in (findings, risk, business):
        frame.attrs["provenance"] = provenance
    reserve = land_reserve(business)
    return ZoneAnalysis(findings, risk, business, reserve, provenance)


def _concat_by_zone(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)] or frames[:1]
    if not frames:
        return gpd.GeoDataFrame()
    joined = pd.concat(frames, ignore_index=True)
    out = gpd.GeoDataFrame(joined, geometry="geometry", crs=frames[0].crs)
    return out.sort_values("zone_id", kind="stable").reset_index(drop=True)
