"""The enquiry workflow on both databases: every allowed transition, forbidden ones refused, history audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from programme.errors import AccessDenied, EnquiryNotFound, InvalidEnquiry, TransitionRefused
from programme.model import EnquiryIn, Handover, TaskIn
from programme.register import EnquiryRegister
from programme.workflow import workflow
from tests.programme.conftest import KONGSBERG, NOTODDEN, READER, SALES, T0


def _new(register: EnquiryRegister, **over: object) -> str:
    data = {"company": "Testbedrift AS", "org_number": "923 609 016", "nace": "c26.5",
            "needs": {"land_daa": 20, "power_mw": 5, "jobs": 40, "preferred_municipalities": ["3006", "4005"]},
            "lead_municipality": "3303", "received": T0, **over}
    return register.create(KONGSBERG, EnquiryIn.model_validate(data), at=T0).id


def test_create_normalises_and_records_history(register: EnquiryRegister) -> None:
    enquiry = register.get(KONGSBERG, _new(register))
    assert enquiry.id == "H-2025-0001" and enquiry.status == "new"
    assert enquiry.org_number == "923609016" and enquiry.nace == "C26.5"
    assert enquiry.needs.preferred_municipalities == ["3303", "4005"]  # 3006 is Kongsberg's 2020 code
    history = register.history(KONGSBERG, enquiry.id)
    assert [(h.action, h.to_status, h.actor) for h in history] == [("created", "new", "kari@kongsberg")]


def test_every_allowed_transition_and_its_history(register: EnquiryRegister) -> None:
    eid = _new(register)
    steps = [("clarifying", None), ("sites_offered", None), ("clarifying", None), ("sites_offered", None),
             ("established", "valgte Kongsberg")]
    for k, (target, reason) in enumerate(steps, start=1):
        register.transition(KONGSBERG, eid, target, reason, at=T0 + timedelta(days=k))
    enquiry = register.get(KONGSBERG, eid)
    assert enquiry.status == "established" and enquiry.decision_reason == "valgte Kongsberg"
    history = register.history(KONGSBERG, eid)
    assert [(h.from_status, h.to_status) for h in history[1:]] == [
        ("new", "clarifying"), ("clarifying", "sites_offered"), ("sites_offered", "clarifying"),
        ("clarifying", "sites_offered"), ("sites_offered", "established")]
    assert history[-1].detail == {"reason": "valgte Kongsberg"} and history[-1].at == T0 + timedelta(days=5)


@pytest.mark.parametrize(("path", "target", "reason", "message"), [
    ([], "established", "x", "cannot go to 'established'; allowed: clarifying, sites_offered, lost, withdrawn"),
    (["clarifying"], "established", "x", "cannot go to 'established'"),
    (["clarifying", "sites_offered"], "lost", None, "needs a reason"),
    (["clarifying", "sites_offered", "established"], "clarifying", None, "allowed: none (the enquiry is decided)"),
    (["withdrawn"], "new", None, "allowed: none"),
    ([], "approved", None, "unknown status 'approved'"),
])
def test_forbidden_transitions_are_refused(register: EnquiryRegister, path: list[str], target: str,
                                           reason: str | None, message: str) -> None:
    eid = _new(register)
    for step in path:
        register.transition(KONGSBERG, eid, step, "grunn" if workflow().status(step).decision else None)
    before = register.history(KONGSBERG, eid)
    with pytest.raises(TransitionRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        register.transition(KONGSBERG, eid, target, reason)
    assert register.history(KONGSBERG, eid) == before  # nothing written


def test_access_by_role_and_municipality(register: EnquiryRegister) -> None:
    secret = _new(register, company="Hemmelig AS", confidential=True)
    open_one = _new(register, company="Åpen AS", confidential=False)
    assert {e.id for e in register.list(KONGSBERG)} == {secret, open_one}
    # Notodden is only among the preferred municipalities: it sees the open enquiry, not the confidential one
    assert [e.id for e in register.list(NOTODDEN)] == [open_one]
    with pytest.raises(EnquiryNotFound):
        register.get(NOTODDEN, secret)
    assert {e.id for e in register.list(SALES)} == {secret, open_one}
    with pytest.raises(AccessDenied, match="may read but not change"):
        register.transition(READER, secret, "clarifying")
    with pytest.raises(AccessDenied, match="not for 4005"):
        register.create(KONGSBERG, EnquiryIn(company="X", lead_municipality="4005"))


def test_handover_of_a_task_and_of_the_enquiry(register: EnquiryRegister) -> None:
    eid = _new(register, confidential=True)
    register.transition(KONGSBERG, eid, "clarifying")
    task = register.add_task(KONGSBERG, eid, TaskIn(title="Planavklaring", hours_per_week=4, municipality="3303"))
    register.hand_over(KONGSBERG, eid, Handover(to_municipality="4005", to_planner="nils", task_id=task.id,
                                               reason="travel periode"))
    # the task went to Notodden: Notodden now sees the confidential enquiry
    assert register.get(NOTODDEN, eid).lead_municipality == "3303"
    assert register.tasks(NOTODDEN, eid)[0].municipality == "4005"
    register.hand_over(KONGSBERG, eid, Handover(to_municipality="4005", to_planner="nils"))
    assert register.get(NOTODDEN, eid).lead_municipality == "4005"
    handovers = [h for h in register.history(SALES, eid) if h.action == "handover"]
    assert [h.detail["to"]["municipality"] for h in handovers] == ["4005", "4005"]
    assert handovers[0].detail["task_id"] == task.id and handovers[1].detail["from"]["municipality"] == "3303"
    with pytest.raises(InvalidEnquiry, match="has no task 999"):
        register.hand_over(SALES, eid, Handover(to_municipality="3303", task_id=999))


def test_offers_keep_facts_and_versions(register: EnquiryRegister) -> None:
    eid = _new(register)
    register.transition(KONGSBERG, eid, "clarifying")
    register.transition(KONGSBERG, eid, "sites_offered")
    offer = register.offer(KONGSBERG, eid, "sites:12", {"net_available_daa": 31.5, "risk": "YELLOW"},
                           {"sites": 4, "arealplan": 2})
    assert offer.facts == {"net_available_daa": 31.5, "risk": "YELLOW"}
    assert offer.layer_versions == {"sites": 4, "arealplan": 2}
    assert register.history(KONGSBERG, eid)[-1].detail["site_id"] == "sites:12"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("org_number", "923609017", "modulus-11"),
    ("org_number", "１２３４５６７８９", "modulus-11"),  # full-width digits are not digits here
    ("nace", "26.5", "NACE"),
    ("lead_municipality", "0301", "not a member municipality"),
])
def test_invalid_enquiry_fields(field: str, value: str, message: str) -> None:
    data = {"company": "X", "lead_municipality": "3303", field: value}
    with pytest.raises(ValueError, match=message):
        EnquiryIn.model_validate(data)


def test_needs_become_the_site_search_query() -> None:
    from programme.matching import search_query
    from programme.model import Needs

    query = search_query(Needs(land_daa=20, power_mw=5, preferred_municipalities=["3303", "4005"]))
    assert query == [("min.net_available_daa", "20"), ("min.substation_free_mw", "5"),
                     ("in.kommunenummer", "3303,4005"), ("score", "net_available_daa:ideal:40:20"),
                     ("score", "population_45min:higher:30"), ("score", "main_road_km:lower:30")]
    from sites.search import request_from_query

    parsed = request_from_query(query)  # the site search accepts it as it is
    assert parsed.filters["net_available_daa"].min == 20 and sum(c.weight for c in parsed.criteria) == 100
