"""Typed errors of the programme domain; ``geo_service/errors.py`` maps them to HTTP status codes."""

from __future__ import annotations


class ProgrammeError(ValueError):
    """Base class: a message a user can act on (a ValueError: bad input, refused, never a server fault)."""


class EnquiryNotFound(ProgrammeError):
    """No enquiry with that id (or none the actor may see: the same answer, so ids do not leak)."""


class TransitionRefused(ProgrammeError):
    """The status change is not allowed from the enquiry's current status (names both and the allowed ones)."""


class InvalidEnquiry(ProgrammeError):
    """A field of an enquiry, a capacity declaration or an import row is wrong; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AccessDenied(ProgrammeError):
    """The actor's role or municipalities do not allow this action."""
