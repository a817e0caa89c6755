"""Checks of a source's text before GDAL reads it, where GDAL would stay silent or say something misleading.

* GML/XML: parsed once with expat (C speed, ~60 MB/s) with every entity declaration refused, so entity expansion
  ("billion laughs") and external entities (XXE) are never processed; an undeclared entity, cut-off or
  otherwise malformed XML is named with its line; a file mixing CRSs in ``srsName`` is refused.
* GeoJSON: the CRS the file declares (``"crs"`` member) must be one pyproj knows; GDAL reads an unknown one as
  EPSG:4326 without a word.
"""

from __future__ import annotations

import re
from typing import BinaryIO
from xml.parsers import expat

from pyproj import CRS
from pyproj.exceptions import CRSError

from layers.errors import CorruptSource, MissingCRS

_CHUNK = 1 << 20
_SRS = re.compile(rb'srsName\s*=\s*["\']([^"\']+)["\']')
_SRS_CODE = re.compile(r"(\d+)\s*$")
_CUT_OFF = {expat.errors.codes[e] for e in (expat.errors.XML_ERROR_NO_ELEMENTS, expat.errors.XML_ERROR_UNCLOSED_TOKEN,
                                            expat.errors.XML_ERROR_PARTIAL_CHAR,
                                            expat.errors.XML_ERROR_UNCLOSED_CDATA_SECTION)}
_UNDEFINED = expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY]


class _EntityDeclared(Exception):
    def __init__(self, name: str, external: str | None) -> None:
        super().__init__(name)
        self.name = name
        self.external = external


def check_xml(stream: BinaryIO, shown: str) -> None:
    """Refuse DTD entities, name XML errors by line, and refuse mixed ``srsName`` CRSs; reads the whole stream."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def declared(name: str, _is_param: int, _value: str | None, _base: str | None, system_id: str | None,
                 _public_id: str | None, _notation: str | None) -> None:
        raise _EntityDeclared(name, system_id)

    def external(_context: str, _base: str | None, system_id: str | None, _public_id: str | None) -> int:
        raise _EntityDeclared(_context or "?", system_id or "?")

    parser.EntityDeclHandler = declared
    parser.ExternalEntityRefHandler = external
    codes: dict[str, str] = {}
    tail = b""
    try:
        while chunk := stream.read(_CHUNK):
            for match in _SRS.finditer(tail + chunk):
                name = match.group(1).decode("utf-8", "replace")
                code = _SRS_CODE.search(name)
                codes.setdefault(code.group(1) if code else name, name)
            tail = chunk[-200:]
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except _EntityDeclared as refused:
        what = f"the external entity {refused.name!r} ({refused.external})" if refused.external else (
            f"the XML entity {refused.name!r}")
        raise CorruptSource(f"{shown}: declares {what} in a DOCTYPE; XML entities are refused (never expanded "
                            "nor fetched): remove the DOCTYPE, or export the GML again without it") from None
    except expat.ExpatError as exc:
        where = f"line {exc.lineno}, column {exc.offset + 1}"
        if exc.code == _UNDEFINED:
            raise CorruptSource(f"{shown}: undeclared XML entity at {where} (a bare '&' in a text? write it as "
                                "&amp;); fix the text there or export the GML again") from None
        if exc.code in _CUT_OFF:
            raise CorruptSource(f"{shown}: the XML is cut off or malformed at {where} (an interrupted download or "
                                "export?); download or export it again") from None
        raise CorruptSource(f"{shown}: not well-formed XML ({expat.ErrorString(exc.code)} at {where}); "
                            "export it again") from None
    if len(codes) > 1:
        raise CorruptSource(f"{shown}: mixes coordinate reference systems in srsName ({', '.join(codes.values())}); "
                            "export one CRS per file (or reproject to one) and add each file") from None


_CRS_MEMBER = re.compile(rb'"crs"\s*:\s*\{')
_CRS_NAME = re.compile(rb'"name"\s*:\s*"([^"]*)"')


def check_geojson_crs(head: bytes, shown: str) -> None:
    """A CRS declared in the first bytes of a GeoJSON must be known (``head``: the first MiB or so)."""
    member = _CRS_MEMBER.search(head)
    if member is None:
        return
    window = head[member.end(): member.end() + 600]
    named = _CRS_NAME.search(window)
    if named is None:
        return
    name = named.group(1).decode("utf-8", "replace")
    try:
        CRS.from_user_input(name)
    except CRSError:
        raise MissingCRS(f"{shown}: declares the coordinate reference system {name!r}, which is unknown (not in "
                         "the EPSG registry); correct the file's \"crs\" member or pass --crs with the real EPSG "
                         "code, e.g. --crs 25832") from None
