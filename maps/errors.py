"""Typed errors of the map layer. Each message names the problem and the fix, in one line."""

from __future__ import annotations

from layers.errors import LayerError


class MapError(LayerError):
    """Base of the errors raised by ``maps`` (shown to users as is)."""


class MapAssetsMissing(MapError):
    """Leaflet and its plugins are not installed beside the service (``npm ci`` was not run)."""


class OfflineAssetError(MapError):
    """A map element asked for a script or stylesheet from the network; the maps never fetch from a CDN."""


class UnknownMap(MapError):
    """No map of this name exists (the export command and the routes know ``investor`` and ``planner``)."""
