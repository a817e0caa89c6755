"""The ``.HODE`` of a SOSI file: character set, coordinate system, origin, unit, version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from layers.sosi.geometry import Transform


@dataclass
class Header:
    """What the reader needs from ``.HODE`` (everything else is kept in ``values``)."""

    tegnsett: str | None = None
    koordsys: int | None = None
    transform: Transform = field(default_factory=Transform)
    version: str | None = None
    vert_datum: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def _last(values: dict[str, Any], name: str) -> Any:
    """The value whose flattened key ends with ``name`` (``TRANSPAR.KOORDSYS`` or, in old files, ``KOORDSYS``)."""
    for key, value in values.items():
        if key == name or key.endswith("." + name):
            return value
    return None


def _pair(value: Any, source_name: str, what: str) -> tuple[float, float]:
    parts = str(value).split()
    try:
        return float(parts[0]), float(parts[1])
    except (IndexError, ValueError):
        from layers.errors import CorruptSource

        raise CorruptSource(f"{source_name}: ..{what} {value!r} is not two numbers (north east); fix the SOSI "
                            "header") from None


def build_header(values: dict[str, Any], source_name: str) -> Header:
    """Interpret the flattened ``.HODE`` attributes."""
    from layers.errors import CorruptSource

    origo = _last(values, "ORIGO-NØ")
    origo_n, origo_e = _pair(origo, source_name, "ORIGO-NØ") if origo is not None else (0.0, 0.0)
    try:
        enhet = float(_last(values, "ENHET") or 1.0)
        enhet_h = float(_last(values, "ENHET-H") or enhet)
    except (TypeError, ValueError):
        raise CorruptSource(f"{source_name}: ..ENHET {_last(values, 'ENHET')!r} is not a number; fix the SOSI "
                            "header") from None
    koordsys_raw = _last(values, "KOORDSYS")
    koordsys: int | None = None
    if koordsys_raw is not None:
        try:
            koordsys = int(str(koordsys_raw).split()[0])
        except ValueError:
            raise CorruptSource(f"{source_name}: ..KOORDSYS {koordsys_raw!r} is not a code number; fix the header "
                                "or pass --crs") from None
    tegnsett = _last(values, "TEGNSETT")
    version = _last(values, "SOSI-VERSJON")
    datum = _last(values, "VERT-DATUM")
    return Header(str(tegnsett) if tegnsett is not None else None, koordsys,
                  Transform(origo_n, origo_e, enhet, enhet_h), str(version) if version is not None else None,
                  str(datum) if datum is not None else None, dict(values))
