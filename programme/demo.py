"""SYNTHETIC demo history for the programme dashboard: three years of enquiries, capacity declarations and
back-dated versions of the zoning (and so of the business areas), so that the indicators tell a story.

Everything made here is labelled synthetic: company names end in "(SYNTETISK)", the source says
"SYNTETISKE DEMODATA", and back-dated zoning versions carry ``synthetic_history`` in their provenance.
Deterministic for a seed.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np

from constraints.publish import BUSINESS_AREAS, current_inputs, refresh_derived
from constraints.rules import RuleSet
from layers.codes import KONGSBERGREGIONEN
from layers.errors import LayerNotFound
from layers.store import LayerMeta, Store
from programme.access import Actor
from programme.model import CapacityIn, EnquiryIn, Handover, TaskIn
from programme.register import EnquiryRegister

SYNTHETIC = "SYNTETISKE DEMODATA / SYNTHETIC DEMO DATA"
DEMO_ACTOR = Actor("demo-programkontor", "admin")


@dataclass(frozen=True)
class Sector:
    nace: str
    words: tuple[str, ...]
    land: tuple[float, float] | None
    premises: tuple[float, float] | None
    power: tuple[float, float] | None
    jobs: tuple[int, int]
    weight: float
    homes: tuple[str, ...]  # municipalities this sector tends to ask in


SECTORS = (
    Sector("C26.5", ("Sensorteknikk", "Navigasjon", "Radarsystemer"), None, (1500, 8000), (0.5, 3), (20, 150), 3,
           ("3303", "3303", "4005")),
    Sector("C30.3", ("Romfart", "Luftfartøy"), (15, 60), (3000, 12000), (2, 10), (40, 250), 1.5, ("3303", "4005")),
    Sector("J63.1", ("Datasenter", "Skyhall"), (40, 200), None, (20, 150), (15, 60), 2,
           ("4026", "4005", "3338", "3303")),
    Sector("D35.1", ("Hydrogen", "Kraftlager", "Solcelle"), (20, 80), None, (10, 80), (10, 60), 2,
           ("4026", "4005", "4024")),
    Sector("C20.1", ("Kjemi", "Elektrolyse", "Gjødsel"), (20, 120), None, (5, 60), (20, 120), 1.2, ("4026", "4005")),
    Sector("H52.1", ("Logistikk", "Lager", "Terminal"), (15, 60), (5000, 20000), (0.5, 2), (15, 60), 1.5,
           ("3303", "4005", "3334")),
    Sector("C16.1", ("Trelast", "Massivtre", "Bioenergi"), (10, 50), None, (1, 8), (10, 50), 1,
           ("3338", "3334", "3336", "4024")),
    Sector("M72.1", ("Forskning", "Testlab", "Innovasjon"), None, (400, 3000), (0.2, 2), (8, 40), 1.3,
           ("3303", "4005")),
    Sector("I55.1", ("Hotell", "Fjellresort", "Turisme"), (5, 40), (2000, 9000), (0.3, 2), (10, 80), 0.8,
           ("4026", "3338", "3334")),
)
_PREFIX = ("Nordlys", "Fjellkraft", "Lågen", "Skrim", "Gausta", "Tinnsjø", "Numedal", "Heddal", "Jondal",
           "Blefjell", "Lifjell", "Kobberberg", "Sølvverket", "Vestfjord", "Hydro", "Rjukan", "Tuddal", "Bolkesjø")
_SOURCES = ("Invest in Norway (SYNTETISK)", "Kongsbergregionen næringsutvikling", "Direkte fra bedriften",
            "Fylkeskommunen", "Næringshage", "Messe/konferanse")
_CAPACITY = {"3303": 30, "3334": 6, "3336": 4, "3338": 6, "4005": 28, "4024": 4, "4026": 18}


def _when(day: date, rng: random.Random) -> datetime:
    return datetime(day.year, day.month, day.day, 8 + rng.randrange(8), rng.randrange(60), tzinfo=UTC)


def seed_capacity(register: EnquiryRegister, start: date, end: date) -> int:
    """Half-year capacity declarations per municipality, growing when the programme started sharing (2025)."""
    count, year = 0, start.year
    while date(year, 1, 1) <= end:
        for half in (1, 7):
            period_start = date(year, half, 1)
            period_end = date(year, 6, 30) if half == 1 else date(year, 12, 31)
            if period_end < start or period_start > end:
                continue
            for knr, hours in _CAPACITY.items():
                growth = 1.0 + 0.15 * max(0, year - 2024)
                register.declare_capacity(DEMO_ACTOR, CapacityIn(
                    municipality=knr, period_start=period_start, period_end=period_end,
                    hours_per_week=round(hours * growth, 1), planners=[f"planlegger-{knr}-{i}" for i in (1, 2)]),
                    at=_when(period_start - timedelta(days=14), random.Random(count)))
                count += 1
        year += 1
    return count


def seed_enquiries(register: EnquiryRegister, start: date, end: date, seed: int = 16,
                   offers: list[tuple[str, dict[str, Any]]] | None = None,
                   layer_versions: dict[str, int] | None = None) -> int:
    """About 45 enquiries a year, more each year, moved through the workflow with plausible delays."""
    rng = random.Random(seed)
    weights = [s.weight for s in SECTORS]
    day, made = start, 0
    while day <= end:
        rate = 0.10 + 0.05 * (day - start).days / 365  # enquiries per day, the programme brings more
        if rng.random() < rate:
            made += _one_enquiry(register, rng, rng.choices(SECTORS, weights)[0], day, end, offers or [],
                                 layer_versions or {})
        day += timedelta(days=1)
    return made


def _one_enquiry(register: EnquiryRegister, rng: random.Random, sector: Sector, day: date, end: date,
                 offers: list[tuple[str, dict[str, Any]]], layer_versions: dict[str, int]) -> int:
    lead = rng.choice(sector.homes)
    preferred = sorted({lead, *rng.sample(sorted(KONGSBERGREGIONEN), rng.randrange(0, 3))})

    def span(r: tuple[float, float] | None) -> float | None:
        return None if r is None else round(rng.uniform(*r), 1)

    needs = {"land_daa": span(sector.land), "premises_m2": span(sector.premises), "power_mw": span(sector.power),
             "jobs": rng.randint(*sector.jobs), "timeline": f"beslutning {day.year + 1}",
             "preferred_municipalities": preferred}
    received = _when(day, rng)
    enquiry = register.create(DEMO_ACTOR, EnquiryIn(
        company=f"{rng.choice(_PREFIX)} {rng.choice(sector.words)} AS (SYNTETISK)", nace=sector.nace,
        contact_name="Demo Kontaktperson", contact_email="kontakt@example.invalid", needs=needs,
        source=f"{rng.choice(_SOURCES)} – {SYNTHETIC}", confidential=rng.random() < 0.6, lead_municipality=lead,
        lead_planner=f"planlegger-{lead}-1", received=received), at=received)
    # answers get faster as the programme shares capacity (from 2025)
    speed = 1.0 if day.year < 2025 else 0.6
    moment = received + timedelta(days=rng.uniform(1, 14) * speed)
    path = ["clarifying", "sites_offered"]
    final = rng.choices(["established", "lost", "withdrawn", None], [0.3, 0.35, 0.2, 0.15])[0]
    if rng.random() < 0.25:
        path = ["clarifying"]
        final = rng.choice(["lost", "withdrawn"])
    for step in path:
        if moment.date() > end:
            return 1
        register.transition(DEMO_ACTOR, enquiry.id, step, at=moment)
        if step == "clarifying":
            register.add_task(DEMO_ACTOR, enquiry.id, TaskIn(
                title="Planavklaring og tomteforslag", hours_per_week=round(rng.uniform(1, 5), 1),
                municipality=lead, planner=f"planlegger-{lead}-2"), at=moment)
            small = KONGSBERGREGIONEN[lead] in ("Rollag", "Hjartdal", "Flesberg", "Nore og Uvdal")
            if small and rng.random() < 0.5 and moment.year >= 2025:
                helper = rng.choice(["3303", "4005"])
                task = register.tasks(DEMO_ACTOR, enquiry.id)[-1]
                register.hand_over(DEMO_ACTOR, enquiry.id, Handover(
                    to_municipality=helper, to_planner=f"planlegger-{helper}-1", task_id=task.id,
                    reason="Delt plankapasitet i travel periode (SYNTETISK)"), at=moment + timedelta(hours=2))
        if step == "sites_offered" and offers:
            for site_id, facts in rng.sample(offers, min(len(offers), rng.randint(1, 3))):
                register.offer(DEMO_ACTOR, enquiry.id, site_id, facts, layer_versions, at=moment)
        moment += timedelta(days=rng.uniform(10, 60) * speed)
    if final is not None and moment.date() <= end:
        reasons = {"established": "Valgte tomt i regionen (SYNTETISK)", "lost": "Valgte annen region (SYNTETISK)",
                   "withdrawn": "Prosjektet utsatt (SYNTETISK)"}
        register.transition(DEMO_ACTOR, enquiry.id, final, reasons[final], at=moment)
    return 1


def _business_offers(store: Store) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, int]]:
    """Sites to offer: the current business areas that are pre-approved or reserves, with their facts."""
    try:
        layer = store.get_layer(BUSINESS_AREAS)
    except LayerNotFound:
        return [], {}
    frame = store.read_frame(layer.current)
    frame = frame[frame["status"].isin(["pre-approved", "reserve"])]
    keep = [c for c in ("status", "kommunenummer", "net_available_daa", "arealformal") if c in frame.columns]
    offers = [(f"{BUSINESS_AREAS}:{fid}", {k: _plain(row[k]) for k in keep}) for fid, row in frame.iterrows()]
    versions = {BUSINESS_AREAS: layer.current.version, **(layer.current.provenance.get("inputs") or {})}
    return offers[:200], versions


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def seed_land_history(store: Store, rules: RuleSet, dates: list[date]) -> int:
    """Publish back-dated versions of the zoning in which fewer reserves existed and fewer business plans were
    adopted (the programme's proactive planning adds them over time), each followed by the derived refresh,
    then the current zoning again as of today. Returns how many zoning versions were published."""
    inputs = current_inputs(store)
    if not inputs.zoning:
        raise LayerNotFound("no zoning layer is published; run `geo-service demo` first")
    layer = inputs.zoning[0]
    current = store.read_frame(layer.current)
    formal = current["arealformal"].fillna(0).astype(int)
    business = (formal // 100 == 13).to_numpy()
    ids = current.index.to_numpy()
    draw = np.array([zlib.crc32(f"{layer.id}:{i}".encode()) / 2**32 for i in ids])
    is_kp = (current.get("plantype", "") == "kommuneplan").to_numpy()
    future = (current.get("arealbruksstatus", 0) == 2).to_numpy()
    adopted = (current.get("planstatus", 0) == 3).to_numpy()
    n = len(dates)
    published = 0
    for k, day in enumerate(dates):
        share = 0.5 + 0.45 * k / max(1, n - 1)  # share of today's reserves / adopted plans that existed then
        frame = current.copy()
        later_reserve = business & is_kp & future & (draw > share)
        later_plan = business & ~is_kp & adopted & (draw > share)
        frame.loc[later_reserve, "arealformal"] = 5100  # still LNFR in the kommuneplan then
        frame.loc[later_plan, "planstatus"] = 2  # still a planforslag then
        _publish_as_of(store, layer.id, frame, layer, day)
        refresh_derived(store, rules)
        published += 1
    _publish_as_of(store, layer.id, current, layer, datetime.now(UTC))
    refresh_derived(store, rules)
    return published + 1


def _publish_as_of(store: Store, layer_id: str, frame: gpd.GeoDataFrame, layer: Any, day: date | datetime) -> None:
    moment = day if isinstance(day, datetime) else datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    store.publish(layer_id, frame, LayerMeta(
        kind=layer.kind, title=layer.title, description=layer.description, attribution=layer.attribution,
        provenance={"as_of": moment.isoformat(),
                    "synthetic_history": SYNTHETIC}))


def seed_programme_demo(store: Store, register: EnquiryRegister, rules: RuleSet | None,
                        start: date = date(2024, 1, 8), end: date | None = None, *, land_history: bool = True
                        ) -> dict[str, int]:
    """The whole synthetic history: land versions (optional), capacity, enquiries. Returns counts."""
    end = end or datetime.now(UTC).date()
    counts = {"zoning_versions": 0}
    if land_history and rules is not None:
        dates = [start + (end - start) * k / 4 for k in range(4)]
        counts["zoning_versions"] = seed_land_history(store, rules, dates)
    offers, versions = _business_offers(store)
    counts["capacity_declarations"] = seed_capacity(register, start, end)
    counts["enquiries"] = seed_enquiries(register, start, end, offers=offers, layer_versions=versions)
    return counts
