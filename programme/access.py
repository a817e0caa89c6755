"""Who may see and change enquiries. The edge (``geo_service``) decides who the user is and hands an ``Actor``.

Enquiries are never public. A user of a member municipality sees the enquiries led by, handed to, or preferring
one of their municipalities; the regional sales team (acting for all seven) and admins see all.
Confidential enquiries are seen only by the lead municipality's users, those an enquiry or task was handed to,
and region-wide users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from layers.codes import KONGSBERGREGIONEN
from programme.errors import AccessDenied

WRITE_ROLES = frozenset({"editor", "admin"})


@dataclass(frozen=True)
class Actor:
    """A signed-in user as the domain sees them: a subject, a role and the municipalities they act for.

    Region-wide (sees every enquiry): admins, and users acting for all seven member municipalities (the
    regional sales team's keys or tokens name all seven).
    """

    subject: str
    role: str
    municipalities: frozenset[str] = field(default_factory=frozenset)

    @property
    def region_wide(self) -> bool:
        return self.role == "admin" or frozenset(KONGSBERGREGIONEN) <= self.municipalities

    def require_write(self) -> None:
        if self.role not in WRITE_ROLES:
            raise AccessDenied(f"role {self.role!r} may read but not change enquiries; "
                               f"it takes one of: {', '.join(sorted(WRITE_ROLES))}")

    def require_municipality(self, code: str) -> None:
        if not self.region_wide and code not in self.municipalities:
            raise AccessDenied(f"{self.subject} acts for {', '.join(sorted(self.municipalities)) or 'no municipality'}, "
                               f"not for {code}")


def may_see(actor: Actor, lead: str, involved: set[str], preferred: set[str], confidential: bool) -> bool:
    """Whether ``actor`` may see an enquiry led by ``lead`` (``involved``: municipalities handed work on it)."""
    if actor.region_wide:
        return True
    mine = actor.municipalities
    if lead in mine or mine & involved:
        return True
    return not confidential and bool(mine & preferred)
