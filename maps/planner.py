"""The planner map page: objection risk per zoning area, the constraint zones behind it, and why.

A served page is a light shell (title, legend, layer switcher, the workspace panel and the rule texts): its
heavy layers are fetched after the first paint from ``/maps/planner/data/{group}`` (``maps.planner_data``
builds them once per published version); a standalone export carries the same data inline.

* **Risk zones**, one layer per class (RED, YELLOW, not mapped, GREEN), solid fills at region scale, so a plan
  drawn over another hides it rather than mixing into mud; from :data:`~maps.styles.DETAIL_ZOOM` on, outlines
  with a light fill over the basemap. The popup lists every finding with its authority, legal basis and plan
  status.
* **Constraint zones** (watercourse belt per municipality, heritage safety zone, road building limits) and
  **constraint features** (farmland from vector tiles, heritage sites as points) are off by default and drawn
  as outlines: switch them on in the layer switcher (they are fetched then).
* The **legend** lists what is drawn: a row per layer that is on, its swatch in the layer's drawn style.
"""

from __future__ import annotations

import html
from typing import Any

import folium
from branca.element import Element

from constraints.publish import current_inputs
from constraints.rules import RuleSet
from layers.store import Store
from maps.elements import GeoJsonLayer, RemoteGeoJsonLayer, VectorTileLayer
from maps.geodata import feature_collection, records
from maps.i18n import MESSAGES, Lang, format_number, t
from maps.page import (
    PageOptions,
    decorate,
    is_synthetic,
    municipalities,
    new_map,
    region_bounds,
)
from maps.planner_data import (
    RISK_COLUMNS,
    RISK_GROUP,
    ZONE_COLUMNS,
    ConstraintZones,
    PlannerData,
    ZoneSpec,
    compact_findings,
    constraint_zones,
    feature_points_json,
    planner_data,
    risk_zones,
    zone_layer_json,
    zone_specs,
)
from maps.site_texts import pick, rule_title
from maps.site_texts import texts as site_texts
from maps.styles import (
    DETAIL_ZOOM,
    HERITAGE_POINT_STYLE,
    MUNICIPALITY_STYLE,
    RISK_ORDER,
    Legend,
    LegendEntry,
    feature_style,
    risk_detail_style,
    risk_style,
    zone_style,
)
from maps.workspace import add_panel

__all__ = ["RISK_COLUMNS", "ZONE_COLUMNS", "ConstraintZones", "compact_findings", "constraint_zones",
           "planner_map", "risk_zones", "rule_texts"]


def rule_texts(data: PlannerData, lang: Lang) -> dict[str, dict[str, Any]]:
    """Per rule id, for the popups: theme, authority, legal basis, explanation, title and the sentence and next
    step of each outcome, in ``lang``."""
    sentences = site_texts()
    out: dict[str, dict[str, Any]] = {}
    for rid, record in data.rules.items():
        theme = str(record.get("theme"))
        out[rid] = {"theme": record.get("theme"), "authority": record.get("authority"),
                    "legal_basis": record.get("legal_basis"), "explanation": record.get(f"explanation_{lang}"),
                    "title": rule_title(rid, lang),
                    "statements": {o: pick(v, lang) for o, v in sentences["statements"].get(theme, {}).items()},
                    "next": {o: pick(v, lang) for o, v in sentences["next_steps"].get(theme, {}).items()}}
    return out


def _zone_label(spec: ZoneSpec, lang: Lang) -> str:
    width = "/".join(format_number(w, 0, lang) for w in spec.widths) + " " + t("unit.m", lang)
    suffix = f", {t('legend.belt_own', lang)}" if spec.own else ""
    return f"{_zone_name(spec.rule.id, lang)} – {width}{suffix}"


def _zone_name(rule_id: str, lang: Lang) -> str:
    """The zone's name (ours, else the rule's title from the rule set, never its id)."""
    key = f"zone.{rule_id}"
    return t(key, lang) if key in MESSAGES else rule_title(rule_id, lang)


def _zone_layer(data: PlannerData, rule_id: str, points: bool) -> str:
    """A zone (or its features as points) for a standalone page, inline."""
    for cz in data.zones():
        if cz.rule.id == rule_id:
            return feature_points_json(cz) if points else zone_layer_json(cz)
    return '{"type":"FeatureCollection","features":[]}'


def _data_url(options: PageOptions, data: PlannerData, group: str) -> str:
    return f"{(options.tiles_url or '').rstrip('/')}/maps/planner/data/{group}?v={data.token}"


def planner_map(store: Store, rules: RuleSet, options: PageOptions) -> folium.Map:
    """Build the planner map (see the module docstring)."""
    lang = options.lang
    data = planner_data(store, rules)
    m = new_map(region_bounds(store), options)
    banners: list[str] = []
    notes: list[str] = [t("synthetic", lang)] if is_synthetic(store.list_layers()) else []
    base_entries: list[LegendEntry] = []

    kommuner = municipalities(store)
    if kommuner is not None:
        style = {**MUNICIPALITY_STYLE, "fill": False}
        m.add_child(GeoJsonLayer("municipalities", t("layer.municipalities", lang),
                                 feature_collection(kommuner.geometry.values,
                                                    records(kommuner, ("kommunenummer", "kommunenavn")),
                                                    simplify_m=20.0),
                                 style=style, label="kommunenavn"))
        base_entries.append(LegendEntry(t("layer.municipalities", lang), style["color"], "dashed",
                                        layer="municipalities", style=style))

    def data_layer(key: str, name: str, group: str, inline: Any, *, part: str | None = None,
                   **opts: Any) -> None:
        """A layer whose data is fetched from the service (served page) or inline (standalone export)."""
        if options.standalone:
            m.add_child(GeoJsonLayer(key, name, inline(), **opts))
        else:
            m.add_child(RemoteGeoJsonLayer(key, name, _data_url(options, data, group), part=part, **opts))

    # Farmland and other feature-only rules: vector tiles, off by default.
    constraint_entries: list[LegendEntry] = []
    tile_rules = [r for r in rules.active_rules if r.zone_m == 0]
    inputs = current_inputs(store)
    for rule in tile_rules:
        for record in [r for r in inputs.constraints if r.kind == rule.kind
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
            key = f"tiles-{record.id}"
            if any(e.layer == key for e in constraint_entries):
                continue  # two rules on one layer: one layer on the map
            style = feature_style(rule.theme)
            m.add_child(VectorTileLayer(key, name, url, record.id, style=style, only=only, show=False,
                                        attribution=record.attribution))
            constraint_entries.append(LegendEntry(name, style["fillColor"], layer=key, style=style))

    # Constraint zones (outlines, off by default), heritage sites as points.
    knrs = [] if kommuner is None or "kommunenummer" not in kommuner else kommuner["kommunenummer"].astype(str).tolist()
    for spec in zone_specs(store, rules, knrs):
        rid = spec.rule.id
        label = _zone_label(spec, lang)
        key = f"zone-{rid}"
        style = zone_style(spec.rule.theme, rid)
        data_layer(key, label, key, lambda rid=rid: _zone_layer(data, rid, False), style=style, popup="zone",
                   show=False)
        constraint_entries.append(LegendEntry(label, style["color"], "dashed", layer=key, style=style))
        if spec.rule.theme == "heritage":
            key = f"features-{rid}"
            name = f"{t('theme.heritage', lang)}: {_zone_name(rid, lang)}"
            data_layer(key, name, key, lambda rid=rid: _zone_layer(data, rid, True), style=HERITAGE_POINT_STYLE,
                       show=False)
            constraint_entries.append(LegendEntry(name, HERITAGE_POINT_STYLE["fillColor"], "circle", layer=key,
                                                  style=HERITAGE_POINT_STYLE))

    # Risk zones, GREEN at the bottom and RED on top.
    risk_entries: list[LegendEntry] = []
    if not data.computed:
        banners.append(t("missing.risk", lang))
    else:
        for risk in reversed(RISK_ORDER):
            key = f"risk-{risk}"
            data_layer(key, t(f"layer.risk.{risk}", lang), RISK_GROUP, lambda risk=risk: data.risk_parts[risk],
                       part=key, style=risk_style(risk), detail=(DETAIL_ZOOM, risk_detail_style(risk)),
                       popup="risk")
        for risk in RISK_ORDER:
            style = risk_style(risk)
            risk_entries.append(LegendEntry(t(f"risk.{risk}", lang), style["fillColor"], count=data.counts[risk],
                                            layer=f"risk-{risk}", style=style))

    legends = [Legend(t("legend.title.planner", lang), tuple(risk_entries + base_entries))] if risk_entries \
        else [Legend(t("legend.title.planner", lang), tuple(base_entries))]
    if constraint_entries:
        legends.append(Legend(t("legend.title.constraints", lang), tuple(constraint_entries),
                              notes=(t("legend.switch_on", lang),)))
    decorate(m, options, title=t("planner.title", lang), subtitle=t("planner.subtitle", lang), legends=legends,
             notes=list(dict.fromkeys(notes)), banners=banners, context={"rules": rule_texts(data, lang)},
             label_prefixes=("popup.", "risk.", "theme.", "unit.", "legend.belt", "zone."))
    if not options.standalone:
        add_panel(m.get_root(), lang, options.tiles_url or "")
        if data.computed:  # the browser fetches the risk classes while it loads the scripts
            url = html.escape(_data_url(options, data, RISK_GROUP))
            m.get_root().header.add_child(
                Element(f'<link rel="preload" href="{url}" as="fetch" crossorigin="anonymous">'), name="gm_preload")
    return m
