"""Kongsbergregionen's municipalities (DOMAIN.md): names for reports when no municipality layer is loaded."""

from __future__ import annotations

# 2024 codes; the 2020-2023 code is mapped to the same name so older plans still get a name.
KONGSBERGREGIONEN: dict[str, str] = {
    "3303": "Kongsberg",
    "3334": "Flesberg",
    "3336": "Rollag",
    "3338": "Nore og Uvdal",
    "4005": "Notodden",
    "4024": "Hjartdal",
    "4026": "Tinn",
}
FORMER_CODES: dict[str, str] = {
    "3006": "3303", "3050": "3334", "3051": "3336", "3052": "3338", "3808": "4005", "3819": "4024", "3818": "4026",
}


def kommunenavn(kommunenummer: str | None, known: dict[str, str] | None = None) -> str | None:
    """Name of a municipality: from ``known`` (a municipality layer), else the region table (old codes too)."""
    if not kommunenummer:
        return None
    if known and kommunenummer in known:
        return known[kommunenummer]
    return KONGSBERGREGIONEN.get(FORMER_CODES.get(kommunenummer, kommunenummer))
