"""The planner map's data: risk zones with compact findings, constraint zones per rule, and the layers as
compact GeoJSON text, built once per published version and shared by every page and request.

The served planner page is a light shell: its heavy layers (6 748 risk zones with their findings, the
constraint belts) are fetched by the browser after the first paint from ``/maps/planner/data/{group}``, by a
URL that names the data version (:func:`data_token`), so a browser may keep them until the next publish.
:func:`planner_data` keeps the last few versions per store and builds each once, even under concurrent
requests; :func:`warm` builds them in the background (at start and after a refresh).

* **Risk zones** come from the derived ``objection-risk`` collection; findings travel as compact rows (rule,
  risk, overlap, distance, zone width, source, outcome, share, proximity) and the rule texts once per page.
* **Constraint zones** are drawn from the rules (rules are data): every active rule with a zone width gets
  its buffer around the features it selects, per municipality with that municipality's own width
  (``municipality_overrides``) clipped to the municipality, exactly the distance the analysis used there.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from constraints.formal import column, in_group
from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer
from constraints.publish import OBJECTION_RISK, Inputs, current_inputs
from constraints.rules import Rule, RuleSet
from layers.codes import arealformal_name
from layers.crs import WORKING_EPSG
from layers.kinds import LayerKind
from layers.store import Store
from maps.geodata import feature_collection, records
from maps.page import municipalities, read_optional, versions_key
from maps.site_texts import outcome_of
from maps.styles import RISK_ORDER

log = logging.getLogger("maps.planner")

RISK_COLUMNS = ("risk", "arealformal", "formal_name", "plantype", "planid", "planstatus", "kommunenummer",
                "kommunenavn", "area_daa", "business", "findings")
ZONE_SIMPLIFY_M = 4.0  # belts are ≥ 5 m wide; 4 m is below a pixel until zoom 15
RISK_SIMPLIFY_M = 1.0  # a zone picked from the map is checked with this outline: keep it within 0.1 % of its area
ZONE_COLUMNS = ("rule_id", "theme", "zone_m", "source", "kommunenummer", "kommunenavn")
RISK_GROUP = "risk"
"""The data group of the four risk classes (one document: ``{"risk-RED": FeatureCollection, …}``)."""


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, (str, bytes)) and value:
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
        return parsed if isinstance(parsed, list) else []
    return []


def _num(value: Any, digits: int) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


_RANK = {r: i for i, r in enumerate(RISK_ORDER)}


def _rank(row: list[Any]) -> int:
    return _RANK.get(row[1], 9)


def compact_findings(findings: list[dict[str, Any]]) -> list[list[Any]]:
    """Findings as ``[rule_id, risk, overlap_daa, distance_m, zone_m, zone_m_source, outcome, share,
    proximity_m]`` rows, worst first (the popup picks the sentence true for the outcome from the page context)."""
    num = _num
    rows = [[f.get("rule_id"), f.get("risk"), num(f.get("overlap_daa"), 2), num(f.get("distance_m"), 0),
             num(f.get("zone_m"), 0), f.get("zone_m_source"), outcome_of(f), num(f.get("zone_share"), 4),
             num(f.get("proximity_m"), 0)] for f in findings]
    rows.sort(key=_rank)
    return rows


def risk_zones(store: Store, rules: RuleSet | None = None) -> gpd.GeoDataFrame | None:
    """The ``objection-risk`` collection with display columns (:data:`RISK_COLUMNS`); ``None`` if not computed.

    ``business`` marks zones whose arealformål is business land under ``rules`` (the "only business" filter)."""
    found = read_optional(store, OBJECTION_RISK)
    if found is None:
        return None
    _, frame = found
    out = frame.copy()
    out["risk"] = out["objection_risk"].astype(str)
    business = np.zeros(len(out), dtype=bool)
    if rules is not None:
        for group in rules.business.formal_groups:
            business |= in_group(out, rules.formal_groups[group])
    out["business"] = business
    out["planstatus"] = [int(v) if pd.notna(v) else None for v in column(out, "planstatus")]
    out["formal_name"] = [arealformal_name(int(c)) if pd.notna(c) else None for c in out["arealformal"]]
    kommuner = municipalities(store)
    names: dict[str, str] = {}
    if kommuner is not None and {"kommunenummer", "kommunenavn"} <= set(kommuner.columns):
        names = dict(zip(kommuner["kommunenummer"].astype(str), kommuner["kommunenavn"].astype(str), strict=False))
    out["kommunenavn"] = out["kommunenummer"].map(lambda k: names.get(str(k)) if pd.notna(k) else None)
    raw = [_json_list(v) for v in out["findings"].tolist()] if "findings" in out.columns else [[]] * len(out)
    out["findings_raw"] = raw
    out["findings"] = [compact_findings(v) for v in raw]
    return out


@dataclass(frozen=True)
class ConstraintZones:
    """The zone of one rule: polygons per municipality (``ZONE_COLUMNS``) and the features it is drawn around."""

    rule: Rule
    zones: gpd.GeoDataFrame
    features: np.ndarray


@dataclass(frozen=True)
class ZoneSpec:
    """What the page says about a rule's constraint zone without drawing it: its widths and whether a
    municipality set its own (the zone itself is fetched when the layer is switched on)."""

    rule: Rule
    widths: tuple[float, ...]
    own: bool


def zone_specs(store: Store, rules: RuleSet, kommunenummer: list[str]) -> list[ZoneSpec]:
    """Every active rule with a zone width and an input layer to draw it around, with the widths in use in
    these municipalities (rules are data: no geometry is read)."""
    inputs = current_inputs(store).constraints
    out = []
    for rule in _zone_rules(rules):
        if not any(r.kind == rule.kind and (rule.layer_ids is None or r.id in rule.layer_ids) for r in inputs):
            continue
        found = [rule.distances_for(k) for k in (kommunenummer or [None])]  # type: ignore[list-item]
        widths = tuple(sorted({z for z, _, _ in found if z > 0}))
        if widths:
            out.append(ZoneSpec(rule, widths, any(src != "default" for z, _, src in found if z > 0)))
    return out


def _zone_rules(rules: RuleSet) -> list[Rule]:
    return [r for r in rules.active_rules
            if r.zone_m > 0 or any((o.zone_m or 0) > 0 for o in r.municipality_overrides.values())]


class _BufferUnion:
    """The union of the features buffered by a width, computed once per width."""

    def __init__(self, geoms: np.ndarray) -> None:
        self.geoms = geoms
        self._unions: dict[float, Any] = {}

    def __call__(self, width: float) -> Any:
        if width not in self._unions:
            self._unions[width] = shapely.union_all(shapely.buffer(self.geoms, width, quad_segs=4))
        return self._unions[width]


class _PerStore:
    """The last ``keep`` values per store (held weakly), by key; each built once at a time (single flight)."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._values: weakref.WeakKeyDictionary[Any, OrderedDict[Any, Any]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._building: dict[tuple[int, Any], threading.Lock] = {}

    def get(self, store: Store, key: Any, build: Callable[[], Any]) -> Any:
        """The value for ``key``: kept, or built by ``build`` (others asking meanwhile wait for it)."""
        with self._lock:
            cache = self._values.setdefault(store, OrderedDict())
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
            build_lock = self._building.setdefault((id(store), key), threading.Lock())
        with build_lock:
            with self._lock:
                if key in cache:
                    return cache[key]
            value = build()
            with self._lock:
                cache[key] = value
                while len(cache) > self._keep:
                    cache.popitem(last=False)
                self._building.pop((id(store), key), None)
            return value


_ZONES = _PerStore(keep=4)


def constraint_zones(store: Store, rules: RuleSet) -> list[ConstraintZones]:
    """Buffers of every rule with a zone width, per municipality (see the module docstring).

    The last few results are kept per store (weakly), input versions and rule set: both languages of a
    page and every rebuild until the next publish reuse them (the unions are the expensive part).
    """
    inputs = current_inputs(store)
    key = (tuple(sorted(inputs.versions().items())), rules.hash())
    zones: list[ConstraintZones] = _ZONES.get(store, key, lambda: _constraint_zones(store, rules, inputs))
    return zones


def _constraint_zones(store: Store, rules: RuleSet, inputs: Inputs) -> list[ConstraintZones]:
    zone_rules = _zone_rules(rules)
    kinds = {r.kind for r in zone_rules} | {LayerKind.municipality}
    layers = {r.id: ConstraintLayer(r.id, r.kind, store.read_frame(r.current), version=r.current.version)
              for r in inputs.constraints if r.kind in kinds}
    if not any(layer.kind != LayerKind.municipality for layer in layers.values()):
        return []
    index = ConstraintIndex(layers, rules)
    muni = index.municipalities
    out: list[ConstraintZones] = []
    for rule in zone_rules:
        target = index.target(rule.id)
        if len(target) == 0:
            continue
        rows: list[dict[str, Any]] = []
        geoms: list[Any] = []
        union_at = _BufferUnion(target.geoms)
        if muni is None or len(muni.geoms) == 0:
            zone_m, _, source = rule.distances_for(None)
            if zone_m > 0:
                geoms.append(union_at(zone_m))
                rows.append({"rule_id": rule.id, "theme": rule.theme, "zone_m": zone_m, "source": source,
                             "kommunenummer": None, "kommunenavn": None})
        else:
            for polygon, knr, name in zip(muni.geoms, muni.kommunenummer, muni.kommunenavn, strict=True):
                zone_m, _, source = rule.distances_for(knr)
                if zone_m <= 0:
                    continue
                part = shapely.intersection(union_at(zone_m), polygon)
                if part.is_empty:
                    continue
                geoms.append(part)
                rows.append({"rule_id": rule.id, "theme": rule.theme, "zone_m": zone_m, "source": source,
                             "kommunenummer": knr, "kommunenavn": name})
        frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=list(ZONE_COLUMNS)),
                                 geometry=np.array(geoms, dtype=object), crs=f"EPSG:{WORKING_EPSG}")
        out.append(ConstraintZones(rule, frame, target.geoms))
    return out


def rule_records(risk: pd.DataFrame | None, rules: RuleSet | None) -> dict[str, dict[str, Any]]:
    """Per rule id: theme, authority, legal basis and the rule's general explanation (both languages) from the
    rule set; a rule known only from the findings (since removed from the rules) is described by its first
    finding. (A finding's own explanation is its sentence with that zone's numbers: never shared between zones.)"""
    out: dict[str, dict[str, Any]] = {}
    if rules is not None:
        for rule in rules.rules:
            out[rule.id] = {"theme": rule.theme, "authority": rule.authority, "legal_basis": rule.legal_basis,
                            "explanation_nb": rule.explanation_nb, "explanation_en": rule.explanation_en}
    if risk is not None and "findings_raw" in risk.columns:
        seen: set[str] = set()
        for found in risk["findings_raw"].tolist():
            for f in found:
                rid = f.get("rule_id")
                if rid in seen or rid is None or rid in out:
                    continue
                seen.add(rid)
                out[rid] = {"theme": f.get("theme"), "authority": f.get("authority"),
                            "legal_basis": f.get("legal_basis"), "explanation_nb": f.get("explanation_nb"),
                            "explanation_en": f.get("explanation_en")}
    return out


def risk_layers_json(zones: gpd.GeoDataFrame) -> dict[str, str]:
    """Each risk class as a FeatureCollection (text), worst class first."""
    zones = zones.assign(area_daa=zones["area_daa"].round(2))
    parts: dict[str, str] = {}
    for risk in RISK_ORDER:
        subset = zones[zones["risk"] == risk]
        props = records(subset, RISK_COLUMNS)
        ids = subset["zone_id"].tolist() if "zone_id" in subset.columns else None
        parts[risk] = feature_collection(subset.geometry.values, props, ids=ids, simplify_m=RISK_SIMPLIFY_M,
                                         columns=[c for c in RISK_COLUMNS if c in subset.columns])
    return parts


def zone_layer_json(cz: ConstraintZones) -> str:
    """One rule's constraint zone (per municipality) as a FeatureCollection."""
    return feature_collection(cz.zones.geometry.values, records(cz.zones, ZONE_COLUMNS),
                              simplify_m=min(ZONE_SIMPLIFY_M, float(cz.zones["zone_m"].min()) / 2))


def feature_points_json(cz: ConstraintZones) -> str:
    """The features a zone is drawn around, as points (heritage sites: their 5 m zone vanishes at region scale)."""
    points = shapely.point_on_surface(cz.features)
    return feature_collection(points, [{}] * len(points))


@dataclass
class PlannerData:
    """Everything the planner map draws, for one data version (``token``); groups are built on first use."""

    token: str
    counts: dict[str, int]
    rules: dict[str, dict[str, Any]]
    risk_parts: dict[str, str] | None
    zones: Callable[[], list[ConstraintZones]]
    zone_rules: tuple[Rule, ...] = ()
    _groups: dict[str, bytes] = field(default_factory=dict)
    _gzipped: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def computed(self) -> bool:
        """Whether the objection risk has been computed (else the page says so)."""
        return self.risk_parts is not None

    @property
    def risk_text(self) -> str | None:
        """The risk classes as one JSON document ``{"risk-RED": FeatureCollection, …}``."""
        if self.risk_parts is None:
            return None
        return "{" + ",".join(f'"risk-{k}":{v}' for k, v in self.risk_parts.items()) + "}"

    def group_names(self) -> list[str]:
        """Every data group this version can serve (cheap: from the rules, no geometry)."""
        names = [RISK_GROUP] if self.computed else []
        for rule in self.zone_rules:
            names.append(f"zone-{rule.id}")
            if rule.theme == "heritage":
                names.append(f"features-{rule.id}")
        return names

    def group(self, name: str) -> bytes | None:
        """The JSON bytes of one group (``risk``, ``zone-<rule>``, ``features-<rule>``); ``None`` if unknown."""
        with self._lock:
            if name in self._groups:
                return self._groups[name]
            text: str | None = None
            if name not in self.group_names():
                return None
            if name == RISK_GROUP:
                text = self.risk_text
            else:
                kind, _, rule_id = name.partition("-")
                for cz in self.zones():
                    if cz.rule.id == rule_id and kind == "zone":
                        text = zone_layer_json(cz)
                    elif cz.rule.id == rule_id and kind == "features" and cz.rule.theme == "heritage":
                        text = feature_points_json(cz)
            if text is None:
                return None
            self._groups[name] = text.encode("utf-8")
            return self._groups[name]


    def gzipped(self, name: str, compress: Callable[[bytes], bytes]) -> bytes:
        """The group compressed by ``compress`` (once); the group must exist."""
        if name not in self._gzipped:
            raw = self.group(name)
            if raw is None:
                raise KeyError(name)
            self._gzipped[name] = compress(raw)
        return self._gzipped[name]


def data_token(store: Store, rules: RuleSet) -> str:
    """A short name of the data version: every layer version and the rules (changes with every publish)."""
    key = repr((versions_key(store), rules.hash()))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


_DATA = _PerStore(keep=3)


def planner_data(store: Store, rules: RuleSet) -> PlannerData:
    """The planner's data for the store's current versions and ``rules`` (built once; the last few kept)."""
    token = data_token(store, rules)
    data: PlannerData = _DATA.get(store, token, lambda: _build(store, rules, token))
    return data


def _build(store: Store, rules: RuleSet, token: str) -> PlannerData:
    zones = risk_zones(store, rules)
    counts = {} if zones is None else {r: int((zones["risk"] == r).sum()) for r in RISK_ORDER}
    parts = None if zones is None else risk_layers_json(zones)
    return PlannerData(token, counts, rule_records(zones, rules), parts, lambda: constraint_zones(store, rules),
                       tuple(_zone_rules(rules)))


def gzip_bytes(raw: bytes) -> bytes:
    """What the data route sends to clients that accept gzip."""
    return gzip.compress(raw, compresslevel=5)


def warm(store: Store, rules: Callable[[], RuleSet], then: Callable[[], None] | None = None) -> threading.Thread:
    """Build the planner's risk layers (and their gzip) in a background thread, then call ``then`` (the pages,
    the constraint zones); a failure is logged, the first request builds again and reports it."""
    def run() -> None:
        try:
            data = planner_data(store, rules())
            if data.computed:
                data.gzipped(RISK_GROUP, gzip_bytes)
            if then is not None:
                then()
        except Exception:
            log.exception("warming the planner map failed")

    thread = threading.Thread(target=run, name="planner-warm", daemon=True)
    thread.start()
    return thread
