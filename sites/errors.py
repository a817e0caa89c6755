"""Typed errors of the site portfolio; ``geo_service.errors`` maps them to HTTP statuses."""

from __future__ import annotations


class SitesError(Exception):
    """Base class of site-portfolio errors."""


class SiteNotFound(SitesError):
    """No site with that id in the current ``sites`` version."""


class SearchCriteriaError(SitesError):
    """A search criterion is invalid; ``parameter`` names it (e.g. ``criteria[1].attribute``)."""

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class RoutingError(SitesError):
    """The road network cannot answer (no road layer, a point far outside it, bad minutes)."""

    def __init__(self, message: str, parameter: str = "") -> None:
        super().__init__(message)
        self.parameter = parameter


class NoRoadNetwork(RoutingError):
    """No road layer with drivable lines is published."""


class SitesConfigError(SitesError):
    """The routing / site configuration file is invalid (an operator must fix it)."""
