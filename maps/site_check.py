"""One site check end to end for people: findings, AR5 breakdown, the hit areas, the map image and the PDF.

The domain answers (:func:`constraints.site.check_site`, :func:`constraints.ar5.ar5_breakdown`,
:func:`constraints.site_hits.hit_areas`); this module puts them together for the planner workspace, the
report page and the printable report.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from constraints.ar5 import ar5_breakdown
from constraints.index import ConstraintIndex
from constraints.publish import OBJECTION_RISK
from constraints.rules import RuleSet
from constraints.site import check_site
from constraints.site_hits import hit_areas
from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.store import Store
from maps.geodata import feature_collection
from maps.i18n import Lang
from maps.mapimage import MapLayer, map_png
from maps.page import is_synthetic
from maps.pdf import html_to_pdf
from maps.site_report import ReportView, enrich, render_report_print, report_view
from maps.site_texts import rule_title
from maps.styles import RISK_COLOUR, ZONE_COLOUR

HIT_COLOUR = {"RED": "#b3261e", "YELLOW": "#f2c230", "GREEN": "#1e7b34", "NOT_MAPPED": "#5f6368"}


@dataclass(frozen=True)
class SiteCheck:
    """A checked site: its geometry (working CRS), the enriched JSON report and the hit areas per rule."""

    site: BaseGeometry
    report: dict[str, Any]
    hits: dict[str, BaseGeometry]
    synthetic: bool


def run_site_check(site: BaseGeometry, index: ConstraintIndex, rules: RuleSet, *,
                   synthetic: bool = False, budget_s: float | None = None) -> SiteCheck:
    """Check ``site`` (working CRS) against every rule; add outcome texts, the AR5 breakdown and hit areas."""
    result = check_site(site, index, rules, budget_s=budget_s)
    report = enrich(result.to_dict())
    geom = shapely.make_valid(site)
    report["ar5"] = ar5_breakdown(geom, index.layers_of(LayerKind.farmland)).to_dict()
    hits = hit_areas(geom, index, rules, result.kommunenummer)
    return SiteCheck(site=geom, report=report, hits=hits, synthetic=synthetic)


def store_is_synthetic(store: Store) -> bool:
    """Whether the workspace holds the labelled synthetic demo data."""
    return is_synthetic(store.list_layers())


def _risk_of(report: dict[str, Any], rule_id: str) -> str:
    for theme in report["themes"]:
        for rule in theme["rules"]:
            if rule["rule_id"] == rule_id:
                return str(rule["risk"])
    return "NOT_MAPPED"


def hits_geojson(check: SiteCheck) -> dict[str, Any]:
    """The site and its hit areas as a GeoJSON FeatureCollection in CRS84 (the site first, ``role: site``)."""
    geoms = [check.site, *check.hits.values()]
    props: list[dict[str, Any]] = [{"role": "site"}]
    for rule_id in check.hits:
        risk = _risk_of(check.report, rule_id)
        props.append({"role": "hit", "rule_id": rule_id, "risk": risk, "colour": HIT_COLOUR.get(risk, "#5f6368"),
                      "title_nb": rule_title(rule_id, "nb"), "title_en": rule_title(rule_id, "en")})
    import orjson

    return orjson.loads(feature_collection(np.array(geoms, dtype=object), props, simplify_m=0.5))


def view(check: SiteCheck, lang: Lang, *, map_png_b64: str | None = None) -> ReportView:
    """The printable view of a check."""
    return report_view(check.report, lang, ar5=check.report.get("ar5"), synthetic=check.synthetic,
                       map_png_b64=map_png_b64)


_MAP_TEXT = {
    "site": {"nb": "Tomten", "en": "Site"},
    "farmland": {"nb": "Dyrka jord (AR5)", "en": "Cultivated land (AR5)"},
    "water": {"nb": "Vassdrag", "en": "Watercourse"},
    "road": {"nb": "Veg", "en": "Road"},
    "heritage": {"nb": "Kulturminne", "en": "Heritage site"},
    "flood": {"nb": "Flomsone", "en": "Flood zone"},
}


def site_map_png(check: SiteCheck, index: ConstraintIndex, store: Store, lang: Lang) -> bytes:
    """A map of the site, its hit areas and the constraint features around it (PNG, working CRS)."""
    xmin, ymin, xmax, ymax = check.site.bounds
    pad = max(xmax - xmin, ymax - ymin) * 0.6 + 150
    extent = (xmin - pad, ymin - pad, xmax + pad, ymax + pad)
    box = shapely.box(*extent)
    layers: list[MapLayer] = []
    try:
        record = store.get_layer(OBJECTION_RISK).current
        risk = store.read_frame(record, bbox=extent)
        for level in ("GREEN", "NOT_MAPPED", "YELLOW", "RED"):
            part = risk[risk["objection_risk"] == level]
            layers.append(MapLayer(list(part.geometry.values), facecolor=RISK_COLOUR[level], edgecolor="#ffffff",
                                   linewidth=0.3, alpha=0.25))
    except LayerNotFound:
        pass

    def near(kind: LayerKind, select: tuple[str, tuple[Any, ...]] | None = None) -> list[BaseGeometry]:
        out: list[BaseGeometry] = []
        for layer in index.layers_of(kind):
            frame = layer.frame
            idx = frame.sindex.query(box, predicate="intersects")
            rows = frame.iloc[idx]
            if select is not None and select[0] in rows.columns:
                rows = rows[rows[select[0]].isin(select[1])]
            out.extend(shapely.intersection(np.asarray(rows.geometry.values, dtype=object), box).tolist())
        return out

    t = {k: v[lang] for k, v in _MAP_TEXT.items()}
    layers += [
        MapLayer(near(LayerKind.farmland, ("arealtype", (21, 22, 23, "21", "22", "23"))), facecolor="#e6d28a",
                 edgecolor="#bf8f00", linewidth=0.3, alpha=0.8, label=t["farmland"]),
        MapLayer(near(LayerKind.flood), facecolor="#9ecae1", edgecolor=ZONE_COLOUR["flood"], linewidth=0.4,
                 alpha=0.6, label=t["flood"]),
        MapLayer(near(LayerKind.watercourse), edgecolor=ZONE_COLOUR["watercourse"], linewidth=1.4,
                 label=t["water"]),
        MapLayer(near(LayerKind.road), edgecolor="#636363", linewidth=1.6, label=t["road"]),
        MapLayer(shapely.point_on_surface(np.asarray(near(LayerKind.heritage), dtype=object)).tolist(),
                 facecolor=ZONE_COLOUR["heritage"], edgecolor="#ffffff", linewidth=0.5, label=t["heritage"],
                 markersize=22),
    ]
    for rule_id, geom in check.hits.items():
        risk_level = _risk_of(check.report, rule_id)
        layers.append(MapLayer([geom], facecolor=HIT_COLOUR.get(risk_level, "#5f6368"), edgecolor="#000000",
                               linewidth=0.5, alpha=0.55, hatch="//", label=rule_title(rule_id, lang)))
    layers.append(MapLayer([check.site], edgecolor="#000000", linewidth=2.2, label=t["site"]))
    return map_png(layers, extent, decimal_comma=lang == "nb")


def report_pdf(check: SiteCheck, index: ConstraintIndex, store: Store, lang: Lang) -> bytes:
    """The printable report (A4 PDF) with the map image, in ``lang``."""
    png = site_map_png(check, index, store, lang)
    printable = view(check, lang, map_png_b64=base64.b64encode(png).decode("ascii"))
    return html_to_pdf(render_report_print(printable))

