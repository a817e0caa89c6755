"""Indicators and the capacity board, hand-computed on a small history (synthetic, made here)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from programme import indicators
from programme.capacity import board, suggestions
from programme.model import CapacityIn, EnquiryIn, TaskIn
from programme.register import EnquiryRegister
from tests.programme.conftest import NOTODDEN, SALES


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def history(sqlite_register: EnquiryRegister) -> EnquiryRegister:
    r = sqlite_register
    e1 = r.create(SALES, EnquiryIn(company="En AS", nace="C26", lead_municipality="3303", needs={"jobs": 40},
                                   received=_at("2025-01-06")), at=_at("2025-01-06"))
    r.transition(SALES, e1.id, "clarifying", at=_at("2025-01-08"))
    r.transition(SALES, e1.id, "sites_offered", at=_at("2025-01-16"))
    r.transition(SALES, e1.id, "established", "valgte Toppen", at=_at("2025-04-10"))
    e2 = r.create(SALES, EnquiryIn(company="To AS", nace="C25", lead_municipality="3303", needs={"jobs": 10},
                                   received=_at("2025-02-01")), at=_at("2025-02-01"))
    r.transition(SALES, e2.id, "clarifying", at=_at("2025-02-05"))
    r.transition(SALES, e2.id, "lost", "annen region", at=_at("2025-03-01"))
    r.create(SALES, EnquiryIn(company="Tre AS", nace="D35.1", lead_municipality="4005",
                              received=_at("2025-03-15")), at=_at("2025-03-15"))
    return r


def _business(rows: list[tuple[str, str, float, float, str | None]]) -> gpd.GeoDataFrame:
    """A minimal SYNTHETIC business-areas frame: (kommunenummer, status, counted m², farmland m², conflict_of)."""
    return gpd.GeoDataFrame({
        "kommunenummer": [r[0] for r in rows], "kommunenavn": ["Kongsberg"] * len(rows),
        "status": [r[1] for r in rows], "counted_m2": [r[2] for r in rows], "farmland_m2": [r[3] for r in rows],
        "conflict_of": [r[4] for r in rows], "net_available_daa": [r[2] / 1000 for r in rows],
    }, geometry=[shapely.box(i * 10, 0, i * 10 + 5, 5) for i in range(len(rows))], crs="EPSG:25832")


def test_enquiry_indicators_by_quarter(history: EnquiryRegister) -> None:
    enquiries, events, _ = history.snapshot()
    table = indicators.enquiry_indicators(enquiries, events, ["2025-Q1", "2025-Q2"]).set_index(
        ["quarter", "kommunenummer"])
    q1 = table.loc[("2025-Q1", "3303")]
    assert (q1.received, q1.open_end, q1.lost, q1.decided, q1.established) == (2, 1, 1, 1, 0)
    assert q1.landed_share == 0.0
    assert q1.median_days_first_answer == 3.0  # 2 and 4 days
    assert q1.median_days_to_offer == 10.0  # only the first reached sites offered
    q2 = table.loc[("2025-Q2", "3303")]
    assert (q2.received, q2.established, q2.jobs_landed, q2.landed_share, q2.open_end) == (0, 1, 40, 1.0, 0)
    region = table.loc[("2025-Q1", "region")]
    assert (region.received, region.open_end, region.decided) == (3, 2, 1)
    assert region.median_days_first_answer == 3.0
    assert pd.isna(table.loc[("2025-Q1", "4005")].median_days_first_answer)  # not answered yet
    sectors = indicators.sector_indicators(enquiries, ["2025-Q1"])
    assert dict(zip(sectors.nace_section, sectors.received, strict=True)) == {"C": 2, "D": 1}


def test_land_indicators_follow_versions_by_date(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "ws")
    for as_of, frame in [
        ("2025-02-01T12:00:00+00:00", _business([("3303", "reserve", 10_000, 2_000, None),
                                                 ("3303", "pre-approved", 5_000, 0, None)])),
        ("2025-05-01T12:00:00+00:00", _business([("3303", "reserve", 10_000, 2_000, None),
                                                 ("3303", "conflict", 3_000, 1_000, "reserve"),
                                                 ("3303", "pre-approved", 25_000, 0, None)])),
    ]:
        store.publish("business-areas", frame, LayerMeta(kind=LayerKind.other, provenance={"as_of": as_of}))
    land = indicators.land_indicators(store, ["2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3"]).set_index(
        ["quarter", "kommunenummer"])
    assert "2024-Q4" not in land.index.get_level_values(0)  # no version yet
    q1, q2, q3 = land.loc[("2025-Q1", "3303")], land.loc[("2025-Q2", "3303")], land.loc[("2025-Q3", "3303")]
    assert (q1.reserve_daa, q1.pre_approved_daa, q1.farmland_in_reserves_daa, q1.business_areas_version) == \
        (10.0, 5.0, 2.0, 1)
    assert (q2.reserve_daa, q2.conflict_reserve_daa, q2.pre_approved_daa, q2.farmland_in_reserves_daa) == \
        (10.0, 3.0, 25.0, 3.0)
    assert q3.business_areas_version == 2 and land.loc[("2025-Q3", "region")].pre_approved_daa == 25.0


def test_capacity_board_and_suggestion(sqlite_register: EnquiryRegister) -> None:
    r = sqlite_register
    for knr, hours in (("3303", 10), ("4005", 20)):
        r.declare_capacity(SALES, CapacityIn(municipality=knr, period_start=date(2025, 1, 1),
                                             period_end=date(2025, 6, 30), hours_per_week=hours))
    t = _at("2025-02-01")
    a = r.create(SALES, EnquiryIn(company="A AS", lead_municipality="3303"), at=t)  # new: 2 h
    b = r.create(SALES, EnquiryIn(company="B AS", lead_municipality="3303"), at=t)
    r.transition(SALES, b.id, "clarifying", at=t)
    r.transition(SALES, b.id, "sites_offered", at=t)  # 6 h
    r.add_task(SALES, b.id, TaskIn(title="Konsekvensutredning", hours_per_week=4, municipality="3303"), at=t)
    c = r.create(SALES, EnquiryIn(company="C AS", lead_municipality="4005"), at=t)
    r.transition(NOTODDEN, c.id, "clarifying", at=t)  # 4 h
    enquiries, events, tasks = r.snapshot()
    loads = {x.municipality: x for x in board(enquiries, events, tasks, r.capacities(), t + timedelta(days=1))}
    assert (loads["3303"].demand_hours, loads["3303"].capacity_hours, loads["3303"].open_tasks) == (12.0, 10.0, 1)
    assert loads["3303"].utilisation == pytest.approx(1.2)
    assert (loads["4005"].demand_hours, loads["4005"].spare_hours) == (4.0, 16.0)
    assert loads["3334"].utilisation is None  # no capacity declared
    [tip] = suggestions(list(loads.values()), enquiries)
    assert (tip.from_municipality, tip.to_municipality, tip.hours, tip.enquiry_id) == ("3303", "4005", 2.0, b.id)
    assert tip.text_nb == f"Kongsberg mangler 2.0 t/uke; Notodden kan ta 2.0 t/uke (f.eks. {b.id})."
    # before anything was registered, nothing is open
    early = board(enquiries, events, tasks, r.capacities(), t - timedelta(days=1))
    assert sum(x.demand_hours for x in early) == 0
    assert a.id != b.id
