"""What an enquiry is: the company, its needs, where it came from, and who is responsible (pydantic)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from layers.codes import FORMER_CODES, KONGSBERGREGIONEN

_NACE = re.compile(r"^[A-U](\d{2}(\.\d{1,3})?)?$")


def _org_number_ok(value: str) -> bool:
    """Brønnøysund organisation number: 9 digits, modulus-11 check digit (weights 3 2 7 6 5 4 3 2)."""
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:8], (3, 2, 7, 6, 5, 4, 3, 2), strict=True))
    check = 11 - total % 11
    return (0 if check == 11 else check) == int(value[8]) and check != 10


def _municipality(code: str) -> str:
    code = FORMER_CODES.get(code.strip(), code.strip())  # 2020-2023 codes are accepted and stored as 2024 codes
    if code not in KONGSBERGREGIONEN:
        known = ", ".join(f"{k} {v}" for k, v in KONGSBERGREGIONEN.items())
        raise ValueError(f"{code!r} is not a member municipality; use one of: {known}")
    return code


Member = Annotated[str, AfterValidator(_municipality)]
"""A member municipality's number (2020–2023 codes accepted and stored as the 2024 code)."""


class Needs(BaseModel):
    """What the company needs; every field optional, units in the names."""

    model_config = ConfigDict(extra="forbid")

    land_daa: float | None = Field(None, ge=0, le=100_000)
    premises_m2: float | None = Field(None, ge=0, le=10_000_000)
    power_mw: float | None = Field(None, ge=0, le=10_000)
    jobs: int | None = Field(None, ge=0, le=100_000)
    timeline: str | None = Field(None, max_length=200, description="e.g. 'decision Q3 2027, in operation 2029'")
    preferred_municipalities: list[Member] = Field(default_factory=list)
    requirements: str | None = Field(None, max_length=5_000, description="other requirements as text")

    @field_validator("preferred_municipalities")
    @classmethod
    def _once(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class EnquiryIn(BaseModel):
    """A new enquiry as a user registers it."""

    model_config = ConfigDict(extra="forbid")

    company: str = Field(min_length=1, max_length=200)
    org_number: str | None = Field(None, description="9-digit organisation number (Brønnøysundregistrene)")
    nace: str | None = Field(None, description="sector as a NACE code, e.g. C26.1 or J63 (section letter first)")
    contact_name: str | None = Field(None, max_length=200)
    contact_email: str | None = Field(None, max_length=200)
    contact_phone: str | None = Field(None, max_length=50)
    needs: Needs = Field(default_factory=Needs)
    source: str | None = Field(None, max_length=200, description="who brought the enquiry")
    confidential: bool = True
    lead_municipality: Member
    lead_planner: str | None = Field(None, max_length=200)
    received: datetime | None = Field(None, description="when the enquiry came in (default: now)")

    @field_validator("org_number")
    @classmethod
    def _org(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = value.replace(" ", "")
        if not _org_number_ok(value):
            raise ValueError(f"{value!r} is not a valid organisation number (9 digits, modulus-11 check digit)")
        return value

    @field_validator("nace")
    @classmethod
    def _nace(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = value.strip().upper()
        if not _NACE.match(value):
            raise ValueError(f"{value!r} is not a NACE code (a section letter A–U, then e.g. 26 or 26.1)")
        return value


class Enquiry(EnquiryIn):
    """A registered enquiry with its id, status and dates."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: str
    decision_reason: str | None = None
    created_by: str
    updated: datetime


class Event(BaseModel):
    """One line of an enquiry's history (who, when, what)."""

    id: int
    enquiry_id: str
    at: datetime
    actor: str
    action: str  # created | status | handover | offer | edit | task
    from_status: str | None = None
    to_status: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Offer(BaseModel):
    """A site offered to an enquiry, with its facts as they were when offered (site id + layer versions)."""

    id: int
    enquiry_id: str
    site_id: str
    offered_at: datetime
    offered_by: str
    facts: dict[str, Any]
    layer_versions: dict[str, int]


class Task(BaseModel):
    """A piece of planning work on an enquiry, owned by a planner in a municipality (can be handed over)."""

    id: int
    enquiry_id: str
    title: str
    hours_per_week: float
    municipality: str
    planner: str | None
    done: bool
    created: datetime


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    hours_per_week: float = Field(ge=0, le=80)
    municipality: Member
    planner: str | None = Field(None, max_length=200)


class Handover(BaseModel):
    """Responsibility for an enquiry (or one task on it) moves to a planner in another municipality."""

    model_config = ConfigDict(extra="forbid")

    to_municipality: Member
    to_planner: str | None = Field(None, max_length=200)
    task_id: int | None = None
    reason: str | None = Field(None, max_length=1_000)


class CapacityIn(BaseModel):
    """A municipality's planning capacity for enquiries in a period (hours per week)."""

    model_config = ConfigDict(extra="forbid")

    municipality: Member
    period_start: date
    period_end: date
    hours_per_week: float = Field(ge=0, le=2_000)
    planners: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> CapacityIn:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class Capacity(CapacityIn):
    declared_by: str
    declared_at: datetime
