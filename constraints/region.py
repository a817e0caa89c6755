"""Kongsbergregionen's municipalities (DOMAIN.md): names for reports when no municipality layer is loaded."""

from __future__ import annotations

from layers.codes import FORMER_CODES, KONGSBERGREGIONEN


def kommunenavn(kommunenummer: str | None, known: dict[str, str] | None = None) -> str | None:
    """Name of a municipality: from ``known`` (a municipality layer), else the region table (old codes too)."""
    if not kommunenummer:
        return None
    if known and kommunenummer in known:
        return known[kommunenummer]
    return KONGSBERGREGIONEN.get(FORMER_CODES.get(kommunenummer, kommunenummer))
