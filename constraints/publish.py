"""Derived collections: run the analysis on the store's current layers and publish the results.

``objection-risk`` (one row per zoning area) and ``business-areas`` (one row per business zone) are
published like any layer, as new versions, with provenance: the input layer versions and the rule-set
hash they were computed from. ``refresh_derived`` recomputes only when an input or the rules changed.

A refresh that fails changes nothing: the last good versions keep serving. :func:`analysis_status` says whether
they are current or *behind* the inputs (and why), for the collection metadata and the pages.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from constraints.analysis import ZoneAnalysis, run_analysis
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer
from constraints.rules import RuleSet
from layers.crs import WORKING_EPSG
from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.locks import held_since, refreshing
from layers.store import GEOMETRIES_VALID, LayerMeta, LayerRecord, Store, VersionRecord

OBJECTION_RISK = "objection-risk"
DERIVED_LOCK = "derived-layers"  # Store.exclusive name held by the one refresh running (layers.locks: since when)
BUSINESS_AREAS = "business-areas"
DERIVED_IDS = (OBJECTION_RISK, BUSINESS_AREAS)
CONSTRAINT_KINDS = (LayerKind.municipality, LayerKind.watercourse, LayerKind.farmland, LayerKind.heritage,
                    LayerKind.flood, LayerKind.road, LayerKind.cultivable_land, LayerKind.flood_awareness,
                    LayerKind.landslide, LayerKind.landslide_awareness, LayerKind.coverage)
INPUT_KINDS = (LayerKind.zoning, *CONSTRAINT_KINDS)
_FINDING_FIELDS = ("rule_id", "theme", "risk", "dok_status", "outcome", "level", "rule_title_nb", "rule_title_en",
                   "text_nb", "text_en", "overlap_m2", "overlap_daa", "zone_share",
                   "distance_m", "zone_m", "proximity_m", "zone_m_source", "coverage", "hit_ids", "authority",
                   "legal_basis", "explanation_nb", "explanation_en")
CONTENT_KEY = "content"  # provenance key of a derived layer's content fingerprint
_refresh_lock = threading.Lock()


@dataclass(frozen=True)
class Inputs:
    """The current input layers of an analysis: zoning and constraints, with their versions."""

    zoning: list[LayerRecord]
    constraints: list[LayerRecord]

    def versions(self) -> dict[str, int]:
        """Layer id -> current version, the key that decides whether derived layers are stale."""
        return {r.id: r.current.version for r in sorted(self.zoning + self.constraints, key=lambda r: r.id)}


def current_inputs(store: Store) -> Inputs:
    """The published layers that feed the analysis (derived layers excluded)."""
    layers = [r for r in store.list_layers() if r.id not in DERIVED_IDS]
    return Inputs([r for r in layers if r.kind == LayerKind.zoning],
                  [r for r in layers if r.kind in CONSTRAINT_KINDS])


def is_stale(store: Store, rules: RuleSet, inputs: Inputs | None = None) -> bool:
    """True when a derived collection is missing or was computed from other inputs or rules."""
    inputs = inputs or current_inputs(store)
    if not inputs.zoning:
        return False
    for layer_id in DERIVED_IDS:
        try:
            provenance = store.get_layer(layer_id).current.provenance
        except LayerNotFound:
            return True
        if provenance.get("inputs") != inputs.versions() or provenance.get("rules_hash") != rules.hash():
            return True
    return False


def refresh_key(inputs: Inputs, rules: RuleSet) -> tuple[object, ...]:
    """What a derived refresh depends on: the input layer versions and the rule-set hash."""
    return (tuple(inputs.versions().items()), rules.hash())


@dataclass(frozen=True)
class RefreshFailure:
    """A derived refresh that failed: for which inputs, why, since when, how often (for backing off)."""

    key: tuple[object, ...]  # refresh_key() of the inputs it failed on
    reason: str
    since: datetime
    attempts: int = 1


@dataclass(frozen=True)
class AnalysisStatus:
    """Whether the derived collections are up to date with their inputs.

    ``status`` is ``current`` (computed from the current inputs and rules), ``behind`` (an input or the rules
    changed since; the previous versions keep serving until a refresh succeeds), ``refreshing`` (behind, and a
    refresh is running now, in this or another process) or ``none`` (nothing to analyse: no zoning layer).
    ``reason`` says why it is behind (the failure, or that a refresh is pending); ``since`` when it fell behind,
    or for ``refreshing`` when the running refresh started (UTC).
    """

    status: Literal["current", "behind", "refreshing", "none"]
    reason: str = ""
    since: datetime | None = None
    failed: bool = False  # a refresh was tried on these inputs and failed (else: pending)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shown as ``analysis`` in the derived collections' metadata."""
        out: dict[str, Any] = {"status": self.status}
        if self.status in ("behind", "refreshing"):
            out |= {"reason": self.reason, "since": self.since.isoformat() if self.since else None,
                    "failed": self.failed, "message_nb": self.text("nb"), "message_en": self.text("en")}
        return out

    def text(self, lang: str = "nb") -> str:
        """One sentence for a page banner ("" when current)."""
        since = f" ({self.since:%Y-%m-%d %H:%M} UTC)" if self.since else ""
        if self.status == "refreshing":
            if lang == "en":
                return (f"The analysis is being recomputed after an input layer changed{since}. "
                        "The previous results are shown until it is done.")
            return (f"Analysen beregnes på nytt etter at et kildelag er endret{since}. "
                    "Forrige resultat vises til den er ferdig.")
        if self.status != "behind":
            return ""
        if lang == "en":
            return (f"The analysis is behind its input layers{since}: {self.reason} "
                    "The previous results are shown until it succeeds.")
        return (f"Analysen er ikke oppdatert med kildelagene{since}: {self.reason} "
                "Forrige resultat vises til ny beregning lykkes.")


PENDING_REASON = "an input layer or the rules changed; the derived collections are being recomputed."
REFRESHING_REASON = "an input layer or the rules changed; a refresh is running now."


def analysis_status(store: Store, rules: RuleSet, failure: RefreshFailure | None = None) -> AnalysisStatus:
    """Current, refreshing or behind, with the reason: ``failure`` is this process's last failed refresh (if any);
    a failure another process recorded for the same inputs counts too."""
    inputs = current_inputs(store)
    if not inputs.zoning:
        return AnalysisStatus("none")
    if not is_stale(store, rules, inputs):
        return AnalysisStatus("current")
    running = held_since(store, DERIVED_LOCK)
    if running is not None:
        return AnalysisStatus("refreshing", REFRESHING_REASON, running)
    if failure is None or failure.key != refresh_key(inputs, rules):  # another process's (constraints.refresh_record)
        from constraints.refresh_record import recorded_failure

        failure = recorded_failure(store, inputs, rules)
    if failure is not None:
        return AnalysisStatus("behind", failure.reason, failure.since, failed=True)
    return AnalysisStatus("behind", PENDING_REASON, _behind_since(store, inputs))


def _behind_since(store: Store, inputs: Inputs) -> datetime | None:
    """When the first input version the derived collections do not reflect was published."""
    try:
        derived = store.get_layer(OBJECTION_RISK).current
    except LayerNotFound:
        return None
    used = derived.provenance.get("inputs", {})
    newer = [r.current.created for r in inputs.zoning + inputs.constraints if used.get(r.id) != r.current.version]
    return min(newer) if newer else derived.created


def failure_reason(exc: BaseException) -> str:
    """One line naming what went wrong in a refresh."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def now_utc() -> datetime:
    """The current time in UTC (timestamps of failures)."""
    return datetime.now(UTC)


def constraint_layers(store: Store, inputs: Inputs) -> dict[str, ConstraintLayer]:
    """Read every constraint layer's current version for the engine."""
    return {r.id: ConstraintLayer(r.id, r.kind, store.read_frame(r.current), version=r.current.version,
                                  valid=r.current.provenance.get(GEOMETRIES_VALID) is True)
            for r in inputs.constraints}


def constraint_index(store: Store, rules: RuleSet, inputs: Inputs | None = None) -> ConstraintIndex:
    """A prebuilt index over the current constraint layers (for many site checks)."""
    return ConstraintIndex(constraint_layers(store, inputs or current_inputs(store)), rules)


def zoning_frame(store: Store, inputs: Inputs) -> gpd.GeoDataFrame:
    """All zoning layers as one frame; zone ids are the fid when there is one zoning layer."""
    frames = []
    for record in inputs.zoning:
        frame = store.read_frame(record.current)
        frame["source_layer"] = record.id
        frame["source_fid"] = frame.index.to_numpy()
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    joined = pd.concat(frames, ignore_index=True)
    joined.index = pd.RangeIndex(1, len(joined) + 1, name="fid")
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=f"EPSG:{WORKING_EPSG}")


def analyse_store(store: Store, rules: RuleSet, inputs: Inputs | None = None, *,
                  for_publishing: bool = False) -> ZoneAnalysis:
    """Run the full analysis on the store's current layers.

    ``for_publishing``: only what :func:`publish_analysis` publishes is needed (``published_only``), and the
    frames are converted for storing beside the analysis (``ZoneAnalysis.converted``).
    """
    inputs = inputs or current_inputs(store)
    if not inputs.zoning:
        raise LayerNotFound("no zoning layer is published; add one with "
                            "`geo-service layers add PLAN --id arealplan --kind zoning`")
    constraints = constraint_layers(store, inputs)
    if not for_publishing:
        return run_analysis(zoning_frame(store, inputs), constraints, rules)
    return run_analysis(zoning_frame(store, inputs), constraints, rules, convert=_convert_for_publishing,
                        published_only=True)


def _convert_for_publishing(name: str, frame: gpd.GeoDataFrame, findings: pd.DataFrame) -> tuple[gpd.GeoDataFrame,
                                                                                                   str]:
    """A result frame as :func:`publishable_frames` converts it, with its content fingerprint."""
    out = _storable(_with_findings(frame, findings) if name == OBJECTION_RISK else frame)
    return out, content_fingerprint(out)


def refresh_derived(store: Store, rules: RuleSet, *, force: bool = False) -> list[VersionRecord]:
    """Recompute and publish the derived collections if an input or the rules changed.

    Returns the versions published (empty when everything was up to date or there is no zoning).
    One refresh runs at a time across every process on the store (API workers, replicas, the CLI); the
    staleness check is made inside the lock, so a waiting refresh finds the work done. Each collection is
    published atomically.
    """
    with _refresh_lock, store.exclusive(DERIVED_LOCK), refreshing(store, DERIVED_LOCK):
        inputs = current_inputs(store)
        if not inputs.zoning or not (force or is_stale(store, rules, inputs)):
            return []
        reason = "asked for (--force)" if force else ""
        if not force:  # only the zones the changes can affect (constraints.incremental), when provably exact
            from constraints.incremental import refresh_incremental

            outcome = refresh_incremental(store, rules, inputs)
            if outcome.published is not None:
                return outcome.published
            reason = outcome.full_reason
        result = analyse_store(store, rules, inputs, for_publishing=True)
        result.provenance.update(mode="full", full_reason=reason, recomputed_zones=len(result.objection_risk),
                                 zones=len(result.objection_risk))
        return publish_analysis(store, rules, inputs, result)


def publishable_frames(result: ZoneAnalysis) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """What :func:`publish_analysis` writes: objection risk with each zone's findings folded in, and business
    areas, with lists and dicts as JSON text. Per zone, so parts of a run can be converted apart (on workers)."""
    return _storable(_with_findings(result.objection_risk, result.findings)), _storable(result.business_areas)


def publish_analysis(store: Store, rules: RuleSet, inputs: Inputs, result: ZoneAnalysis) -> list[VersionRecord]:
    """Publish one analysis result as the next versions of ``objection-risk`` and ``business-areas``.

    The caller holds the derived-layers lock (see :func:`refresh_derived`); ``inputs`` are what ``result`` was
    computed from (their versions become the provenance that decides staleness).
    """
    if result.converted is not None:  # converted (and fingerprinted) beside the analysis: see analyse_store
        (risk, risk_content), (business, business_content) = result.converted
        return publish_derived(store, rules, inputs, risk, business, result.provenance,
                               contents=(risk_content, business_content))
    risk, business = publishable_frames(result)
    return publish_derived(store, rules, inputs, risk, business, result.provenance)


def publish_derived(store: Store, rules: RuleSet, inputs: Inputs, risk: gpd.GeoDataFrame,
                    business: gpd.GeoDataFrame, engine: dict[str, Any],
                    contents: tuple[str, str] | None = None) -> list[VersionRecord]:
    """Publish storable ``objection-risk`` and ``business-areas`` frames computed from ``inputs`` and ``rules``
    (``engine``: how, e.g. ``mode`` full/incremental and ``recomputed_zones``; ``contents``: their content
    fingerprints when already computed). The caller holds the lock."""
    provenance: dict[str, Any] = {
        "derived": True,
        "inputs": inputs.versions(),
        "rules_hash": rules.hash(),
        "engine": engine,
    }
    risk_content, business_content = contents or (content_fingerprint(risk), content_fingerprint(business))
    risk_provenance = {**provenance, CONTENT_KEY: risk_content}
    business_provenance = {**provenance, CONTENT_KEY: business_content}
    names = ", ".join(f"{k} v{v}" for k, v in inputs.versions().items())
    published = [
        store.publish(OBJECTION_RISK, risk, LayerMeta(
            kind=LayerKind.other, title="Innsigelsesrisiko per arealformålsområde",
            description=("Derived: objection risk (RED/YELLOW/NOT_MAPPED/GREEN) per zoning area with the "
                         f"findings behind it, computed from {names} and rule set {rules.hash()[:12]}."),
            attribution="Computed by geo-service from the input layers' data", provenance=risk_provenance)),
        store.publish(BUSINESS_AREAS, business, LayerMeta(
            kind=LayerKind.other, title="Næringsarealer – status og netto tilgjengelig areal",
            description=("Derived: business areas (pre-approved / reserve / conflict) with net available "
                         f"area in daa, computed from {names} and rule set {rules.hash()[:12]}."),
            attribution="Computed by geo-service from the input layers' data", provenance=business_provenance)),
    ]
    return published


def content_fingerprint(frame: gpd.GeoDataFrame) -> str:
    """A hash of a frame's content (column names, feature ids, values, geometries as WKB).

    Stored in a derived layer's provenance (``content``), so what reads it (the site register) can tell a new
    version with the same content from a change, and skip recomputing.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    values = frame.drop(columns=frame.geometry.name)
    # categorize=False: the same hashes without factorizing first (the findings text is ~40 MB of distinct values)
    digest.update(pd.util.hash_pandas_object(values, index=True, categorize=False).to_numpy().tobytes())
    for wkb in shapely.to_wkb(frame.geometry.array):
        digest.update(b"\0" if wkb is None else wkb)
    return digest.hexdigest()


def _with_findings(risk: gpd.GeoDataFrame, findings: pd.DataFrame) -> gpd.GeoDataFrame:
    """Add a ``findings`` column: the zone's findings (risk, authority, legal basis …) as a JSON list of objects.

    The text is written here, compact, by orjson (tens of MB for a region: the stdlib encoder took a second);
    NaN becomes null. Readers parse it (``json.loads``), as they parse the other list columns.
    """
    out = risk.copy()
    cols = [c for c in _FINDING_FIELDS if c in findings.columns]
    keep = findings["risk"] != "GREEN" if "risk" in findings else np.ones(len(findings), dtype=bool)
    if "outcome" in findings:
        keep |= findings["outcome"] == "exempt"  # why a zone near a constraint is not flagged
    relevant = findings[keep]
    values = relevant[cols]
    values = values.astype(object).where(values.notna(), None)  # NaN -> None here: plain JSON values below
    records = [dict(zip(cols, row, strict=True)) for row in zip(*(values[c].tolist() for c in cols), strict=True)]
    zone_ids = relevant["zone_id"].to_numpy()
    order = np.argsort(zone_ids, kind="stable")  # a zone's findings keep their order (rule order)
    keys, starts = np.unique(zone_ids[order], return_index=True)
    ends = np.r_[starts[1:], len(order)] if len(starts) else starts  # no zone with a finding kept: none
    text = {key: _dumps_findings([records[i] for i in order[a:b]])
            for key, a, b in zip(keys.tolist(), starts.tolist(), ends.tolist(), strict=True)}
    out["findings"] = [text.get(z, "[]") for z in out["zone_id"].tolist()]
    return out


def _dumps_findings(records: list[dict[str, Any]]) -> str:
    """One zone's findings as compact JSON text (values orjson cannot write take ``_dumps``)."""
    try:
        return orjson.dumps(records, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError:  # orjson.JSONEncodeError: e.g. a non-string key
        return _dumps(records)


def _storable(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lists and dicts as JSON text, so any store (GeoPackage, PostGIS) and any client can hold them."""
    out = frame.copy()
    for col in out.columns:
        if col == out.geometry.name or out[col].dtype != object:
            continue
        values = out[col].to_numpy()
        if any(isinstance(v, (list, dict, tuple, np.ndarray)) for v in values):
            out[col] = _dumps_column(values)
    return out


def _dumps_column(values: np.ndarray) -> list[str]:
    """``[_dumps(v) for v in values]``, each distinct list of strings encoded once (rule ids, authorities …)."""
    done: dict[tuple[str, ...], str] = {}
    out = []
    for v in values:
        if type(v) is list and all(type(x) is str for x in v):
            key = tuple(v)
            text = done.get(key)
            if text is None:
                text = done[key] = _dumps(v)
            out.append(text)
        else:
            out.append(_dumps(v))
    return out


def _dumps(value: Any) -> str:
    """``json.dumps(_plain(value))``, without walking ``value`` in Python when it is plain already."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, default=_json_default)
    except (TypeError, ValueError):  # NaN somewhere, or a non-string key: the full conversion
        return json.dumps(_plain(value), ensure_ascii=False)


def _json_default(value: Any) -> Any:
    """What ``_plain`` makes of the numpy and pandas values ``json`` cannot write (NaN: raise, see ``_dumps``)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA:
        return None
    raise TypeError(type(value).__name__)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA:
        return None
    return value
