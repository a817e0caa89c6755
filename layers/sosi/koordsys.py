"""SOSI ``KOORDSYS`` codes to EPSG, from the data file ``koordsys.yaml`` (sources recorded there)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from layers.errors import MissingCRS


@dataclass(frozen=True)
class Koordsys:
    """A known SOSI coordinate system."""

    code: int
    epsg: int
    name: str
    geographic: bool


@lru_cache(maxsize=1)
def _table() -> dict[int, Koordsys]:
    data = yaml.safe_load((Path(__file__).with_name("koordsys.yaml")).read_text(encoding="utf-8"))
    table = {int(code): Koordsys(int(code), int(v["epsg"]), str(v["name"]), int(v["epsg"]) in (4230, 4258, 4273, 4326))
             for code, v in data["codes"].items()}
    ntm = data["ntm"]
    for code in range(int(ntm["first_code"]), int(ntm["last_code"]) + 1):
        zone = code - 200
        table[code] = Koordsys(code, int(ntm["first_epsg"]) + zone - 5, f"EUREF89 NTM sone {zone}", False)
    return table


def lookup(code: int | None, source_name: str) -> Koordsys:
    """The coordinate system of KOORDSYS ``code``; unknown or missing codes raise ``MissingCRS`` with the fix."""
    if code is None:
        raise MissingCRS(f"{source_name}: the SOSI header has no ..KOORDSYS; pass --crs with the file's EPSG code "
                         "(e.g. --crs 25832 for EUREF89 UTM 32) / SOSI-hodet mangler ..KOORDSYS; oppgi --crs")
    known = _table().get(code)
    if known is None:
        raise MissingCRS(f"{source_name}: SOSI KOORDSYS {code} is not a coordinate system this reader knows; "
                         f"pass --crs with its EPSG code (e.g. --crs 25832) / ukjent KOORDSYS {code}: oppgi --crs")
    return known


def known_codes() -> dict[int, Koordsys]:
    """Every code the reader knows (for tests and documentation)."""
    return dict(_table())
