"""Routing on a hand-made road graph with known answers, and on Kartverket's real N1000 roads."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.kinds import LayerKind
from layers.normalise import normalise
from sites.config import load_sites_config
from sites.drive_time import check_minutes, isochrones, workforce
from sites.errors import NoRoadNetwork, RoutingError
from sites.network import build_network
from tests.sites import portfolio

CONFIG = load_sites_config()
N1000 = Path(__file__).resolve().parents[3] / "shared" / "data" / "n1000-kartverket-hmalmedal" / \
    "n1000_kongsbergregionen_epsg25833.gpkg"
if not N1000.exists():
    N1000 = Path("/work/shared/data/n1000-kartverket-hmalmedal/n1000_kongsbergregionen_epsg25833.gpkg")


@pytest.fixture(scope="module")
def net():
    return build_network(portfolio.roads(), CONFIG.routing)


def pts(*xy: tuple[float, float]):
    arr = np.array(xy, dtype=float)
    return arr[:, 0], arr[:, 1]


def test_times_by_road_class(net) -> None:
    start = net.snap(*pts(portfolio.J))
    assert start.distance_m[0] == 0.0
    times = net.times_from(start.node, 3600)[0]
    east = net.snap(*pts((550_000, 6_614_000))).node[0]
    north = net.snap(*pts((540_000, 6_620_000))).node[0]
    south = net.snap(*pts((530_000, 6_604_000))).node[0]
    assert times[east] == pytest.approx(10_000 / (80 / 3.6))  # 10 km of E134 at 80 km/h = 450 s
    assert times[north] == pytest.approx(6_000 / (40 / 3.6))  # 6 km kommunal veg at 40 km/h = 540 s
    # 10 km E134 west, then 10 km fylkesveg south at 60 km/h; the footpath straight there is never driven
    assert times[south] == pytest.approx(450 + 600)


def test_access_beyond_the_network_uses_the_detour_speed(net) -> None:
    far = net.snap(*pts((550_000 + 10_000, 6_614_000)))
    assert far.distance_m[0] == pytest.approx(10_000)
    # 2 km at 30 km/h, then 8 km × 1.3 at 80 km/h
    assert far.access_s[0] == pytest.approx(2_000 / (30 / 3.6) + 8_000 * 1.3 / (80 / 3.6))
    assert far.access_m[0] == pytest.approx(2_000 + 8_000 * 1.3)


def test_nearest_target_by_fastest_route(net) -> None:
    sites = net.snap(*pts((540_000, 6_614_050), (530_000, 6_606_000)))
    hubs = net.snap(*pts((540_000, 6_620_100), (530_000, 6_604_000)))  # a station and an airport
    found = net.nearest(sites, hubs)
    assert found.index.tolist() == [0, 1]
    # site 1: 50 m access (6 s) + 540 s + 100 m station access (12 s) = 558 s
    assert found.minutes[0] == pytest.approx(558 / 60)
    assert found.km[0] == pytest.approx(6.15)
    assert found.minutes[1] == pytest.approx(2.0)  # 2 km fylkesveg at 60 km/h
    only_station = net.nearest(net.snap(*pts((530_000, 6_606_000))), net.snap(*pts((540_000, 6_620_100))))
    assert only_station.minutes[0] == pytest.approx((480 + 450 + 540 + 12) / 60)
    assert only_station.km[0] == pytest.approx(8 + 10 + 6 + 0.1)


def test_workforce_within_drive_times(net) -> None:
    grid = portfolio.population()
    centre = shapely.point_on_surface(grid.geometry.to_numpy())
    cells = net.snap(shapely.get_x(centre), shapely.get_y(centre))
    sites = net.snap(*pts((540_000, 6_614_050), (530_000, 6_606_000)))
    result = workforce(net, sites, cells, grid["pop_tot"].to_numpy(float), grid["sysselsatte"].to_numpy(float),
                       (5, 10, 30), batch=1)
    # site 1: cell a 231 s, cell b 546 s, cell c 1056 s away
    assert result.population[0].tolist() == [1000, 1200, 1250]
    assert result.employed[0].tolist() == [500, 600, 620]
    # site 2: cell c 120 s, a 480 + 450 + 225 = 1155 s, b 480 + 450 + 540 = 1470 s
    assert result.population[1].tolist() == [50, 50, 1250]


def test_isochrone_extent_follows_speeds(net) -> None:
    start = net.snap(*pts(portfolio.J))
    five, ten = isochrones(net, start, [10, 5])
    assert (five.minutes, ten.minutes) == (5, 10)
    minx, miny, maxx, maxy = five.geometry.bounds
    reach_e, reach_k, pad = 300 * 80 / 3.6, 300 * 40 / 3.6, CONFIG.routing.isochrone_buffer_m
    assert minx == pytest.approx(540_000 - reach_e - pad, abs=60)
    assert maxx == pytest.approx(540_000 + reach_e + pad, abs=60)
    assert maxy == pytest.approx(6_614_000 + reach_k + pad, abs=60)
    assert miny == pytest.approx(6_614_000 - pad, abs=60)
    assert ten.geometry.contains(five.geometry.buffer(-1))
    assert not five.geometry.contains(shapely.Point(530_000, 6_610_000))


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(RoutingError, match="1–180"):
        check_minutes([0, 30])
    with pytest.raises(NoRoadNetwork, match="vegkategori"):
        build_network(portfolio.roads().iloc[4:], CONFIG.routing)


@pytest.fixture(scope="module")
def n1000():
    if not N1000.exists():
        pytest.skip(f"{N1000} is not here")
    roads = gpd.read_file(N1000, layer="Veglenke")
    roads, _ = normalise(roads, LayerKind.road, "Veglenke")
    stations = gpd.read_file(N1000, layer="Stasjon").to_crs(25832).set_index("navn")
    return roads, stations


def test_real_n1000_route_kongsberg_notodden(n1000) -> None:
    """From the E134 node nearest Kongsberg station to the one nearest Notodden station: the shortest route is
    E134 itself, so its length equals the distance between the two nodes measured along the merged E134 links
    (checkable by hand in QGIS), about 29 km; the drive takes about 22 minutes at 80 km/h."""
    roads, stations = n1000
    assert len(roads) == 792 and set(roads["vegkategori"].dropna()) == {"E", "R", "F", "K", "P"}
    net = build_network(roads, CONFIG.routing)
    on_e134 = np.flatnonzero(net.main_road == "E134")
    ends = []
    for name in ("Kongsberg", "Notodden"):
        station = stations.geometry[name]
        ends.append(on_e134[np.hypot(*(net.xy[on_e134] - (station.x, station.y)).T).argmin()])
    a, b = (net.snap(*pts(tuple(net.xy[i]))) for i in ends)
    assert a.distance_m[0] == b.distance_m[0] == 0.0
    found = net.nearest(a, b)
    e134 = shapely.line_merge(shapely.union_all(
        roads.loc[(roads["vegkategori"] == "E") & (roads["vegnummer"] == 134)].geometry.to_numpy()))
    assert e134.geom_type == "LineString"
    along_km = abs(e134.project(shapely.Point(net.xy[ends[0]])) - e134.project(shapely.Point(net.xy[ends[1]]))) / 1000
    assert 27 < along_km < 31
    assert found.km[0] == pytest.approx(along_km, rel=0.002)
    assert found.minutes[0] == pytest.approx(along_km / 80 * 60, rel=0.01)
