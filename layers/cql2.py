"""CQL2 filters and sort keys for feature queries (OGC API – Features Part 3 ``filter``, Records ``sortby``).

Filters are parsed by pygeofilter (``cql2-text`` or ``cql2-json``) into its AST; ``layers.cql2_sql`` checks
the AST against a layer's fields and turns it into a parameterised SQL condition for either store. Geometry
literals are in ``filter-crs`` (CRS84 by default) and are reprojected to the working CRS there.

What pygeofilter 0.4 cannot parse is a 400 naming the position: notably ``NOT (a OR b)`` in cql2-text (write
``NOT a AND NOT b``, or use cql2-json) and property names of one character.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pygeofilter import ast

from layers.crs import CRS84, OutputCrs
from layers.errors import InvalidQuery

FILTER_LANGS = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 100_000  # a filter longer than this is refused before parsing


@dataclass(frozen=True)
class Cql2Filter:
    """A parsed CQL2 filter: pygeofilter's AST and the CRS of its geometry literals."""

    node: ast.Node
    crs: OutputCrs = CRS84
    text: str = ""  # as sent, for messages


@dataclass(frozen=True)
class SortKey:
    """One ``sortby`` key: a property name and its direction."""

    name: str
    descending: bool = False


def parse_filter(text: str, lang: str | None = None, crs: OutputCrs = CRS84) -> Cql2Filter:
    """Parse ``text`` as ``lang`` (``cql2-text`` by default); ``InvalidQuery('filter')`` when it is not CQL2."""
    lang = (lang or "cql2-text").strip().lower()
    if lang not in FILTER_LANGS:
        raise InvalidQuery("filter-lang", f"filter-lang={lang!r} støttes ikke / is not supported; "
                           f"use {' or '.join(FILTER_LANGS)}")
    if not text.strip():
        raise InvalidQuery("filter", "filter er tomt / the filter is empty")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidQuery("filter", f"filter er for langt / the filter is longer than {MAX_FILTER_CHARS} characters")
    try:
        if lang == "cql2-json":
            from pygeofilter.parsers.cql2_json import parse as parse_cql2_json  # lark grammar: load when used

            node = parse_cql2_json(_standard_json(json.loads(text)))
        else:
            from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

            node = parse_cql2_text(text)
    except json.JSONDecodeError as exc:
        raise InvalidQuery("filter", f"filter er ikke gyldig JSON / the cql2-json filter is not valid JSON: "
                           f"{exc.msg} at character {exc.pos}") from None
    except Exception as exc:  # noqa: BLE001 - lark and pygeofilter raise many kinds; all mean "not CQL2"
        raise InvalidQuery("filter", f"filteret kan ikke tolkes / the filter cannot be parsed as {lang}: "
                           f"{_parse_problem(exc)}") from None
    if not isinstance(node, ast.Node):
        raise InvalidQuery("filter", f"filteret er ikke et vilkår / the filter is not a condition: {text!r}")
    return Cql2Filter(node, crs, text)


def parse_sortby(text: str | None) -> tuple[SortKey, ...]:
    """``sortby=+a,-b,c`` (no sign or ``+``: ascending; ``-``: descending; ``a DESC`` also read)."""
    if text is None or not text.strip():
        return ()
    keys: list[SortKey] = []
    for raw in text.split(","):
        item = raw.strip()
        descending = False
        if item[:1] in "+-" and item:
            descending, item = item[0] == "-", item[1:].strip()
        else:
            head, _, direction = item.rpartition(" ")
            if head and direction.upper() in ("ASC", "DESC"):
                descending, item = direction.upper() == "DESC", head.strip()
        if not item:
            raise InvalidQuery("sortby", f"sortby={text!r}: tomt egenskapsnavn / empty property name; "
                               "write e.g. sortby=-area_daa,navn")
        if any(k.name == item for k in keys):
            raise InvalidQuery("sortby", f"sortby={text!r}: {item!r} står to ganger / is given twice")
        keys.append(SortKey(item, descending))
    return tuple(keys)


def check_sortby(fields: dict[str, str], keys: tuple[SortKey, ...], layer_id: str) -> None:
    """``InvalidQuery('sortby')`` naming the first key that is no property of the layer."""
    for key in keys:
        if key.name not in fields:
            raise InvalidQuery("sortby", f"{layer_id!r} har ingen egenskap / has no property {key.name!r} to sort by; "
                               f"sortables: {', '.join(fields)}")


def _standard_json(node: Any) -> Any:
    """CQL2-JSON as pygeofilter 0.4 reads it: ``between`` with ``[a, low, high]`` (the standard's form)
    becomes ``[a, [low, high]]`` (the draft form pygeofilter expects), and ``{"bbox": [minx, miny, maxx,
    maxy]}`` is reordered to the ``Envelope(x1, x2, y1, y2)`` pygeofilter builds from it (6 numbers: the
    heights are dropped); everything else is unchanged."""
    if isinstance(node, list):
        return [_standard_json(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _standard_json(v) for k, v in node.items()}
    box = out.get("bbox")
    if isinstance(box, list) and len(box) in (4, 6):  # pygeofilter reads [x1, x2, y1, y2]; CQL2 has minx, miny, …
        half = len(box) // 2
        out["bbox"] = [box[0], box[half], box[1], box[half + 1]]
    args = out.get("args")
    if out.get("op") == "between" and isinstance(args, list) and len(args) == 3:
        out["args"] = [args[0], [args[1], args[2]]]
    return out


def _parse_problem(exc: Exception) -> str:
    """A one-line description of a parse error (lark gives a position; others a message)."""
    column = getattr(exc, "column", None)
    token = getattr(exc, "token", None)
    if token is not None and column is not None:
        return f"unexpected {str(token)!r} at column {column}" if str(token) else "unexpected end of the filter"
    char = getattr(exc, "char", None)
    if char is not None and column is not None:
        return f"unexpected {char!r} at column {column}"
    first = str(exc).strip().splitlines()
    return first[0] if first else type(exc).__name__
