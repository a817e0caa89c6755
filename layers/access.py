"""What the catalog keeps beside layers for the web path: API keys (hashed) and the audit log of writes.

Plain records only; hashing, tokens and roles are decided at the edge (``geo_service.auth``) and handed in
as values. Both stores keep these with their catalog (``catalog.sqlite`` tables; ``geo_catalog`` tables).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key for scripts: only the Argon2 hash of its secret is stored."""

    key_id: str
    name: str
    role: str  # reader | editor | admin
    municipalities: tuple[str, ...]
    secret_hash: str
    created: datetime
    expires: datetime | None = None
    revoked: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One write: who, when, what, from which file (name and sha256), and how it ended."""

    actor: str  # "key:<id>", "oidc:<subject>", "cli:<user>"
    action: str  # upload, publish, discard, rollback, remove, restore, item-create, key-create, …
    target: str  # layer id, upload id or key id
    result: str  # ok | refused | failed
    at: datetime | None = None  # set by the store when None
    source_name: str = ""
    source_sha256: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    entry_id: int = 0


@dataclass(frozen=True)
class RemovedLayer:
    """A soft-deleted layer: hidden from readers and the analysis, restorable until ``purge_after``."""

    id: str
    kind: str
    title: str
    removed: datetime
    versions: int


def with_layer_meta(meta: Any) -> dict[str, Any]:
    """A version's provenance with the layer's title, description and attribution at publish time, so a
    rollback can restore them (``meta`` is a ``layers.store.LayerMeta``)."""
    return {**meta.provenance, "layer": {"title": meta.title, "description": meta.description,
                                         "attribution": meta.attribution}}


def public_provenance(provenance: dict[str, Any]) -> dict[str, Any]:
    """A version's provenance as the publisher gave it (the layer metadata kept for rollback left out)."""
    if isinstance(provenance, dict) and "layer" in provenance:
        return {k: v for k, v in provenance.items() if k != "layer"}
    return provenance


def version_meta(provenance: dict[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    """Title, description and attribution recorded with a version (None for versions published before)."""
    layer = (provenance or {}).get("layer") or {}
    return layer.get("title") or None, layer.get("description"), layer.get("attribution")
