"""A tiny synthetic portfolio east of Kongsberg (EPSG:25832) whose drive times can be worked out by hand.

Roads (vertices every 500 m): E134 from (530 000, 6 614 000) to (550 000, 6 614 000) through the junction J at
(540 000, 6 614 000); a kommunal veg from J 6 km north; a fylkesveg from the west end 10 km south; a path (no
vegkategori) that must never be driven. Speeds E 80, F 60, K 40 km/h; access 30 km/h.
"""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry import LineString, Point, box

CRS = 25832
J = (540_000.0, 6_614_000.0)


def roads() -> gpd.GeoDataFrame:
    lines = [
        LineString([(530_000, 6_614_000), J]),
        LineString([J, (550_000, 6_614_000)]),
        LineString([J, (540_000, 6_620_000)]),
        LineString([(530_000, 6_614_000), (530_000, 6_604_000)]),
        LineString([(540_000, 6_620_000), (530_000, 6_604_000)]),  # a path: not drivable
    ]
    return gpd.GeoDataFrame({"vegkategori": ["E", "E", "K", "F", None], "vegnummer": [134, 134, 1234, 360, None]},
                            geometry=shapely.segmentize(lines, 500.0), crs=CRS)


def transport() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"navn": ["Teststasjon", "Testflyplass"], "type": ["jernbanestasjon", "lufthavn"],
                             "iata": [None, "TST"]},
                            geometry=[Point(540_000, 6_620_100), Point(530_000, 6_604_000)], crs=CRS)


def population() -> gpd.GeoDataFrame:
    centres = [(545_000, 6_614_000), (540_000, 6_620_000), (530_000, 6_604_000)]
    return gpd.GeoDataFrame({"ssbid": ["a", "b", "c"], "pop_tot": [1000, 200, 50], "sysselsatte": [500, 100, 20]},
                            geometry=[box(x - 500, y - 500, x + 500, y + 500) for x, y in centres], crs=CRS)


def premises() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"adresse": ["Testveien 1, Kongsberg", "Lagerveien 2, Kongsberg"],
                             "bruk": ["kontor", "industri"], "bruksareal_m2": [1200.0, 3000.0],
                             "tomt_m2": [2000.0, 8000.0], "leie": [1100.0, None], "pris": [None, 25_000_000.0],
                             "kommunenummer": ["3303", "3303"]},
                            geometry=[Point(540_000, 6_614_050), Point(530_000, 6_606_000)], crs=CRS)


def power() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"navn": ["Teststasjon trafo"], "ledig_kapasitet_mw": [12.5]},
                            geometry=[Point(540_500, 6_614_050)], crs=CRS)


def broadband() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"hastighet_mbit": [1000.0, 50.0], "teknologi": ["fiber", "FWA"]},
                            geometry=[box(539_000, 6_613_000, 541_000, 6_615_000),
                                      box(529_000, 6_605_000, 531_000, 6_607_000)], crs=CRS)


def poi() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"navn": ["Testpark", "Testsykehus"], "kategori": ["teknologipark", "sykehus"]},
                            geometry=[Point(541_000, 6_614_000), Point(540_100, 6_614_000)], crs=CRS)


def municipalities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"], "senter_navn": ["Testby"],
                             "senter_x": [J[0]], "senter_y": [J[1]]},
                            geometry=[box(520_000, 6_600_000, 560_000, 6_630_000)], crs=CRS)
