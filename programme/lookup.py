"""The facts of an offered site as they are now, read from the store: ``<collection>:<feature id>`` (the site
register ``sites``, or a ``business-areas`` feature), with the layer versions they come from."""

from __future__ import annotations

from typing import Any

import numpy as np

from layers.errors import FeatureNotFound, LayerNotFound
from layers.store import Store
from programme.errors import InvalidEnquiry

OFFERABLE = ("sites", "business-areas")


def site_facts(store: Store, site_id: str) -> tuple[dict[str, Any], dict[str, int]]:
    """(facts, layer versions) of ``site_id``; ``InvalidEnquiry('site_id')`` when it names no site."""
    collection, _, fid = site_id.partition(":")
    if collection not in OFFERABLE or not fid.isascii() or not fid.isdigit() or len(fid) > 18:
        raise InvalidEnquiry("site_id", f"{site_id!r} is not a site id; use '<collection>:<feature id>' with "
                                        f"a collection of {', '.join(OFFERABLE)}, e.g. 'sites:12'")
    try:
        layer = store.get_layer(collection)
        page = store.get_feature(layer.current, int(fid))
    except (LayerNotFound, FeatureNotFound):
        raise InvalidEnquiry("site_id", f"there is no site {site_id!r} in the current version") from None
    facts = {k: _plain(v) for k, v in page.properties[0].items()}
    versions = {collection: layer.current.version, **(layer.current.provenance.get("inputs") or {})}
    return facts, versions


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
