"""AR5 area report for a site: how much of it is each arealtype, as NIBIO Kilden's "arealrapport" gives it.

Per AR5 arealtype (code, name) the area in m² and dekar and the share of the site, largest first, plus the
part of the site no AR5 polygon covers (outside the layers' coverage or in a gap; not AR5 class 99
"ikke kartlagt", which is a mapped value), so the rows add up to the site. Overlapping AR5 polygons (an unclean coverage) are counted once, by the union
per class, so the rows never add up to more than the site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from constraints.findings import M2_PER_DAA
from constraints.inputs import ConstraintLayer
from layers.codes import AR5_AREALTYPE, AR5_DYRKA_JORD

AREALTYPE_COLUMN = "arealtype"
UNMAPPED = "unmapped"  # the row for the part outside every farmland layer's coverage


@dataclass(frozen=True)
class Ar5Row:
    """One arealtype's share of the site (``code`` None for the unmapped rest)."""

    code: int | None
    name: str
    area_m2: float
    area_daa: float
    share: float
    dyrka_jord: bool


@dataclass(frozen=True)
class Ar5Breakdown:
    """The site's AR5 breakdown; ``layers`` are the farmland layers read (empty: none loaded)."""

    site_area_m2: float
    rows: list[Ar5Row]
    layers: list[str]

    @property
    def dyrka_jord_m2(self) -> float:
        """Area of the classes that are dyrka jord (21, 22, 23)."""
        return sum(r.area_m2 for r in self.rows if r.dyrka_jord)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return {"site_area_m2": self.site_area_m2, "layers": list(self.layers),
                "dyrka_jord_m2": self.dyrka_jord_m2, "dyrka_jord_daa": self.dyrka_jord_m2 / M2_PER_DAA,
                "rows": [asdict(r) for r in self.rows]}


def ar5_breakdown(site: BaseGeometry, layers: Iterable[ConstraintLayer]) -> Ar5Breakdown:
    """Area of ``site`` per AR5 arealtype over the given farmland layers (working CRS, metres)."""
    layers = [layer for layer in layers if AREALTYPE_COLUMN in layer.frame.columns]
    area = float(shapely.area(site))
    by_code: dict[int, list[BaseGeometry]] = {}
    for layer in layers:
        frame = layer.frame
        idx = frame.sindex.query(site, predicate="intersects")
        if len(idx) == 0:
            continue
        geoms = shapely.make_valid(np.asarray(frame.geometry.values[idx], dtype=object))
        pieces = shapely.intersection(geoms, site)
        codes = pd.to_numeric(frame[AREALTYPE_COLUMN].iloc[idx], errors="coerce").to_numpy()
        for code, piece in zip(codes, pieces, strict=True):
            if np.isnan(code) or shapely.area(piece) <= 0:
                continue
            by_code.setdefault(int(code), []).append(piece)
    rows: list[Ar5Row] = []
    for code, pieces in by_code.items():
        m2 = float(shapely.area(shapely.union_all(pieces))) if len(pieces) > 1 else float(shapely.area(pieces[0]))
        rows.append(_row(code, AR5_AREALTYPE.get(code, str(code)), m2, area))
    rows.sort(key=lambda r: -r.area_m2)
    outside = area - sum(r.area_m2 for r in rows)
    if outside > 0.5:
        rows.append(_row(None, "Ikke kartlagt", outside, area))
    return Ar5Breakdown(site_area_m2=area, rows=rows, layers=[layer.id for layer in layers])


def _row(code: int | None, name: str, m2: float, site_m2: float) -> Ar5Row:
    return Ar5Row(code=code, name=name, area_m2=m2, area_daa=m2 / M2_PER_DAA,
                  share=m2 / site_m2 if site_m2 > 0 else 0.0, dyrka_jord=code in AR5_DYRKA_JORD)
