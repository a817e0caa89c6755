"""CQL2 filters and ``sortby`` pushed down to both stores (``gpkg`` | ``postgis``), checked against pandas and
shapely evaluating the same condition on the same frame, on a small synthetic zoning layer and on the real
AR5 sample (read in place; its README gives the polygon count per ``arealtype``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box

from layers.cql2 import Cql2Filter, SortKey, parse_filter, parse_sortby
from layers.cql2_sql import _like_to_glob
from layers.crs import CRS84, parse_crs_uri
from layers.errors import InvalidQuery
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store, VersionRecord
from tests.conftest import STORE_KINDS

# shared/data beside the repository (or beside the folder of git worktrees the repository is one of)
DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents[3:5] if (p / "shared" / "data").is_dir()),
            Path(__file__).resolve().parents[3] / "shared" / "data")
AR5_GML = DATA / "ar5-fkb-sample-valdres-vegvesen" / "FKB_AR5_Fv251Hellefossen.gml"
EPSG_25832 = parse_crs_uri("http://www.opengis.net/def/crs/EPSG/0/25832")
TO_LONLAT = Transformer.from_crs(25832, 4326, always_xy=True)
X0, Y0 = 536_000.0, 6_614_000.0  # near Kongsberg town


def zoning() -> gpd.GeoDataFrame:
    """SYNTHETIC zoning areas: 12 rectangles 100 m deep and 50 + 30 k m wide (5 … 38 daa) in a row."""
    n = 12
    widths = [50.0 + 30 * k for k in range(n)]
    lefts = np.cumsum([0.0] + [w + 10 for w in widths[:-1]])
    names = ["Kongsberg næringspark", "Bø", "Øvre Åsen", "Åsen", "x%y_z", "O'Brien", "Raumyr", "Kobberberget",
             "Saggrenda", "Skollenborg", "Hvittingfoss", "Flesberg sentrum"]
    area = [w * 100 / 1000 for w in widths]
    area[7] = None  # one area not given
    return gpd.GeoDataFrame({
        "arealformal": [(1300, 1110, 1800, 5100)[k % 4] for k in range(n)],
        "navn": names,
        "planstatus": [("vedtatt", "forslag", None)[k % 3] for k in range(n)],
        "area_daa": pd.array(area, dtype="Float64").astype("float64"),
        "ledig": [k % 2 == 0 for k in range(n)],
        "utnyttet_daa": [10.0, 2, 30, 4, 50, 6, 7, 8, 90, 10, 11, 120],
        "vedtatt": pd.to_datetime([f"20{10 + k}-0{1 + k % 9}-15T12:00:00Z" for k in range(n)], utc=True),
    }, geometry=[box(X0 + x, Y0, X0 + x + w, Y0 + 100) for x, w in zip(lefts, widths, strict=True)], crs=25832)


FRAME = zoning()
IDS = np.arange(1, len(FRAME) + 1)
# a polygon over the 3rd to 5th areas, in the working CRS and in CRS84 (lon, lat)
CUT = Polygon([(X0 + 200, Y0 + 20), (X0 + 520, Y0 + 20), (X0 + 520, Y0 + 60), (X0 + 200, Y0 + 60)])
CUT_LONLAT = shapely.transform(CUT, lambda xy: np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1])))


def _expected(mask: Any) -> list[int]:
    return IDS[np.asarray(mask, dtype=bool)].tolist()


# (cql2-text, cql2-json, pandas mask over FRAME)
CASES: list[tuple[str, dict, Callable[[gpd.GeoDataFrame], Any]]] = [
    ("area_daa >= 20", {"op": ">=", "args": [{"property": "area_daa"}, 20]}, lambda f: f.area_daa >= 20),
    ("arealformal IN (1300, 1800)", {"op": "in", "args": [{"property": "arealformal"}, [1300, 1800]]},
     lambda f: f.arealformal.isin([1300, 1800])),
    ("area_daa BETWEEN 10 AND 25.5", {"op": "between", "args": [{"property": "area_daa"}, 10, 25.5]},
     lambda f: (f.area_daa >= 10) & (f.area_daa <= 25.5)),
    ("NOT arealformal = 5100", {"op": "not", "args": [{"op": "=", "args": [{"property": "arealformal"}, 5100]}]},
     lambda f: f.arealformal != 5100),
    ("arealformal = 1110 OR area_daa < 10",
     {"op": "or", "args": [{"op": "=", "args": [{"property": "arealformal"}, 1110]},
                           {"op": "<", "args": [{"property": "area_daa"}, 10]}]},
     lambda f: (f.arealformal == 1110) | (f.area_daa < 10)),
    ("navn LIKE '%sen'", {"op": "like", "args": [{"property": "navn"}, "%sen"]}, lambda f: f.navn.str.endswith("sen")),
    ("navn LIKE 'x\\%y\\_z'", {"op": "like", "args": [{"property": "navn"}, "x\\%y\\_z"]}, lambda f: f.navn == "x%y_z"),
    ("navn LIKE 'K_bb%'", {"op": "like", "args": [{"property": "navn"}, "K_bb%"]},
     lambda f: f.navn.str.match(r"^K.bb")),
    ("CASEI(navn) LIKE casei('%ÅSEN')",
     {"op": "like", "args": [{"op": "casei", "args": [{"property": "navn"}]}, {"op": "casei", "args": ["%ÅSEN"]}]},
     lambda f: f.navn.str.lower().str.endswith("åsen")),
    ("planstatus IS NULL", {"op": "isNull", "args": [{"property": "planstatus"}]}, lambda f: f.planstatus.isna()),
    ("planstatus <> 'forslag'", {"op": "<>", "args": [{"property": "planstatus"}, "forslag"]},
     lambda f: f.planstatus.notna() & (f.planstatus != "forslag")),
    ("ledig = TRUE AND navn > 'R'", {"op": "and", "args": [{"op": "=", "args": [{"property": "ledig"}, True]},
                                                            {"op": ">", "args": [{"property": "navn"}, "R"]}]},
     lambda f: f.ledig & (f.navn > "R")),
    ("vedtatt >= TIMESTAMP('2016-01-01T00:00:00Z')",
     {"op": ">=", "args": [{"property": "vedtatt"}, {"timestamp": "2016-01-01T00:00:00Z"}]},
     lambda f: f.vedtatt >= pd.Timestamp("2016-01-01", tz="UTC")),
    ("vedtatt < DATE('2013-01-01')", {"op": "<", "args": [{"property": "vedtatt"}, {"date": "2013-01-01"}]},
     lambda f: f.vedtatt < pd.Timestamp("2013-01-01", tz="UTC")),
    (f"S_INTERSECTS(geometry, {CUT.wkt})", {"op": "s_intersects", "args": [{"property": "geometry"},
                                                                          shapely.geometry.mapping(CUT)]},
     lambda f: f.intersects(CUT)),
    (f"arealformal IN (1300, 1110, 5100) AND S_INTERSECTS(geometry, {CUT.wkt})",
     {"op": "and", "args": [{"op": "in", "args": [{"property": "arealformal"}, [1300, 1110, 5100]]},
                            {"op": "s_intersects", "args": [{"property": "geometry"},
                                                            shapely.geometry.mapping(CUT)]}]},
     lambda f: f.arealformal.isin([1300, 1110, 5100]) & f.intersects(CUT)),
    (f"NOT S_INTERSECTS(geometry, {CUT.wkt}) OR area_daa > 30",
     {"op": "or", "args": [{"op": "not", "args": [{"op": "s_intersects", "args": [
         {"property": "geometry"}, shapely.geometry.mapping(CUT)]}]}, {"op": ">", "args": [{"property": "area_daa"}, 30]}]},
     lambda f: ~f.intersects(CUT) | (f.area_daa > 30)),
    (f"S_WITHIN(geometry, BBOX({X0 - 1}, {Y0 - 1}, {X0 + 400}, {Y0 + 101}))",
     {"op": "s_within", "args": [{"property": "geometry"}, {"bbox": [X0 - 1, Y0 - 1, X0 + 400, Y0 + 101]}]},
     lambda f: f.within(box(X0 - 1, Y0 - 1, X0 + 400, Y0 + 101))),
    (f"S_DISJOINT(geometry, {CUT.wkt})", {"op": "s_disjoint", "args": [{"property": "geometry"},
                                                                      shapely.geometry.mapping(CUT)]},
     lambda f: f.disjoint(CUT)),
]


@pytest.fixture(scope="module", params=STORE_KINDS)
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store of each kind with the synthetic zoning layer (and AR5, for its own tests), loaded once."""
    if request.param == "gpkg":
        from layers.gpkg_store import GeoPackageStore

        store: Store = GeoPackageStore(tmp_path_factory.mktemp("cql2"))
    else:
        cluster = request.getfixturevalue("postgis_cluster")  # skips locally or fails in CI without PostGIS
        from layers.postgis_store import PostGISStore

        store = PostGISStore(cluster.new_database(), pool_size=2)
    store.publish("plan", FRAME, LayerMeta(LayerKind.zoning, "Reguleringsplan (syntetisk)", "synthetic"))
    yield store
    close = getattr(store, "close", None)
    if close is not None:
        close()


def _query(store: Store, layer: str, cql: Cql2Filter | None, sortby: str = "", limit: int = 1000,
           offset: int = 0, bbox: tuple[float, float, float, float] | None = None,
           filters: dict[str, Any] | None = None) -> tuple[int, list[int]]:
    record = store.get_layer(layer).current
    page = store.query(record, bbox, filters or {}, limit, offset, cql=cql, sortby=parse_sortby(sortby))
    return page.number_matched, page.ids.tolist()


@pytest.mark.parametrize(("text", "as_json", "mask"), CASES, ids=[c[0][:40] for c in CASES])
def test_filter_matches_pandas_in_text_and_json(loaded: Store, text: str, as_json: dict,
                                                mask: Callable[[gpd.GeoDataFrame], Any]) -> None:
    expected = _expected(mask(FRAME))
    assert 0 < len(expected) < len(FRAME)  # every case selects something and leaves something out
    matched, ids = _query(loaded, "plan", parse_filter(text, "cql2-text", EPSG_25832))
    assert (matched, ids) == (len(expected), expected)
    assert _query(loaded, "plan", parse_filter(json.dumps(as_json), "cql2-json", EPSG_25832)) == (matched, ids)


def test_spatial_literal_in_crs84_is_reprojected(loaded: Store) -> None:
    expected = _expected(FRAME.intersects(CUT))
    assert expected == [3, 4, 5]
    in_lonlat = parse_filter(f"S_INTERSECTS(geometry, {CUT_LONLAT.wkt})")  # filter-crs defaults to CRS84
    assert in_lonlat.crs == CRS84
    assert _query(loaded, "plan", in_lonlat) == (3, expected)
    latlon = shapely.transform(CUT_LONLAT, lambda xy: xy[:, ::-1].copy())  # EPSG:4326 is lat, lon
    crs_4326 = parse_crs_uri("http://www.opengis.net/def/crs/EPSG/0/4326")
    assert _query(loaded, "plan", parse_filter(f"S_INTERSECTS(geometry, {latlon.wkt})", None, crs_4326)) == (3, expected)


def test_filter_combines_with_equality_filters_and_bbox(loaded: Store) -> None:
    cql = parse_filter("area_daa >= 10", None, EPSG_25832)
    window = (X0 + 300, Y0, X0 + 2000, Y0 + 100)
    mask = (FRAME.area_daa >= 10) & FRAME.intersects(box(*window)) & (FRAME.arealformal == 1300)
    expected = _expected(mask)
    assert len(expected) >= 2
    assert _query(loaded, "plan", cql, bbox=window, filters={"arealformal": "1300"}) == (len(expected), expected)


@pytest.mark.parametrize("sortby", ["-area_daa", "area_daa", "+navn", "arealformal,-navn", "-vedtatt", "-ledig,navn"])
def test_sortby_pages_match_a_stable_sort(loaded: Store, sortby: str) -> None:
    keys = parse_sortby(sortby)
    frame = FRAME.assign(fid=IDS)
    # NULLs last in either direction, then fid ascending; text by code point (pandas' default)
    ordered = frame.sort_values([k.name for k in keys] + ["fid"], ascending=[not k.descending for k in keys] + [True],
                                na_position="last", kind="stable")
    expected = ordered.fid.tolist()
    cql = parse_filter("arealformal <> 0", None, EPSG_25832)  # with and without a filter: two code paths
    for condition in (None, cql):
        pages = [_query(loaded, "plan", condition, sortby, limit=5, offset=o) for o in (0, 5, 10)]
        assert all(matched == 12 for matched, _ in pages)
        assert [i for _, ids in pages for i in ids] == expected


def test_sortby_with_filter_and_paging(loaded: Store) -> None:
    cql = parse_filter("area_daa BETWEEN 8 AND 33", None, EPSG_25832)
    selected = FRAME.assign(fid=IDS)[(FRAME.area_daa >= 8) & (FRAME.area_daa <= 33)]
    expected = selected.sort_values("area_daa", ascending=False).fid.tolist()
    first, second = (_query(loaded, "plan", cql, "-area_daa", limit=4, offset=o) for o in (0, 4))
    assert first[0] == second[0] == len(expected)
    assert first[1] + second[1] == expected
    assert _query(loaded, "plan", cql, "-area_daa", limit=4, offset=100) == (len(expected), [])


@pytest.mark.parametrize("payload", [
    {"op": "=", "args": [{"property": "navn"}, "x' OR 1=1 --"]},
    {"op": "=", "args": [{"property": "navn"}, "Bø'; DROP TABLE plan; --"]},
    {"op": "like", "args": [{"property": "navn"}, "%' OR '1'='1"]},
])
def test_injection_attempts_in_values_match_nothing(loaded: Store, payload: dict) -> None:
    assert _query(loaded, "plan", parse_filter(json.dumps(payload), "cql2-json")) == (0, [])
    assert _query(loaded, "plan", None) == (12, IDS.tolist())  # and the table is still there


def test_quote_in_a_value_matches_exactly(loaded: Store) -> None:
    as_json = {"op": "=", "args": [{"property": "navn"}, "O'Brien"]}
    assert _query(loaded, "plan", parse_filter(json.dumps(as_json), "cql2-json")) == (1, [6])


@pytest.mark.parametrize(("text", "needle"), [
    ("\"navn\\\" OR 1=1 --\" = 'x'", "cannot be parsed"),
    ("\"navn\"\" OR \"\"1\"\"=\"\"1\" = 'x'", ""),  # a quote inside a quoted name: no such property or unparsable
    ("eier = 'x'", "has no property 'eier'; queryables: arealformal, navn"),
    ("area_daa = 'tjue'", "does not fit a property holding float values"),
    ("arealformal + 1 > 3", "operator + "),
    ("lengde(navn) = 3", "operator lengde() "),
    ("navn LIKE 3", "LIKE pattern must be a text"),
    ("area_daa LIKE '2%'", "LIKE needs a text property"),
    ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "invalid geometry"),
    ("S_INTERSECTS(geometry, POINT(700 95))", "outside the area of filter-crs"),
])
def test_bad_filters_are_invalid_query_naming_the_problem(loaded: Store, text: str, needle: str) -> None:
    with pytest.raises(InvalidQuery) as err:
        _query(loaded, "plan", parse_filter(text))
    assert err.value.parameter == "filter"
    assert needle in str(err.value)


@pytest.mark.parametrize("name", ['navn" OR 1=1 --', "navn' OR '1'='1", 'navn"; DROP TABLE plan; --'])
def test_quotes_in_property_names_are_unknown_properties(loaded: Store, name: str) -> None:
    as_json = {"op": "=", "args": [{"property": name}, "x"]}
    with pytest.raises(InvalidQuery) as err:
        _query(loaded, "plan", parse_filter(json.dumps(as_json), "cql2-json"))
    assert f"has no property {name!r}" in str(err.value)
    with pytest.raises(InvalidQuery, match="has no property"):
        _query(loaded, "plan", None, name)
    assert _query(loaded, "plan", None)[0] == 12


def test_unknown_sort_key_names_it_and_lists_sortables(loaded: Store) -> None:
    with pytest.raises(InvalidQuery) as err:
        _query(loaded, "plan", None, "-pris")
    assert err.value.parameter == "sortby"
    assert "'pris'" in str(err.value) and "area_daa" in str(err.value)


# -- parsing alone ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "keys"), [
    ("-area_daa,navn", (SortKey("area_daa", True), SortKey("navn"))),
    (" area_daa", (SortKey("area_daa"),)),  # "+area_daa" as a query string decodes to " area_daa"
    ("+area_daa, -navn", (SortKey("area_daa"), SortKey("navn", True))),
    ("navn DESC", (SortKey("navn", True),)),
    ("", ()),
])
def test_parse_sortby(text: str, keys: tuple[SortKey, ...]) -> None:
    assert parse_sortby(text) == keys


@pytest.mark.parametrize(("text", "lang", "parameter", "needle"), [
    ("area_daa >= ", "cql2-text", "filter", "unexpected end"),
    ("area_daa >= 20 AND", None, "filter", "cannot be parsed as cql2-text"),
    ("{\"op\": \"=\"", "cql2-json", "filter", "not valid JSON"),
    ("{\"op\": \"frobnicate\", \"args\": []}", "cql2-json", "filter", "cannot be parsed as cql2-json"),
    ("area_daa >= 20", "ecql", "filter-lang", "cql2-text or cql2-json"),
    ("  ", None, "filter", "empty"),
])
def test_parse_errors(text: str, lang: str | None, parameter: str, needle: str) -> None:
    with pytest.raises(InvalidQuery) as err:
        parse_filter(text, lang)
    assert err.value.parameter == parameter and needle in str(err.value)


def test_sortby_twice_is_refused() -> None:
    with pytest.raises(InvalidQuery, match="given twice"):
        parse_sortby("navn,-navn")


@pytest.mark.parametrize(("like", "glob"), [("%sen", "*sen"), ("K_b%", "K?b*"), ("x\\%y\\_z", "x%y_z"),
                                            ("a*b?[c]", "a[*]b[?][[]c]")])
def test_like_patterns_become_case_sensitive_globs(like: str, glob: str) -> None:
    assert _like_to_glob(like) == glob


# -- the real AR5 sample ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ar5(loaded: Store) -> VersionRecord:
    if not AR5_GML.is_file():
        pytest.skip(f"real data {AR5_GML} is missing (expected shared/data beside the repository)")
    ingest(loaded, AR5_GML, "ar5", LayerKind.farmland, layer="ArealressursFlate", attribution="© NIBIO (CC BY 4.0)")
    return loaded.get_layer("ar5").current


def test_ar5_counts_per_arealtype_from_its_readme(loaded: Store, ar5: VersionRecord) -> None:
    # README: 21 Fulldyrka jord 28 polygons, 22 Overflatedyrka 2, 23 Innmarksbeite 7; 30 Skog 149; 272 in all,
    # of which ingest drops one skog polygon of zero area (source row 165): 271 published, 148 skog
    assert ar5.feature_count == 271
    for text, count in [("arealtype IN (21,22,23)", 37), ("arealtype BETWEEN 21 AND 23", 37),
                        ("arealtype >= 21 AND arealtype <= 23", 37), ("NOT arealtype IN (21, 22, 23)", 234),
                        ("arealtype = 21 OR arealtype = 30", 176), ("arealtype IN ('22', '23')", 9)]:
        assert _query(loaded, "ar5", parse_filter(text))[0] == count, text


def test_ar5_spatial_filter_and_sort_match_shapely(loaded: Store, ar5: VersionRecord) -> None:
    frame = loaded.read_frame(ar5)
    middle = box(537_500.0, 6_747_000.0, 539_500.0, 6_749_000.0).buffer(-600)  # a square in the sample's middle
    lonlat = shapely.transform(middle, lambda xy: np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1])))
    hit = frame[frame.intersects(middle) & frame.arealtype.isin([21, 22, 23])]
    assert 0 < len(hit) < 37
    cql = parse_filter(f"arealtype IN (21,22,23) AND S_INTERSECTS(geometry, {middle.wkt})", None, EPSG_25832)
    assert _query(loaded, "ar5", cql) == (len(hit), sorted(hit.index.tolist()))
    # the same polygon in CRS84: its edges are straight in lon/lat, so compare with the reprojected polygon
    back = shapely.transform(lonlat, lambda xy: np.column_stack(
        Transformer.from_crs(4326, 25832, always_xy=True).transform(xy[:, 0], xy[:, 1])))
    hit84 = frame[frame.intersects(back) & frame.arealtype.isin([21, 22, 23])]
    cql84 = parse_filter(f"arealtype IN (21,22,23) AND S_INTERSECTS(geometry, {lonlat.wkt})")
    assert _query(loaded, "ar5", cql84) == (len(hit84), sorted(hit84.index.tolist()))
    ordered = hit.reset_index().sort_values(["grunnforhold", "fid"], ascending=[False, True],
                                            na_position="last", kind="stable")
    assert hit.grunnforhold.nunique() > 1
    assert _query(loaded, "ar5", cql, "-grunnforhold")[1] == ordered.fid.tolist()


@pytest.mark.parametrize(("text", "matched"), [("1 = 1", 12), ("1 = 2", 0),
                                               ("'a' < 'b' AND area_daa > 30", int((FRAME.area_daa > 30).sum()))])
def test_literal_comparisons_are_answered_before_sql(loaded: Store, text: str, matched: int) -> None:
    assert _query(loaded, "plan", parse_filter(text))[0] == matched


@pytest.mark.parametrize(("text", "needle"), [
    ("1 = 'a'", "different types"),
    ("navn = arealformal", "different types (str and int)"),
    ("arealformal IN (1300, navn)", "different types"),
    (" AND ".join(["(NOT arealformal = 1)"] * 120), "nests more than 100 levels"),
])
def test_clashes_that_sql_would_reject_are_400(loaded: Store, text: str, needle: str) -> None:
    with pytest.raises(InvalidQuery) as err:
        _query(loaded, "plan", parse_filter(text))
    assert needle in str(err.value)


def test_property_property_comparison(loaded: Store) -> None:
    expected = _expected(FRAME.utnyttet_daa > FRAME.area_daa)  # NULL area: no match, as in SQL
    assert len(expected) == 5
    as_json = {"op": ">", "args": [{"property": "utnyttet_daa"}, {"property": "area_daa"}]}
    assert _query(loaded, "plan", parse_filter(json.dumps(as_json), "cql2-json")) == (5, expected)
    assert _query(loaded, "plan", parse_filter("utnyttet_daa > area_daa")) == (5, expected)
