"""SOSI attribute lines to flat properties.

``..KVALITET`` / ``...MÅLEMETODE 24`` becomes ``KVALITET.MÅLEMETODE = 24`` (names as written); an attribute
that repeats in one feature becomes a list; ``!`` starts a comment outside quotes; quoted values stay text,
unquoted single numbers become numbers.
"""

from __future__ import annotations

import re
from typing import Any

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def strip_comment(value: str) -> str:
    """``value`` without a trailing ``! comment`` (a ``!`` inside quotes is text)."""
    if "!" not in value:
        return value.strip()
    quoted = False
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif ch == "!" and not quoted:
            return value[:i].strip()
    return value.strip()


def parse_value(raw: str) -> Any:
    """A SOSI attribute value: quoted text, a number, several tokens as text, or ``None`` when empty."""
    if raw.isdigit():
        return raw if (len(raw) > 1 and raw[0] == "0") else int(raw)
    value = strip_comment(raw)
    if not value:
        return None
    if value[0] == '"' or value[0] == "'":
        quote = value[0]
        end = value.find(quote, 1)
        return value[1:end] if end > 0 else value[1:]
    if _INT.fullmatch(value):
        number = int(value)
        # codes with leading zeros ("0301") are identifiers, not numbers
        return value if (len(value) > 1 and value[0] == "0") else number
    if _FLOAT.fullmatch(value):
        return float(value)
    return value


class AttributeBuilder:
    """Collects the attribute lines of one feature (or the header) into a flat dict."""

    __slots__ = ("path", "values")

    def __init__(self) -> None:
        self.path: list[str] = []
        self.values: dict[str, Any] = {}

    def add(self, level: int, name: str, raw: str) -> None:
        """One line with ``level`` dots (2 for top-level attributes)."""
        depth = level - 2
        del self.path[depth:]
        depth = min(depth, len(self.path))
        self.path.append(name)
        value = parse_value(raw)
        if value is None:
            return  # a group head (``..KVALITET``) or an empty attribute
        key = ".".join(self.path) if depth else name
        if key in self.values:
            old = self.values[key]
            if isinstance(old, list):
                old.append(value)
            else:
                self.values[key] = [old, value]
        else:
            self.values[key] = value
