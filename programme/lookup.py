"""The facts of an offered site as they are now, read from the store, with the layer versions they come from.

A site is named as the site register names it (``ba-123`` for a business area, ``pr-<layer>-<fid>`` for
premises: the ``site_id`` of the ``sites`` collection), or as ``business-areas:<feature id>`` where no site
register has been computed.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from layers.errors import FeatureNotFound, LayerNotFound
from layers.store import Store
from programme.errors import InvalidEnquiry

SITES = "sites"
BUSINESS_AREAS = "business-areas"
_SITE_ID = re.compile(r"^[a-z]{2}-[a-z0-9_.-]{1,80}$")


def site_facts(store: Store, site_id: str) -> tuple[dict[str, Any], dict[str, int]]:
    """(facts, layer versions) of ``site_id``; ``InvalidEnquiry('site_id')`` when it names no current site."""
    collection, _, fid = site_id.partition(":")
    try:
        if collection == BUSINESS_AREAS and fid.isascii() and fid.isdigit() and len(fid) <= 18:
            layer = store.get_layer(BUSINESS_AREAS)
            properties = store.get_feature(layer.current, int(fid)).properties
        elif _SITE_ID.match(site_id):
            layer = store.get_layer(SITES)
            properties = store.query(layer.current, None, {"site_id": site_id}, 1, 0).properties
        else:
            raise InvalidEnquiry("site_id", f"{site_id!r} is not a site id; use the site register's id (e.g. "
                                            f"'ba-123') or 'business-areas:<feature id>'")
    except (LayerNotFound, FeatureNotFound):
        properties = []
    if not properties:
        raise InvalidEnquiry("site_id", f"there is no site {site_id!r} in the current version")
    facts = {k: _plain(v) for k, v in properties[0].items()}
    versions = {layer.id: layer.current.version, **(layer.current.provenance.get("inputs") or {})}
    return facts, versions


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
