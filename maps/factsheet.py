"""Fact sheets of sites (one printable A4 page, two at most) and comparison sheets of 2–4 sites, as HTML and
as PDF (the reports' WeasyPrint route, ``maps/pdf.py``). The map image is drawn on the server from the service's
own layers (``maps/mapimage.py``): no basemap, no internet.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from layers.codes import arealformal_colour
from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.store import LayerRecord, Store
from maps.assets import OWN_DIR
from maps.mapimage import MapLayer, map_png
from maps.page import is_synthetic
from maps.pdf import html_to_pdf
from maps.templating import environment

MAIN_ROAD_CLASSES = {"E", "R", "F"}
_ROAD_COLOURS = {"E": "#c0392b", "R": "#e67e22", "F": "#d4ac0d"}


@cache
def texts(lang: str) -> dict[str, Any]:
    data = yaml.safe_load(resources.files("maps").joinpath("factsheet_texts.yaml").read_text(encoding="utf-8"))
    key = "en" if lang == "en" else "nb"

    def pick(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"nb", "en"}:
            return value[key]
        if isinstance(value, dict):
            return {k: pick(v) for k, v in value.items()}
        return value

    return pick(data)


def number(value: Any, lang: str, decimals: int = 1) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return ("ja" if value else "nei") if lang != "en" else ("yes" if value else "no")
    if isinstance(value, (int, float, np.integer, np.floating)):
        text = f"{float(value):,.{decimals}f}"
        return text if lang == "en" else text.replace(",", "\u202f").replace(".", ",")
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "–"
    return str(value)


def _decimals(fact: dict[str, Any]) -> int:
    unit = fact.get("unit", "")
    return 1 if unit in ("daa", "km", "MW") else 0


CODES = {"arealformal", "planid", "planstatus", "main_road"}  # shown as written, never as numbers
IN_RISK_BOX = {"objection_risk", "objection_summary", "red_rules"}  # shown in the risk box instead
PLANSTATUS = {1: ("planlegging igangsatt", "planning started"), 2: ("planforslag", "plan proposal"),
              3: ("endelig vedtatt", "adopted"), 4: ("opphevet", "repealed"), 5: ("utgått/erstattet", "superseded"),
              6: ("vedtatt med utsatt rettsvirkning", "adopted, legal effect deferred"),
              7: ("tidsbegrenset", "time-limited"), 8: ("overstyrt", "overridden")}


def fact_rows(answer: dict[str, Any], lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group title, [(label, value with unit)]) for every fact group that has a value."""
    t = texts(lang)
    out = []
    for group, facts in answer["facts"].items():
        rows = []
        for fact in facts:
            value = fact["value"]
            if value is None or value == "" or value == [] or fact["attribute"] in IN_RISK_BOX:
                continue
            if fact["attribute"] == "business_status":
                value = t["status"].get(value, value)
            if isinstance(value, float) and value.is_integer() and fact["attribute"] in CODES:
                value = int(value)
            if fact["attribute"] == "planstatus" and value in PLANSTATUS:
                value = f"{value} {PLANSTATUS[value][1 if lang == 'en' else 0]}"
            if isinstance(value, list) and len(value) > 4:  # long name lists: the first four and how many more
                more = len(value) - 4
                value = [*value[:4], f"+ {more} {'more' if lang == 'en' else 'til'}"]
            elif isinstance(value, str) and value.count(";") >= 4:
                names = [n.strip() for n in value.split(";")]
                value = [*names[:4], f"+ {len(names) - 4} {'more' if lang == 'en' else 'til'}"]
            text = str(value) if fact["attribute"] in CODES else number(value, lang, _decimals(fact))
            unit = fact.get("unit") or ""
            rows.append((fact["label"]["en" if lang == "en" else "nb"], f"{text} {unit}".strip()))
        if rows:
            out.append((t["groups"].get(group, group), rows))
    return out


def timing(properties: dict[str, Any], lang: str) -> list[str]:
    """What the site's status and objection risk mean for the time to build."""
    t = texts(lang)["timing_text"]
    out = [t[s] for s in (properties.get("business_status"),) if s in t]
    risk = properties.get("objection_risk")
    if risk in t:
        out.append(t[risk])
    return out


def sources(store: Store, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every layer behind the sheet, once: id, title, version, the version's date and attribution."""
    seen: dict[str, dict[str, Any]] = {}
    for layers in answer.get("sources", {}).values():
        for layer in layers:
            if layer["id"] in seen:
                continue
            created = None
            try:
                match = next((v for v in store.versions(layer["id"]) if v.version == layer.get("version")), None)
                created = match.created.strftime("%Y-%m-%d") if match else None
            except LayerNotFound:
                pass
            seen[layer["id"]] = {**layer, "date": created}
    sites = {"id": "sites", "title": "Tomteregister (sites)", "version": answer.get("sitesVersion"),
             "attribution": "Computed by geo-service", "date": None}
    return [sites, *sorted(seen.values(), key=lambda s: s["id"])]


def findings(store: Store, site_id: str, lang: str) -> list[dict[str, str]]:
    """The objection-risk findings (not GREEN) of the zoning area behind a business-area site (``ba-<zone>``):
    theme or rule title, risk, authority and legal basis, as the ``objection-risk`` collection holds them."""
    if not site_id.startswith("ba-") or not site_id[3:].isdigit():
        return []
    try:
        layer = store.get_layer("objection-risk")
    except LayerNotFound:
        return []
    if "zone_id" not in layer.current.fields:
        return []
    page = store.query(layer.current, None, {"zone_id": int(site_id[3:])}, 1, 0)
    if not page.properties:
        return []
    raw = page.properties[0].get("findings") or "[]"
    items = json.loads(raw) if isinstance(raw, str) else raw
    out = []
    for f in items:
        title = f.get("rule_title_en" if lang == "en" else "rule_title_nb") or f.get("theme") or f.get("rule_id")
        out.append({"title": str(title), "risk": str(f.get("risk", "")), "authority": str(f.get("authority") or ""),
                    "legal_basis": str(f.get("legal_basis") or "")})
    return out


def _layers_of(store: Store, kind: LayerKind) -> list[LayerRecord]:
    return [r for r in store.list_layers() if r.kind == kind]


def _read(store: Store, kind: LayerKind, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame | None:
    frames = [store.read_frame(r.current, bbox) for r in _layers_of(store, kind)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return None
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)


def site_map(store: Store, outline: shapely.Geometry, lang: str, *, width_in: float = 7.0,
             height_in: float = 2.9) -> bytes:
    """PNG of a site (working CRS) in its surroundings: zoning by formål colour, farmland, water, main roads,
    towns, with scale bar and north arrow."""
    minx, miny, maxx, maxy = outline.bounds
    pad = max(maxx - minx, maxy - miny, 400.0) * 1.2
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_w, half_h = pad, pad * height_in / width_in
    extent = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
    layers: list[MapLayer] = []
    en = lang == "en"
    zoning = _read(store, LayerKind.zoning, extent)
    if zoning is not None and "arealformal" in zoning:
        status = zoning["arealbruksstatus"] if "arealbruksstatus" in zoning else pd.Series([None] * len(zoning))
        colours = [arealformal_colour(int(c) if pd.notna(c) else None, int(s) if pd.notna(s) else None) or "#dddddd"
                   for c, s in zip(zoning["arealformal"], status, strict=True)]
        zoning = zoning.assign(colour=colours)
        for colour, group in zoning.groupby("colour"):
            layers.append(MapLayer(list(group.geometry), facecolor=str(colour), edgecolor="#777777", linewidth=0.3,
                                   alpha=0.55))
        layers.append(MapLayer([], facecolor="#cccccc", edgecolor="#777777",
                               label="Arealformål (offisielle farger)" if not en else "Land use (official colours)"))
    farmland = _read(store, LayerKind.farmland, extent)
    if farmland is not None and "arealtype" in farmland:
        dyrka = farmland[farmland["arealtype"].isin([21, 22, 23])]
        layers.append(MapLayer(list(dyrka.geometry), facecolor="none", edgecolor="#6b8e23", linewidth=0.4,
                               hatch="///", label="Dyrka jord (AR5)" if not en else "Cultivated land (AR5)"))
    water = _read(store, LayerKind.watercourse, extent)
    if water is not None:
        layers.append(MapLayer(list(water.geometry), facecolor="#9cc3e6", edgecolor="#2c7fb8", linewidth=1.0,
                               label="Vassdrag" if not en else "Watercourses"))
    roads = _read(store, LayerKind.road, extent)
    if roads is not None and "vegkategori" in roads:
        for cls, colour in _ROAD_COLOURS.items():
            part = roads[roads["vegkategori"].astype(str).str.upper() == cls]
            name = {"E": ("Europaveg", "European road"), "R": ("Riksveg", "National road"),
                    "F": ("Fylkesveg", "County road")}[cls]
            layers.append(MapLayer(list(part.geometry), edgecolor=colour, linewidth=2.2 if cls == "E" else 1.6,
                                   label=name[1] if en else name[0]))
    layers.append(MapLayer([outline.boundary], edgecolor="#d7191c", linewidth=2.6,
                           label="Tomten" if not en else "The site"))
    return map_png(layers, extent, width_in=width_in, height_in=height_in, decimal_comma=not en)


def factsheet_context(store: Store, answer: dict[str, Any], outline: shapely.Geometry, lang: str,
                      root: str = "") -> dict[str, Any]:
    """Everything the fact sheet template shows."""
    props = answer["properties"]
    t = texts(lang)
    png = site_map(store, outline, lang)
    return {
        "t": t, "lang": lang, "root": root, "site": props, "site_id": answer["id"],
        "name": props.get("navn") or answer["id"],
        "groups": fact_rows(answer, lang),
        "risk_level": t["risk_level"].get(props.get("objection_risk"), props.get("objection_risk") or "–"),
        "risk_class": str(props.get("objection_risk") or "NOT_MAPPED").lower(),
        "risk_summary": props.get("objection_summary"), "timing": timing(props, lang),
        "findings": findings(store, answer["id"], lang),
        "contact": props.get("kontakt") or t["default_contact"],
        "map_png": base64.b64encode(png).decode("ascii"),
        "sources": sources(store, answer), "synthetic": is_synthetic(store.list_layers()),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _env() -> Any:
    return environment()


def render_factsheet(context: dict[str, Any], *, printing: bool = False) -> str:
    css = (OWN_DIR / "factsheet.css").read_text(encoding="utf-8") if printing else None
    return _env().get_template("factsheet.html").render(**context, printing=printing, inline_css=css)


def factsheet_pdf(context: dict[str, Any]) -> bytes:
    return html_to_pdf(render_factsheet(context, printing=True))


def compare_context(store: Store, answer: dict[str, Any], lang: str, root: str = "") -> dict[str, Any]:
    """The comparison sheet: the same facts in columns, the best value per row marked."""
    t = texts(lang)
    rows = []
    for row in answer["attributes"]:
        unit = row.get("unit") or ""
        decimals = 1 if unit in ("daa", "km", "MW") else 0
        values = [f"{number(v, lang, decimals)} {unit}".strip() if v is not None else "–" for v in row["values"]]
        if row["attribute"] == "business_status":
            values = [t["status"].get(v, v) for v in row["values"]]
        best = answer["sites"].index(row["best"]) if row.get("best") in answer["sites"] else None
        rows.append({"group": t["groups"].get(row["group"], row["group"]),
                     "label": row["label"]["en" if lang == "en" else "nb"], "values": values, "best": best})
    names = [n or i for n, i in zip(answer["names"], answer["sites"], strict=True)]
    return {"t": t, "lang": lang, "root": root, "ids": answer["sites"], "names": names,
            "rows": rows, "synthetic": is_synthetic(store.list_layers()),
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def render_compare(context: dict[str, Any], *, printing: bool = False) -> str:
    css = (OWN_DIR / "factsheet.css").read_text(encoding="utf-8") if printing else None
    return _env().get_template("compare_sheet.html").render(**context, printing=printing, inline_css=css)


def compare_pdf(context: dict[str, Any]) -> bytes:
    return html_to_pdf(render_compare(context, printing=True))
