"""Styles and legends as data: one colour per status, risk class and constraint, shared by map and legend.

Leaflet path options (``color``, ``weight``, ``fillColor``, ``fillOpacity`` …) are plain dicts, so the same
values style inline GeoJSON, vector tiles and the legend swatches. Colours are chosen to stay apart on
the topographic basemap and without it, and to be told apart in a screenshot (the browser tests count
pixels by colour).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from layers.codes import arealformal_colour

Style = dict[str, Any]

STATUS_COLOUR: dict[str, str] = {
    "pre-approved": "#1a9850",  # green: zoned and ready to build
    "reserve": "#2b83ba",  # blue: master-plan reserve, needs a zoning plan first
    "conflict": "#d7191c",
    "existing": "#8c8c8c",
}
INVESTOR_STATUSES: tuple[str, ...] = ("pre-approved", "reserve")
"""What the sales map shows; conflicts and existing business land are the planners' business."""

RISK_COLOUR: dict[str, str] = {
    "RED": "#d7191c",
    "YELLOW": "#fdae61",
    "NOT_MAPPED": "#9e9e9e",
    "GREEN": "#1a9641",
}
RISK_ORDER: tuple[str, ...] = ("RED", "YELLOW", "NOT_MAPPED", "GREEN")

ZONE_COLOUR: dict[str, str] = {  # constraint zones by theme
    "watercourse": "#2c7fb8",
    "heritage": "#7b3294",
    "road": "#636363",
    "farmland": "#bf8f00",
    "flood": "#08306b",
}
RULE_ZONE_COLOUR: dict[str, str] = {"watercourse-protected": "#08519c", "road-municipal": "#969696"}
HERITAGE_POINT_STYLE: Style = {"radius": 2.5, "color": "#ffffff", "weight": 0.5, "opacity": 0.9, "fillColor": "#7b3294",
                               "fillOpacity": 0.85}
FARMLAND_CODES = (21, 22, 23)  # AR5 fulldyrka, overflatedyrka, innmarksbeite (jordlova § 9)

ROAD_STYLE: dict[str, Style] = {
    "E": {"color": "#b2182b", "weight": 3.5, "opacity": 0.9},
    "R": {"color": "#d6604d", "weight": 3.0, "opacity": 0.9},
    "F": {"color": "#e08214", "weight": 2.2, "opacity": 0.9},
    "K": {"color": "#969696", "weight": 1.0, "opacity": 0.8},
}
MAIN_ROADS = ("E", "R", "F")

MUNICIPALITY_STYLE: Style = {"color": "#252525", "weight": 2.0, "opacity": 0.8, "dashArray": "6 4",
                             "fill": True, "fillOpacity": 0.0}
RAILWAY_STYLE: Style = {"color": "#000000", "weight": 2.5, "opacity": 0.9, "dashArray": "8 4"}


def status_style(status: str) -> Style:
    """Fill and outline of a business area with this status."""
    colour = STATUS_COLOUR.get(status, "#8c8c8c")
    return {"color": colour, "weight": 2.0, "opacity": 1.0, "fillColor": colour, "fillOpacity": 0.55}


RISK_FILL: dict[str, str] = {  # the planner map's fills: solid, so overlapping plans never mix into mud
    "RED": "#d7191c",
    "YELLOW": "#fdae61",
    "NOT_MAPPED": "#bababa",
    "GREEN": "#a6d96a",  # light: the classes that need attention stand out at region scale
}
DETAIL_ZOOM = 14
"""From this zoom on the risk zones are translucent with a strong outline, so the basemap shows through."""


def risk_style(risk: str) -> Style:
    """A zoning area by its objection risk at region scale: one solid fill per class (a plan drawn over another
    hides it instead of mixing with it), the outline in the same colour."""
    colour = RISK_FILL.get(risk, RISK_FILL["NOT_MAPPED"])
    return {"color": colour, "weight": 0.5, "opacity": 1.0, "fill": True, "fillColor": colour, "fillOpacity": 1.0}


def risk_detail_style(risk: str) -> Style:
    """The same class from :data:`DETAIL_ZOOM` on: a strong outline and a light fill over the basemap."""
    colour = RISK_FILL.get(risk, RISK_FILL["NOT_MAPPED"])
    return {"color": colour, "weight": 2.0, "opacity": 1.0, "fill": True, "fillColor": colour, "fillOpacity": 0.35}


def zone_style(theme: str, rule_id: str | None = None) -> Style:
    """A constraint zone (buffer) of a theme (or of one rule): a dashed outline, no fill, so it never muddies
    the risk classes under it (a transparent fill keeps it clickable)."""
    colour = RULE_ZONE_COLOUR.get(rule_id or "", ZONE_COLOUR.get(theme, "#636363"))
    return {"color": colour, "weight": 2.0, "opacity": 1.0, "dashArray": "5 4", "fill": True, "fillColor": colour,
            "fillOpacity": 0.0}


def feature_style(theme: str) -> Style:
    """Constraint features drawn from vector tiles (farmland: the AR5 polygons): outlined, lightly hatched by a
    low fill, off by default."""
    colour = ZONE_COLOUR.get(theme, "#636363")
    return {"color": colour, "weight": 1.0, "opacity": 1.0, "fill": True, "fillColor": colour, "fillOpacity": 0.25}


def preview_style(kind: str, geometry_type: str) -> Style:
    """A neutral style for any layer in the preview (polygons filled, lines stroked, points as circles)."""
    colour = {"zoning": "#6a3d9a", "watercourse": "#1f78b4", "farmland": "#bf8f00", "heritage": "#7b3294",
              "road": "#b2182b", "municipality": "#252525", "flood": "#08306b"}.get(kind, "#e6550d")
    if "Point" in geometry_type:
        return {"radius": 5, "color": "#ffffff", "weight": 1, "fillColor": colour, "fillOpacity": 0.9}
    if "Line" in geometry_type:
        return {"color": colour, "weight": 2.0, "opacity": 0.9}
    # "fill" is explicit: vector-tile polygons start from L.Path's defaults, which do not fill
    return {"color": colour, "weight": 1.0, "opacity": 0.9, "fill": True, "fillColor": colour, "fillOpacity": 0.35}


def zoning_colours() -> dict[str, str]:
    """Official arealformål fill colours by code (kart- og planforskriften), for zoning previews."""
    from layers.codes import AREALFORMAL_COLOUR

    return {str(code): colour for code, colour in AREALFORMAL_COLOUR.items() if colour}


def zoning_colour(code: int | None) -> str | None:
    """The official colour of one arealformål code, if it has one."""
    return arealformal_colour(code) if code is not None else None


Shape = Literal["fill", "line", "circle", "dashed"]


@dataclass(frozen=True)
class LegendEntry:
    """One row of a legend: a swatch and its label (with a count when known).

    ``layer`` names the map layer the row describes (the page shows the row only while that layer is on);
    ``style`` is the layer's drawn style, so the swatch shows exactly its fill, fill opacity and outline."""

    label: str
    colour: str
    shape: Shape = "fill"
    count: int | None = None
    layer: str | None = None
    style: Style | None = None


@dataclass(frozen=True)
class Legend:
    """A legend box: a title, rows and an optional note under them."""

    title: str
    entries: tuple[LegendEntry, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
