"""The investor workspace on the investor map: the criteria panel, result list and site markers driven by
``maps/static/investor-workspace.js`` over the site register (``sites``), configured from
``maps/investor_workspace.yaml``. Served pages search through ``GET /sites/search``; a standalone export embeds
the sites and searches them in the browser with the same scoring."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import yaml
from branca.element import Element

from layers.crs import transformer
from layers.store import Store
from maps.page import PageOptions, read_optional
from maps.styles import STATUS_COLOUR

SITES = "sites"
WORKSPACE_CSS = ("investor-workspace.css",)
WORKSPACE_JS = ("investor-workspace.js",)
PREMISES_COLOUR = "#7b3294"
EMBEDDED = ("site_id", "navn", "site_type", "business_status", "kommunenummer", "kommunenavn", "arealformal",
            "net_available_daa", "area_daa", "main_road_km", "rail_station_km", "airport_min", "airport_km",
            "substation_free_mw", "fibre", "speed_mbit", "population_30min", "population_45min", "population_60min",
            "competence_10km_count", "objection_risk")
LIST_LIMIT = 100


@cache
def workspace_config() -> dict[str, Any]:
    """The panel's filters, weighted criteria and texts (data)."""
    return yaml.safe_load(resources.files("maps").joinpath("investor_workspace.yaml").read_text(encoding="utf-8"))


def _value(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def embedded_sites(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Every site with the attributes the panel filters and scores on, at an anchor point (lat/lon)."""
    anchors = shapely.point_on_surface(frame.geometry.to_numpy())
    lon, lat = transformer(int(frame.crs.to_epsg()), 4326).transform(shapely.get_x(anchors), shapely.get_y(anchors))
    columns = [c for c in EMBEDDED if c in frame.columns]
    out = []
    for k, row in enumerate(frame[columns].itertuples(index=False)):
        site = {c: _value(v) for c, v in zip(columns, row, strict=True)}
        if isinstance(site.get("fibre"), (int, float)) and not isinstance(site.get("fibre"), bool):
            site["fibre"] = bool(site["fibre"])
        site["lat"], site["lon"] = round(float(lat[k]), 6), round(float(lon[k]), 6)
        out.append(site)
    return out


def config(store: Store, options: PageOptions) -> dict[str, Any] | None:
    """The workspace configuration for the page, or ``None`` when no site register has been computed."""
    found = read_optional(store, SITES)
    if found is None:
        return None
    _, frame = found
    data = workspace_config()
    lang = options.lang
    from sites.search import attribute_labels  # labels of the register's attributes

    labels = {k: str(v.get(lang, k)) for k, v in attribute_labels().items()}
    return {
        "lang": lang, "mode": "embedded" if options.standalone else "api", "api": (options.tiles_url or "").rstrip("/"),
        "texts": {k: v[lang] for k, v in data["texts"].items()},
        "filters": data["filters"], "scores": data["scores"], "labels": labels, "listLimit": LIST_LIMIT,
        "colours": {**STATUS_COLOUR, "premises": PREMISES_COLOUR},
        "sites": embedded_sites(frame),
    }


class WorkspacePanel(Element):
    """The panel container, its toggle and the configuration as a JSON data block (never executed)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        text = json.dumps(cfg, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        texts = cfg["texts"]
        html = ('<script type="application/json" id="investor-config">' + text + "</script>"
                f'<button type="button" id="iw-toggle" aria-controls="iw-panel" aria-expanded="true">'
                f'{_escape(texts["hide_panel"])}</button>'
                '<aside id="iw-panel" aria-label="' + _escape(texts["criteria"]) + '"></aside>')
        super().__init__(html)


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
