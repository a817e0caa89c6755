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
