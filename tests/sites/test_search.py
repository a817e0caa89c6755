"""Scoring and filtering, hand-computed on small tables; validation errors name the criterion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sites.errors import SearchCriteriaError
from sites.search import SiteTable, parse_request, request_from_query, request_to_query, search

SITES = pd.DataFrame({
    "site_id": ["a", "b", "c", "d"],
    "kommunenummer": ["3303", "3303", "4005", "4026"],
    "net_available_daa": [10.0, 20.0, 40.0, np.nan],
    "main_road_km": [5.0, 1.0, 3.0, 2.0],
    "airport_min": [30.0, 70.0, 20.0, 50.0],
    "fibre": [True, True, False, True],
})
TABLE = SiteTable.from_frame(SITES, version=1)


def run(body: dict) -> dict[str, float]:
    result = search(TABLE, parse_request({"limit": 100, **body}))
    return {s.site_id: round(s.score, 6) for s in result.sites}


def test_higher_is_better_scores_min_max() -> None:
    # (v - 10) / (40 - 10) × 100; d has no value and scores 0
    scores = run({"criteria": [{"attribute": "net_available_daa", "weight": 100, "direction": "higher"}]})
    assert scores == {"c": 100.0, "b": pytest.approx(33.333333), "a": 0.0, "d": 0.0}
    assert list(scores) == ["c", "b", "a", "d"]  # a and d tie at 0: site-id order


def test_lower_is_better_and_weights() -> None:
    # lower: (5 - v) / (5 - 1) → a 0, b 1, c 0.5, d 0.75; weights 25 % daa (higher) + 75 % road (lower)
    scores = run({"criteria": [{"attribute": "net_available_daa", "weight": 25, "direction": "higher"},
                               {"attribute": "main_road_km", "weight": 75, "direction": "lower"}]})
    assert scores["a"] == pytest.approx(0.0)
    assert scores["b"] == pytest.approx(25 / 3 + 75)
    assert scores["c"] == pytest.approx(25 + 37.5)
    assert scores["d"] == pytest.approx(0 + 56.25)
    assert list(scores) == ["b", "c", "d", "a"]


def test_closest_to_an_ideal_value() -> None:
    # ideal 25 daa: gaps 15, 5, 15 (d missing); 1 - gap / 15 → a 0, b 2/3, c 0
    scores = run({"criteria": [{"attribute": "net_available_daa", "weight": 100, "direction": "ideal", "ideal": 25}]})
    assert scores == {"b": pytest.approx(66.666667), "a": 0.0, "c": 0.0, "d": 0.0}


def test_ties_are_ordered_by_site_id_and_equal_values_score_full() -> None:
    result = search(TABLE, parse_request({"filters": {"kommunenummer": {"in": ["3303"]}},
                                          "criteria": [{"attribute": "fibre", "weight": 100, "direction": "higher"}]}))
    assert [(s.site_id, s.score) for s in result.sites] == [("a", 100.0), ("b", 100.0)]


def test_filters_range_set_fibre_and_airport_minutes() -> None:
    assert set(run({"filters": {"net_available_daa": {"min": 15}}})) == {"b", "c"}
    assert set(run({"filters": {"main_road_km": {"min": 2, "max": 3}}})) == {"c", "d"}
    assert set(run({"filters": {"kommunenummer": {"in": ["4005", "4026"]}}})) == {"c", "d"}
    assert set(run({"has_fibre": True})) == {"a", "b", "d"}
    assert set(run({"within_minutes": {"airport": 50}})) == {"a", "c", "d"}
    # scores are relative to the sites left after filtering: among a and d, road 5 → 0 and 2 → 1
    assert run({"within_minutes": {"airport": 50}, "has_fibre": True,
                "criteria": [{"attribute": "main_road_km", "weight": 100, "direction": "lower"}]}) == {"d": 100.0,
                                                                                                       "a": 0.0}


def test_a_filter_that_removes_everything() -> None:
    result = search(TABLE, parse_request({"filters": {"net_available_daa": {"min": 1000}},
                                          "criteria": [{"attribute": "main_road_km", "weight": 100,
                                                        "direction": "lower"}]}))
    assert result.number_matched == 0 and result.sites == []


def test_paging_and_explanations() -> None:
    body = {"criteria": [{"attribute": "net_available_daa", "weight": 60, "direction": "higher"},
                         {"attribute": "main_road_km", "weight": 40, "direction": "lower"}], "limit": 2, "offset": 1}
    result = search(TABLE, parse_request(body))
    assert result.number_matched == 4 and [s.site_id for s in result.sites] == ["b", "d"]
    b = result.sites[0]
    assert [round(p.points, 4) for p in b.parts] == [20.0, 40.0]  # 60 × 1/3, 40 × 1
    assert b.explanation["nb"] == ("Poeng 60 av 100: sterkest på avstand til E-veg/riksveg (1,0 km), "
                                   "svakest på netto ledig areal (20,0 daa).")
    assert b.explanation["en"] == ("Score 60 of 100: strongest on distance to E-road/national road (1.0 km), "
                                   "weakest on net available area (20.0 daa).")


@pytest.mark.parametrize(("body", "parameter", "words"), [
    ({"criteria": [{"attribute": "main_road_km", "weight": 60, "direction": "lower"}]}, "criteria", "sum to 100"),
    ({"criteria": [{"attribute": "main_road_km", "weight": 100, "direction": "sideways"}]}, "criteria[0].direction",
     "higher"),
    ({"criteria": [{"attribute": "main_road_km", "weight": 100, "direction": "ideal"}]}, "criteria[0]", "ideal"),
    ({"filters": {"main_road_km": {"min": 5, "max": 1}}}, "filters.main_road_km", "greater than max"),
    ({"limit": 0}, "limit", "greater than or equal to 1"),
])
def test_invalid_requests_name_the_criterion(body: dict, parameter: str, words: str) -> None:
    with pytest.raises(SearchCriteriaError, match=words) as info:
        parse_request(body)
    assert info.value.parameter == parameter


def test_unknown_or_text_attributes_are_refused() -> None:
    with pytest.raises(SearchCriteriaError) as info:
        search(TABLE, parse_request({"criteria": [
            {"attribute": "main_road_km", "weight": 50, "direction": "lower"},
            {"attribute": "kommunenummer", "weight": 50, "direction": "higher"}]}))
    assert info.value.parameter == "criteria[1].attribute" and "text" in str(info.value)
    with pytest.raises(SearchCriteriaError) as info:
        search(TABLE, parse_request({"filters": {"parking": {"min": 1}}}))
    assert info.value.parameter == "filters.parking"


def test_query_string_form_round_trips() -> None:
    params = [("min.net_available_daa", "15"), ("in.kommunenummer", "3303,4005"), ("fibre", "true"),
              ("within.airport", "60"), ("score", "net_available_daa:ideal:30:25"),
              ("score", "main_road_km:lower:70"), ("limit", "5")]
    request = request_from_query(params)
    assert request.filters["net_available_daa"].min == 15
    assert request.criteria[0].ideal == 25 and request.criteria[1].weight == 70
    assert request_from_query(request_to_query(request)) == request
    with pytest.raises(SearchCriteriaError) as info:
        request_from_query([("score", "main_road_km:lower")])
    assert info.value.parameter == "criteria[0]"
