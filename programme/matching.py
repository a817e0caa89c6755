"""An enquiry's needs as site-search criteria (``POST /sites/search`` of the site portfolio), so the sales team
goes from an enquiry to a ranked list of sites in one step. Hard filters only where the company stated a need
(land, power, municipalities); the ranking prefers the stated land area, workforce within 45 minutes and a
short way to the main road (weights 40/30/30)."""

from __future__ import annotations

from typing import Any

from programme.model import Needs


def criteria(needs: Needs) -> dict[str, Any]:
    """Search criteria for ``POST /sites/search`` from an enquiry's needs."""
    filters: dict[str, Any] = {}
    if needs.land_daa:
        filters["net_available_daa"] = {"min": needs.land_daa}
    if needs.power_mw:
        filters["substation_free_mw"] = {"min": needs.power_mw}
    if needs.preferred_municipalities:
        filters["kommunenummer"] = {"in": list(needs.preferred_municipalities)}
    soft = [{"attribute": "net_available_daa", "weight": 40, "direction": "ideal", "ideal": needs.land_daa}
            if needs.land_daa else {"attribute": "net_available_daa", "weight": 40, "direction": "higher"},
            {"attribute": "population_45min", "weight": 30, "direction": "higher"},
            {"attribute": "main_road_km", "weight": 30, "direction": "lower"}]
    return {"filters": filters, "criteria": soft}


def search_query(needs: Needs) -> list[tuple[str, str]]:
    """The same criteria as the query string of ``GET /sites/search`` (and of the investor workspace's URL)."""
    out: list[tuple[str, str]] = []
    for attribute, bounds in criteria(needs)["filters"].items():
        for op, value in bounds.items():
            out.append((f"{op}.{attribute}", ",".join(value) if isinstance(value, list) else f"{value:g}"))
    for c in criteria(needs)["criteria"]:
        ideal = f":{c['ideal']:g}" if c.get("ideal") is not None else ""
        out.append(("score", f"{c['attribute']}:{c['direction']}:{c['weight']:g}{ideal}"))
    return out
