"""The planner map: objection risk per zoning area, the constraint zones behind it, and why.

* **Risk zones** come from the derived ``objection-risk`` collection, one layer per class (RED, YELLOW,
  not mapped, GREEN) so each can be switched on and off; a popup lists every finding with its authority and
  legal basis. Findings travel as compact rows (rule, risk, overlap, distance, zone width, source) and the
  rule texts once per page, so 6 748 zones stay a few megabytes of inline GeoJSON.
* **Constraint zones** are drawn from the rules (rules are data): every active rule with a zone width gets
  its buffer around the features it selects, per municipality with that municipality's own width
  (``municipality_overrides``, e.g. the watercourse belt it set in its master plan) clipped to the
  municipality, exactly the distance the analysis used for zones there. Heritage sites are drawn as points
  too (their 5 m safety zone is invisible at region scale).
* **Feature rules without a zone** (farmland: the AR5 polygons themselves) are vector tiles from the service,
  filtered to the selected codes; a standalone export leaves them out and says so in the legend.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
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
from maps.elements import GeoJsonLayer, VectorTileLayer
from maps.geodata import feature_collection, records
from maps.i18n import MESSAGES, Lang, format_number, t
from maps.page import (
    PageOptions,
    decorate,
    is_synthetic,
    municipalities,
    new_map,
    read_optional,
    region_bounds,
)
from maps.site_texts import outcome_of, pick, rule_title
from maps.site_texts import texts as site_texts
from maps.styles import (
    HERITAGE_POINT_STYLE,
    MUNICIPALITY_STYLE,
    RISK_COLOUR,
    RISK_ORDER,
    ZONE_COLOUR,
    Legend,
    LegendEntry,
    risk_style,
    zone_style,
)
from maps.workspace import add_panel

RISK_COLUMNS = ("risk", "arealformal", "formal_name", "plantype", "planid", "planstatus", "kommunenummer",
                "kommunenavn", "area_daa", "business", "findings")
ZONE_SIMPLIFY_M = 4.0  # belts are ≥ 5 m wide; 4 m is below a pixel until zoom 15
ZONE_COLUMNS = ("rule_id", "theme", "zone_m", "source", "kommunenummer", "kommunenavn")


def _json_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return []
        return parsed if isinstance(parsed, list) else []
    return []


def _num(value: Any, digits: int) -> float | None:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None
    return round(float(value), digits)


def compact_findings(findings: list[dict[str, Any]]) -> list[list[Any]]:
    """Findings as ``[rule_id, risk, overlap_daa, distance_m, zone_m, zone_m_source, outcome, share,
    proximity_m]`` rows, worst first (the popup picks the sentence true for the outcome from the page context)."""
    rank = {r: i for i, r in enumerate(RISK_ORDER)}
    rows = [[f.get("rule_id"), f.get("risk"), _num(f.get("overlap_daa"), 2), _num(f.get("distance_m"), 0),
             _num(f.get("zone_m"), 0), f.get("zone_m_source"), outcome_of(f), _num(f.get("zone_share"), 4),
             _num(f.get("proximity_m"), 0)] for f in findings]
    return sorted(rows, key=lambda r: rank.get(r[1], 9))


def rule_texts(risk: pd.DataFrame, rules: RuleSet | None, lang: Lang) -> dict[str, dict[str, Any]]:
    """Per rule id: theme, authority, legal basis and explanation, as the findings recorded them (the rule set
    fills in rules that have no finding)."""
    out: dict[str, dict[str, Any]] = {}
    if rules is not None:
        for rule in rules.rules:
            out[rule.id] = {"theme": rule.theme, "authority": rule.authority, "legal_basis": rule.legal_basis,
                            "explanation": rule.explanation_nb if lang == "nb" else rule.explanation_en}
    if "findings" in risk.columns:
        seen: set[str] = set()
        for text in risk["findings"].tolist():
            for f in _json_list(text):
                rid = f.get("rule_id")
                if rid in seen or rid is None:
                    continue
                seen.add(rid)
                out[rid] = {"theme": f.get("theme"), "authority": f.get("authority"),
                            "legal_basis": f.get("legal_basis"),
                            "explanation": f.get("explanation_nb" if lang == "nb" else "explanation_en")}
    sentences = site_texts()
    for rid, entry in out.items():
        theme = str(entry.get("theme"))
        entry["title"] = rule_title(rid, lang)
        entry["statements"] = {o: pick(v, lang) for o, v in sentences["statements"].get(theme, {}).items()}
        entry["next"] = {o: pick(v, lang) for o, v in sentences["next_steps"].get(theme, {}).items()}
    return out


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
    raw = out["findings"].tolist() if "findings" in out.columns else [[]] * len(out)
    out["findings_raw"] = raw
    out["findings"] = [compact_findings(_json_list(v)) for v in raw]
    return out


@dataclass(frozen=True)
class ConstraintZones:
    """The zone of one rule: polygons per municipality (``ZONE_COLUMNS``) and the features it is drawn around."""

    rule: Rule
    zones: gpd.GeoDataFrame
    features: np.ndarray


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


_ZONES_CACHE: weakref.WeakKeyDictionary[Any, OrderedDict[tuple[Any, ...], list[ConstraintZones]]] = (
    weakref.WeakKeyDictionary())
_ZONES_LOCK = threading.Lock()


def constraint_zones(store: Store, rules: RuleSet) -> list[ConstraintZones]:
    """Buffers of every rule with a zone width, per municipality (see the module docstring).

    The last few results are kept per store (weakly), input versions and rule set: both languages of a
    page and every rebuild until the next publish reuse them (the unions are the expensive part).
    """
    inputs = current_inputs(store)
    key = (tuple(sorted(inputs.versions().items())), rules.hash())
    with _ZONES_LOCK:
        cache = _ZONES_CACHE.setdefault(store, OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    zones = _constraint_zones(store, rules, inputs)
    with _ZONES_LOCK:
        cache[key] = zones
        while len(cache) > 4:
            cache.popitem(last=False)
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


def _zone_label(cz: ConstraintZones, lang: Lang) -> str:
    widths = sorted(set(cz.zones["zone_m"].tolist()))
    own = any(s != "default" for s in cz.zones["source"].tolist())
    width = "/".join(format_number(w, 0, lang) for w in widths) + " " + t("unit.m", lang)
    suffix = f", {t('legend.belt_own', lang)}" if own else ""
    key = f"zone.{cz.rule.id}"
    return f"{t(key, lang) if key in MESSAGES else cz.rule.id} – {width}{suffix}"

_SHOWN_THEMES = ("watercourse", "heritage", "farmland", "flood")  # roads start hidden: they are YELLOW at most


def planner_map(store: Store, rules: RuleSet, options: PageOptions) -> folium.Map:
    """Build the planner map (see the module docstring)."""
    lang = options.lang
    m = new_map(region_bounds(store), options)
    banners: list[str] = []
    notes: list[str] = [t("synthetic", lang)] if is_synthetic(store.list_layers()) else []

    kommuner = municipalities(store)
    if kommuner is not None:
        m.add_child(GeoJsonLayer("municipalities", t("layer.municipalities", lang),
                                 feature_collection(kommuner.geometry.values,
                                                    records(kommuner, ("kommunenummer", "kommunenavn")),
                                                    simplify_m=20.0),
                                 style={**MUNICIPALITY_STYLE, "fill": False}, label="kommunenavn"))

    # Farmland and other feature-only rules: vector tiles, below the zones.
    constraint_entries: list[LegendEntry] = []
    tile_rules = [r for r in rules.active_rules if r.zone_m == 0]
    for rule in tile_rules:
        for record in [r for r in current_inputs(store).constraints if r.kind == rule.kind
                       and (rule.layer_ids is None or r.id in rule.layer_ids)]:
            if options.standalone:
                notes.append(t("export.tiles_omitted", lang))
                continue
            only = None
            if len(rule.select) == 1:
                attr, values = next(iter(rule.select.items()))
                if "*" not in values:
                    only = (attr, list(values))
            props = ",".join(rule.select) if rule.select else ""
            url = f"{options.tiles_url}/collections/{record.id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
            url += f"?properties={props}"
            name = t("layer.farmland", lang) if rule.theme == "farmland" else record.title
            m.add_child(VectorTileLayer(f"tiles-{record.id}", name, url, record.id,
                                        style=zone_style(rule.theme) | {"fillOpacity": 0.45, "weight": 0.5},
                                        only=only, show=rule.theme in _SHOWN_THEMES,
                                        attribution=record.attribution))
            constraint_entries.append(LegendEntry(name, ZONE_COLOUR.get(rule.theme, "#636363")))

    # Constraint zones under the risk zones (translucent), heritage sites as points.
    for cz in constraint_zones(store, rules):
        label = _zone_label(cz, lang)
        m.add_child(GeoJsonLayer(f"zone-{cz.rule.id}", label,
                                 feature_collection(cz.zones.geometry.values, records(cz.zones, ZONE_COLUMNS),
                                                    simplify_m=min(ZONE_SIMPLIFY_M, cz.zones["zone_m"].min() / 2)),
                                 style=zone_style(cz.rule.theme, cz.rule.id), popup="zone",
                                 show=cz.rule.theme in _SHOWN_THEMES))
        constraint_entries.append(LegendEntry(label, zone_style(cz.rule.theme, cz.rule.id)["fillColor"]))
        if cz.rule.theme == "heritage":
            points = shapely.point_on_surface(cz.features)
            m.add_child(GeoJsonLayer(f"features-{cz.rule.id}", t("theme.heritage", lang),
                                     feature_collection(points, [{}] * len(points)),
                                     style=HERITAGE_POINT_STYLE, show=True))
            constraint_entries.append(LegendEntry(t("theme.heritage", lang), HERITAGE_POINT_STYLE["fillColor"],
                                                  "circle", count=len(points)))

    # Risk zones, GREEN at the bottom and RED on top.
    zones = risk_zones(store, rules)
    risk_entries: list[LegendEntry] = []
    texts: dict[str, dict[str, Any]] = {}
    if zones is None:
        banners.append(t("missing.risk", lang))
    else:
        texts = rule_texts(zones.assign(findings=zones["findings_raw"]), rules, lang)
        for risk in reversed(RISK_ORDER):
            subset = zones[zones["risk"] == risk]
            props = records(subset, RISK_COLUMNS)
            for p in props:
                p["area_daa"] = round(p["area_daa"], 2) if isinstance(p.get("area_daa"), float) else p.get("area_daa")
            ids = subset["zone_id"].tolist() if "zone_id" in subset.columns else None
            m.add_child(GeoJsonLayer(f"risk-{risk}", t(f"layer.risk.{risk}", lang),
                                     feature_collection(subset.geometry.values, props, ids=ids, simplify_m=1.0),
                                     style=risk_style(risk), popup="risk"))
        for risk in RISK_ORDER:
            n = int((zones["risk"] == risk).sum())
            risk_entries.append(LegendEntry(t(f"risk.{risk}", lang), RISK_COLOUR[risk], count=n))

    legends = [Legend(t("legend.title.planner", lang), tuple(risk_entries))] if risk_entries else []
    if constraint_entries:
        legends.append(Legend(t("legend.title.constraints", lang), tuple(constraint_entries)))
    decorate(m, options, title=t("planner.title", lang), subtitle=t("planner.subtitle", lang), legends=legends,
             notes=list(dict.fromkeys(notes)), banners=banners, context={"rules": texts},
             label_prefixes=("popup.", "risk.", "theme.", "unit.", "legend.belt", "zone."))
    if not options.standalone:
        add_panel(m.get_root(), lang, options.tiles_url or "")
    return m
