"""Collection ids: safe in URLs, file names and SQL identifiers."""

from __future__ import annotations

import re

from layers.errors import InvalidLayerId

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_layer_id(layer_id: str) -> str:
    """Return ``layer_id`` if usable, else raise naming the rule."""
    if not _ID.match(layer_id):
        raise InvalidLayerId(
            f"layer id {layer_id!r} is not allowed; use 1–63 lower-case letters, digits, '-' or '_' "
            "starting with a letter or digit (e.g. 'ar5-kongsberg')"
        )
    return layer_id
