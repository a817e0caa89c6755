"""Query parameters of ``/items`` beyond Part 1: ``filter``, ``filter-lang``, ``filter-crs`` (Part 3) and
``sortby``, read once into the typed objects the stores take (``layers.cql2``)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams

from layers.cql2 import Cql2Filter, SortKey, parse_filter, parse_sortby
from layers.crs import parse_crs_uri
from layers.errors import InvalidQuery

PARAMETERS = ("filter", "filter-lang", "filter-crs", "sortby")


@dataclass(frozen=True)
class ItemsSelection:
    """The CQL2 filter (or None) and the sort keys of one ``/items`` request."""

    cql: Cql2Filter | None
    sortby: tuple[SortKey, ...]


def items_selection(query: QueryParams) -> ItemsSelection:
    """Parse ``filter``/``filter-lang``/``filter-crs``/``sortby`` (each at most once) or raise ``InvalidQuery``."""
    for name in PARAMETERS:
        if len(query.getlist(name)) > 1:
            raise InvalidQuery(name, f"{name} er gitt flere ganger / is given more than once; give it once "
                               "(combine conditions with AND)")
    text = query.get("filter")
    crs = parse_crs_uri(query.get("filter-crs"), "filter-crs")
    cql = parse_filter(text, query.get("filter-lang"), crs) if text is not None else None
    return ItemsSelection(cql, parse_sortby(query.get("sortby")))
