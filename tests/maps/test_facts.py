"""Selling facts on hand-made geometry (EPSG:25832, metres)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import LineString, box

from maps.facts import Centres, road_label, site_facts


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"status": ["pre-approved", "reserve"]},
                            geometry=[box(0, 0, 100, 100), box(5_000, 0, 5_100, 100)], crs=25832)


def test_distances_to_centre_road_and_rail() -> None:
    kommuner = gpd.GeoDataFrame({"kommunenavn": ["A", "B"], "senter_navn": ["Sentrum A", "Sentrum B"],
                                 "senter_x": [100.0, 9_000.0], "senter_y": [1_100.0, 0.0]},
                                geometry=[box(-1e4, -1e4, 2_500, 1e4), box(2_500, -1e4, 1e4, 1e4)], crs=25832)
    roads = gpd.GeoDataFrame({"vegkategori": ["E", "K"], "vegnummer": [134, 1234]},
                             geometry=[LineString([(0, 400), (6_000, 400)]), LineString([(0, 150), (100, 150)])],
                             crs=25832)
    rail = gpd.GeoDataFrame(geometry=[LineString([(5_300, -1_000), (5_300, 1_000)])], crs=25832)
    facts = site_facts(_sites(), Centres.from_municipalities(kommuner), roads, rail)
    assert facts["centre_name"].tolist() == ["Sentrum A", "Sentrum B"]
    assert facts["centre_km"].tolist() == pytest.approx([1.0, 3.9])
    assert facts["road_km"].tolist() == pytest.approx([0.3, 0.3])  # the municipal road is not a main road
    assert facts["road_label"].tolist() == ["E134", "E134"]
    assert facts["rail_km"].tolist() == pytest.approx([5.2, 0.2])


def test_missing_layers_give_no_facts() -> None:
    facts = site_facts(_sites(), None, None, None)
    assert facts["centre_km"].isna().all() and facts["road_km"].isna().all() and facts["rail_km"].isna().all()


def test_road_labels() -> None:
    assert road_label("E", 134) == "E134"
    assert road_label("R", 40) == "Rv. 40"
    assert road_label("F", 8) == "Fv. 8"
    assert road_label("K", 1234) == ""
    assert road_label("F", None) == ""
