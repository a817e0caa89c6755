"""Who is asking: a frozen ``Principal`` (subject, role, municipalities), decided at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """reader < editor < admin; each role may do everything the ones below it may."""

    anonymous = "anonymous"
    reader = "reader"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        """True when this role is ``needed`` or above it."""
        return self.rank >= needed.rank


_RANK = {Role.anonymous: 0, Role.reader: 1, Role.editor: 2, Role.admin: 3}


def parse_role(value: str) -> Role:
    """A role named by a key or CLI option; ``ValueError`` lists the roles."""
    try:
        role = Role(value.strip().lower())
    except ValueError:
        role = Role.anonymous
    if role is Role.anonymous:
        raise ValueError(f"unknown role {value!r}; use reader, editor or admin")
    return role


@dataclass(frozen=True)
class Principal:
    """A signed-in user or script (or nobody): passed to domain code as plain values."""

    subject: str
    role: Role
    municipalities: tuple[str, ...] = ()
    method: str = "anonymous"  # oidc | key | session | anonymous
    key_id: str | None = None  # the API key this came from (checked for revocation on every request)

    @property
    def signed_in(self) -> bool:
        return self.role is not Role.anonymous

    @property
    def all_municipalities(self) -> bool:
        """Admins act for the whole region."""
        return self.role is Role.admin

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.method}:{self.subject}"


ANONYMOUS = Principal("anonymous", Role.anonymous)
