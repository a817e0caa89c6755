"""The investor map: business areas ready to offer (pre-approved) and land reserves, with the facts that sell them.

Reads the derived ``business-areas`` collection (``geo-service analyse`` or the server's refresh loop publishes
it), the municipality layer(s) for boundaries, names and town centres, main roads and, when a layer exists,
railways. Every layer is small (hundreds of features), so everything is inline GeoJSON: the page works
from the service and as a standalone file alike.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from constraints.publish import BUSINESS_AREAS, current_inputs
from constraints.reserve import counted_daa
from layers.codes import arealformal_name
from layers.kinds import LayerKind
from layers.store import Store
from maps import investor_workspace
from maps.elements import GeoJsonLayer
from maps.facts import Centres, site_facts
from maps.geodata import feature_collection, plain, records
from maps.i18n import format_number, t
from maps.page import (
    PageOptions,
    decorate,
    is_synthetic,
    layers_of,
    municipalities,
    new_map,
    railway_layers,
    read_optional,
    region_bounds,
)
from maps.styles import (
    INVESTOR_STATUSES,
    MAIN_ROADS,
    MUNICIPALITY_STYLE,
    RAILWAY_STYLE,
    ROAD_STYLE,
    STATUS_COLOUR,
    Legend,
    LegendEntry,
    status_style,
)

SITE_COLUMNS = ("status", "area_daa", "net_daa", "arealformal", "formal_name", "plantype", "planid",
                "kommunenummer", "kommunenavn", "name", "colour", "centre_name", "centre_km", "road_label",
                "road_km", "rail_km", "farmland_daa", "zone_id")


def investor_sites(store: Store) -> gpd.GeoDataFrame | None:
    """Business areas on offer (pre-approved and reserve) with their selling facts; ``None`` if not computed.

    Columns: :data:`SITE_COLUMNS` and geometry (working CRS), rounded for display by the page.
    """
    found = read_optional(store, BUSINESS_AREAS)
    if found is None:
        return None
    _, areas = found
    sites = areas[areas["status"].isin(INVESTOR_STATUSES)].copy()
    kommuner = municipalities(store)
    roads = _concat([store.read_frame(r.current) for r in layers_of(store, LayerKind.road)
                     if r not in railway_layers(store)])
    rails = _concat([store.read_frame(r.current) for r in railway_layers(store)])
    facts = site_facts(sites, Centres.from_municipalities(kommuner) if kommuner is not None else None, roads, rails)
    sites = sites.join(facts)
    sites["zone_daa"] = sites["area_daa"]
    sites["area_daa"] = counted_daa(sites)  # one definition of area for legend, popup, report and API
    sites["net_daa"] = sites.get("net_available_daa", np.nan)
    sites["formal_name"] = [arealformal_name(int(c)) if pd.notna(c) else None for c in sites["arealformal"]]
    sites["colour"] = sites["status"].map(STATUS_COLOUR)
    sites["name"] = _marketed_names(store, sites)
    return sites


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame | None:
    if not frames:
        return None
    if len(frames) == 1:
        return frames[0]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)


def _marketed_names(store: Store, sites: gpd.GeoDataFrame) -> list[str | None]:
    """The name a zoning area is marketed under (zoning ``navn``), when one zoning layer feeds the analysis
    (its fids are then the zone ids)."""
    zoning = current_inputs(store).zoning
    if len(zoning) != 1 or "navn" not in zoning[0].current.fields or "zone_id" not in sites:
        return [None] * len(sites)
    frame = store.read_frame(zoning[0].current)
    names = frame["navn"].reindex(sites["zone_id"].to_numpy())
    return [plain(v) or None for v in names.tolist()]


ROAD_CLASS_NAMES = {"E": {"nb": "europaveg", "en": "European road"}, "R": {"nb": "riksveg", "en": "national road"},
                    "F": {"nb": "fylkesveg", "en": "county road"}}
_ROAD_PREFIX = {"E": "E", "R": "Rv. ", "F": "Fv. "}


def labelled_roads(roads: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Main roads merged per road (class and number), each with one label such as "E134" or "Rv. 40"."""
    if "vegnummer" not in roads.columns or "vegkategori" not in roads.columns:
        return roads
    frame = roads[["vegkategori", "vegnummer", "geometry"]].copy()
    frame["vegkategori"] = frame["vegkategori"].astype(str).str.upper()
    numbered = frame[frame["vegnummer"].notna()]
    merged = numbered.dissolve(by=["vegkategori", "vegnummer"], as_index=False)
    merged["road_label"] = [f"{_ROAD_PREFIX.get(c, '')}{int(n) if float(n).is_integer() else n}"
                            for c, n in zip(merged["vegkategori"], merged["vegnummer"].astype(float), strict=True)]
    rest = frame[frame["vegnummer"].isna()].assign(road_label=None)
    return gpd.GeoDataFrame(pd.concat([merged, rest], ignore_index=True), geometry="geometry", crs=roads.crs)


def investor_map(store: Store, options: PageOptions) -> folium.Map:
    """Build the investor map (see the module docstring)."""
    lang = options.lang
    m = new_map(region_bounds(store), options)
    banners: list[str] = []

    kommuner = municipalities(store)
    if kommuner is not None:
        props = records(kommuner, ("kommunenummer", "kommunenavn"))
        m.add_child(GeoJsonLayer("municipalities", t("layer.municipalities", lang),
                                 feature_collection(kommuner.geometry.values, props, simplify_m=20.0),
                                 style=MUNICIPALITY_STYLE, label="kommunenavn"))

    road_layers = [r for r in layers_of(store, LayerKind.road) if r not in railway_layers(store)]
    roads = _concat([store.read_frame(r.current) for r in road_layers])
    road_classes: list[str] = []
    if roads is not None and len(roads):
        if "vegkategori" in roads.columns and roads["vegkategori"].astype(str).isin(MAIN_ROADS).any():
            roads = roads[roads["vegkategori"].astype(str).isin(MAIN_ROADS)]
        roads = labelled_roads(roads)
        road_classes = [c for c in MAIN_ROADS if (roads["vegkategori"] == c).any()] if "vegkategori" in roads else []
        props = records(roads, ("vegkategori", "vegnummer", "road_label"))
        m.add_child(GeoJsonLayer("roads", t("layer.roads", lang),
                                 feature_collection(roads.geometry.values, props, simplify_m=10.0),
                                 style=ROAD_STYLE["F"], style_by=("vegkategori", ROAD_STYLE),
                                 label="road_label" if "road_label" in roads else None))

    rails = _concat([store.read_frame(r.current) for r in railway_layers(store)])
    if rails is not None and len(rails):
        m.add_child(GeoJsonLayer("railways", t("layer.railways", lang),
                                 feature_collection(rails.geometry.values, [{}] * len(rails), simplify_m=10.0),
                                 style=RAILWAY_STYLE))

    workspace = investor_workspace.config(store, options)
    sites = investor_sites(store) if workspace is None else None
    entries: list[LegendEntry] = []
    if workspace is not None:
        m.get_root().html.add_child(investor_workspace.WorkspacePanel(workspace), name="investor_workspace")
        m.investor_workspace = True  # type: ignore[attr-defined]  # build_page adds the workspace's assets
        texts = workspace["texts"]
        counts = pd.Series([s.get("business_status") if s.get("site_type") != "premises" else "premises"
                            for s in workspace["sites"]]).value_counts()
        found = read_optional(store, BUSINESS_AREAS)  # totals by the one definition of area (counted_daa)
        totals = {} if found is None else counted_daa(found[1]).groupby(found[1]["status"]).sum().to_dict()
        for key, colour in (("pre-approved", STATUS_COLOUR["pre-approved"]), ("reserve", STATUS_COLOUR["reserve"]),
                            ("conflict", STATUS_COLOUR["conflict"]), ("premises", investor_workspace.PREMISES_COLOUR)):
            if key == "conflict" and not counts.get(key, 0):
                continue
            label = texts[f"status_{key}"]
            if key in totals:
                label += f" – {format_number(float(totals[key]), 0, lang)} {t('unit.daa', lang)}"
            entries.append(LegendEntry(label, colour, "fill", count=int(counts.get(key, 0))))
        entries.append(LegendEntry(texts["not_matching"], "#bbbbbb", "fill"))
        entries.append(LegendEntry(texts["legend_size"], "#ffffff", "line"))
    elif sites is None:
        banners.append(t("missing.business", lang))
    else:
        for status in INVESTOR_STATUSES:
            subset = sites[sites["status"] == status]
            props = records(subset, SITE_COLUMNS)
            for p in props:  # two decimals are plenty for a popup and keep the page small
                for key in ("area_daa", "net_daa", "farmland_daa", "centre_km", "road_km", "rail_km"):
                    if isinstance(p.get(key), float):
                        p[key] = round(p[key], 3)
            m.add_child(GeoJsonLayer(f"sites-{status}", t(f"layer.status.{status}", lang),
                                     feature_collection(subset.geometry.values, props,
                                                        ids=subset["zone_id"].tolist(), simplify_m=1.0),
                                     style=status_style(status), popup="site", tooltip="name",
                                     points_below_zoom=12))
            total = format_number(float(subset["area_daa"].sum()), 0, lang)
            entries.append(LegendEntry(f"{t(f'status.{status}', lang)} – {total} {t('unit.daa', lang)}",
                                       STATUS_COLOUR[status], "fill", count=len(subset)))
    entries.append(LegendEntry(t("layer.municipalities", lang), MUNICIPALITY_STYLE["color"], "dashed"))
    for cls in road_classes:  # one row per road class, in the colour it is drawn in
        entries.append(LegendEntry(f"{t('layer.roads', lang)}: {ROAD_CLASS_NAMES[cls]['en' if lang == 'en' else 'nb']}",
                                   ROAD_STYLE[cls]["color"], "line"))
    if roads is not None and len(roads) and not road_classes:
        entries.append(LegendEntry(t("layer.roads", lang), ROAD_STYLE["F"]["color"], "line"))
    if rails is not None and len(rails):
        entries.append(LegendEntry(t("layer.railways", lang), RAILWAY_STYLE["color"], "dashed"))

    notes = [t("synthetic", lang)] if is_synthetic(store.list_layers()) else []
    decorate(m, options, title=t("investor.title", lang), subtitle=t("investor.subtitle", lang),
             legends=[Legend(t("legend.title.investor", lang), tuple(entries))], notes=notes, banners=banners,
             label_prefixes=("popup.", "status.", "unit."))
    return m
