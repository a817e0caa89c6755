"""The derived, versioned ``sites`` collection: read the portfolio inputs, build the register, publish it.

Recomputed like ``objection-risk`` and ``business-areas``: only when an input layer or the site configuration
changed (for the derived inputs, when their content changed: a forced analysis with the same results leaves the
register as it is), one refresh at a time across every process on the store, with provenance (the input
layer versions, the configuration hash, and which layers each group of facts came from).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from constraints.publish import BUSINESS_AREAS, CONTENT_KEY, OBJECTION_RISK
from layers.crs import WORKING_EPSG
from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.store import LayerMeta, LayerRecord, Store, VersionRecord
from sites.config import SitesConfig

if TYPE_CHECKING:
    from sites.register import PortfolioFrames

SITES = "sites"
PORTFOLIO_KINDS: dict[str, LayerKind] = {
    "zoning": LayerKind.zoning, "premises": LayerKind.premises, "power": LayerKind.power,
    "broadband": LayerKind.broadband, "poi": LayerKind.poi, "transport": LayerKind.transport,
    "population": LayerKind.population, "roads": LayerKind.road, "municipalities": LayerKind.municipality,
}
# Which input groups each fact comes from (shown with every site, with the layer versions).
FACT_SOURCES: dict[str, tuple[str, ...]] = {
    "planning": ("business", "risk", "zoning"),
    "premises": ("premises",),
    "road_access": ("roads", "transport", "municipalities"),
    "power": ("power",),
    "broadband": ("broadband",),
    "workforce": ("roads", "population"),
    "competence": ("poi",),
}
_lock = threading.Lock()


@dataclass(frozen=True)
class PortfolioInputs:
    """The current layers the register is computed from, by input group."""

    groups: dict[str, list[LayerRecord]] = field(default_factory=dict)

    def versions(self) -> dict[str, int]:
        """Layer id -> version (shown with the register; the key of staleness where no content is known)."""
        return {r.id: r.current.version for records in self.groups.values() for r in records}

    def contents(self) -> dict[str, str]:
        """Layer id -> content fingerprint, for the derived layers that record one (see ``content_fingerprint``).

        A new version of ``business-areas`` or ``objection-risk`` with the same content (``analyse --force``
        on unchanged inputs) leaves the register current.
        """
        return {r.id: str(r.current.provenance[CONTENT_KEY]) for records in self.groups.values() for r in records
                if r.current.provenance.get(CONTENT_KEY)}

    def sources(self) -> dict[str, list[str]]:
        """Input group -> layer ids."""
        return {group: sorted(r.id for r in records) for group, records in self.groups.items() if records}


def portfolio_inputs(store: Store) -> PortfolioInputs:
    """The published layers the register reads (the derived ``sites`` itself excluded)."""
    layers = [r for r in store.list_layers() if r.id != SITES]
    groups: dict[str, list[LayerRecord]] = {
        "business": [r for r in layers if r.id == BUSINESS_AREAS],
        "risk": [r for r in layers if r.id == OBJECTION_RISK],
    }
    for group, kind in PORTFOLIO_KINDS.items():
        groups[group] = sorted((r for r in layers if r.kind == kind), key=lambda r: r.id)
    return PortfolioInputs(groups)


def is_stale(store: Store, config: SitesConfig, inputs: PortfolioInputs | None = None) -> bool:
    """True when ``sites`` is missing or was computed from other inputs or another configuration."""
    inputs = inputs or portfolio_inputs(store)
    try:
        provenance = store.get_layer(SITES).current.provenance
    except LayerNotFound:
        return True
    if provenance.get("config_hash") != config.hash():
        return True
    used, versions, contents = provenance.get("inputs") or {}, inputs.versions(), inputs.contents()
    known = provenance.get(CONTENT_KEY) or {}
    if set(used) != set(versions):
        return True
    return any(known.get(layer_id) != contents[layer_id] if layer_id in contents else used[layer_id] != version
               for layer_id, version in versions.items())


def read_frames(store: Store, inputs: PortfolioInputs) -> PortfolioFrames:
    """Every input group as one frame (layers of one kind joined, with ``source_layer``/``source_fid``)."""
    # imported here: the register's modules (routing needs scipy) load only when the register is built
    from sites.register import PortfolioFrames

    def joined(records: list[LayerRecord]) -> gpd.GeoDataFrame | None:
        frames = []
        for record in records:
            frame = store.read_frame(record.current)
            frame["source_layer"] = record.id
            frame["source_fid"] = frame.index.to_numpy()
            frames.append(frame)
        if not frames:
            return None
        if len(frames) == 1:
            return frames[0]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry",
                                crs=f"EPSG:{WORKING_EPSG}")

    return PortfolioFrames(**{group: joined(records) for group, records in inputs.groups.items()})


def refresh_sites(store: Store, config: SitesConfig, *, force: bool = False) -> list[VersionRecord]:
    """Recompute and publish ``sites`` when stale; returns the version published (or nothing)."""
    with _lock, store.exclusive("sites-register"):
        inputs = portfolio_inputs(store)
        if not inputs.groups["business"] and not inputs.groups["premises"]:
            return []
        if not (force or is_stale(store, config, inputs)):
            return []
        from sites.register import build_register

        register = build_register(read_frames(store, inputs), config)
        if register.empty:
            return []
        provenance: dict[str, Any] = {
            "derived": True,
            "inputs": inputs.versions(),
            CONTENT_KEY: inputs.contents(),
            "sources": inputs.sources(),
            "fact_sources": {fact: list(groups) for fact, groups in FACT_SOURCES.items()},
            "config_hash": config.hash(),
            "routing": config.routing.model_dump(mode="json"),
        }
        names = ", ".join(f"{k} v{v}" for k, v in inputs.versions().items())
        meta = LayerMeta(
            kind=LayerKind.other, title="Tomter og lokaler – investorportefølje",
            description=("Derived: every pre-approved or reserve business area and every premises record with "
                         "net available area, planning status, objection risk, road access, power, broadband, "
                         f"workforce within drive times and competence environments, computed from {names}."),
            attribution="Computed by geo-service from the input layers' data", provenance=provenance)
        return [store.publish(SITES, register, meta)]
