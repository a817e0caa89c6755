"""Where on a site each rule hits: the part of the site inside the rule's zone, for drawing in the report."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from constraints.index import ConstraintIndex
from constraints.measure import measure
from constraints.rules import RuleSet


def hit_areas(site: BaseGeometry, index: ConstraintIndex, rules: RuleSet,
              kommunenummer: str | None = None) -> dict[str, BaseGeometry]:
    """Per active rule id with a hit: the part of ``site`` (working CRS) inside the rule's zone.

    Line and point hits that leave no area (a zero-width rule crossed by a line) are not returned; the report
    still lists them from :func:`constraints.site.check_site`.
    """
    site = shapely.make_valid(site)
    zones = np.array([site], dtype=object)
    if kommunenummer is None and index.municipalities is not None:
        kommunenummer = index.municipalities.locate(zones)[0]
    out: dict[str, BaseGeometry] = {}
    for rule in rules.active_rules:
        zone_m, _, _ = rule.distances_for(kommunenummer)
        m = measure(zones, np.array([zone_m]), index.target(rule.id), with_parts=True)
        part = None if m.parts is None else m.parts[0]
        if part is not None and not part.is_empty and shapely.area(part) > 0:
            out[rule.id] = part
    return out
