"""Kind checks before publishing (issue 10): wrong geometry type, missing required fields, features outside
the region, and an editor's municipality scope. Synthetic geometries near Kongsberg (EPSG:25832)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from layers.checks import (
    CheckContext,
    GeometryFacts,
    KindCheckFailed,
    Region,
    RegionLookup,
    check_layer,
    require_ok,
)
from layers.kinds import LayerKind
from layers.normalise import normalise
from tests.layers.test_ingest_real_data import DATA

# two synthetic municipalities, 10 km x 10 km each, side by side
KONGSBERG = box(530_000, 6_610_000, 540_000, 6_620_000)
FLESBERG = box(540_000, 6_610_000, 550_000, 6_620_000)
REGION = Region((530_000, 6_610_000, 550_000, 6_620_000), ("3303", "3334"), (KONGSBERG, FLESBERG))
BBOX_ONLY = Region((415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0))


def zoning(cells: list[tuple[float, float]], field: str = "RPAREALFORMÅL") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({field: [1300] * len(cells)},
                            geometry=[box(x, y, x + 200, y + 200) for x, y in cells], crs=25832)


def run(frame: gpd.GeoDataFrame, kind: LayerKind, context: CheckContext):
    out, report = normalise(frame, kind, "test.gpkg")
    return check_layer(out, kind, report.field_map, context)


def test_municipality_polygons_loaded_as_zoning_are_refused_naming_the_field() -> None:
    kommuner = gpd.GeoDataFrame({"kommunenummer": ["3303", "3334"], "navn": ["Kongsberg", "Flesberg"]},
                                geometry=[KONGSBERG, FLESBERG], crs=25832)
    result = run(kommuner, LayerKind.zoning, CheckContext(REGION))
    assert not result.ok
    (problem,) = result.problems
    assert "needs the field 'arealformal'" in problem
    assert "kommunenummer, navn" in problem and "rparealformal" in problem and "kparealformal" in problem
    assert result.needs["fields"]["arealformal"] == {"required": True, "source": None, "filled": 0, "ok": False}
    with pytest.raises(KindCheckFailed, match="kommuner.gpkg: refused as zoning"):
        require_ok(result, "kommuner.gpkg")
    # forcing does not help: the analysis cannot use zoning without arealformål
    assert not run(kommuner, LayerKind.zoning, CheckContext(REGION, force=True)).ok


def test_a_point_in_the_gulf_of_guinea_is_no_municipality_layer() -> None:
    point = gpd.GeoDataFrame({"kommunenummer": ["3303"]}, geometry=[Point(2.0, 1.0)], crs=4326)
    result = run(point, LayerKind.municipality, CheckContext(BBOX_ONLY))
    assert len(result.problems) == 2
    assert "must hold polygons (flater), but this one has 1 points (punkt)" in result.problems[0]
    assert "1 of 1 features (100%) lie outside the region's extent" in result.problems[1]
    assert result.features_outside_region == 1 and result.share_outside_region == 1.0
    forced = run(point, LayerKind.municipality, CheckContext(BBOX_ONLY, force=True))
    assert forced.ok
    assert [w.split(";")[0] for w in forced.warnings] == [
        ("a municipality layer must hold polygons (flater), but this one has 1 points (punkt) (published anyway: "
        "forced)"),
        "a municipality layer needs the field 'kommunenavn'",
        "1 of 1 features (100%) lie outside the region's extent"]


def test_constraint_layers_outside_the_region_only_warn() -> None:
    rivers = gpd.GeoDataFrame({"navn": ["Numedalslågen", "Glomma"]},
                              geometry=[LineString([(535_000, 6_612_000), (536_000, 6_618_000)]),
                                        LineString([(620_000, 6_650_000), (630_000, 6_700_000)])], crs=25832)
    result = run(rivers, LayerKind.watercourse, CheckContext(REGION))
    assert result.ok
    assert result.features_outside_region == 1 and result.share_outside_region == 0.5
    assert any("1 of 2 features (50%) lie outside the municipalities' boundaries" in w for w in result.warnings)


def test_lines_as_farmland_are_refused_unless_forced() -> None:
    lines = gpd.GeoDataFrame({"arealtype": [21]}, geometry=[LineString([(535_000, 6_612_000),
                                                                        (536_000, 6_613_000)])], crs=25832)
    assert "must hold polygons (flater), but this one has 1 lines (linjer)" in run(
        lines, LayerKind.farmland, CheckContext(REGION)).problems[0]
    assert run(lines, LayerKind.farmland, CheckContext(REGION, force=True)).ok


def test_editor_of_one_municipality_cannot_publish_anothers_zoning() -> None:
    plan = zoning([(531_000, 6_611_000), (532_000, 6_611_000), (541_000, 6_611_000), (545_000, 6_615_000),
                   (546_000, 6_615_000)])
    result = run(plan, LayerKind.zoning, CheckContext(REGION, municipalities=("3303",)))
    assert result.municipalities == {"3303": 2, "3334": 3}
    assert result.problems == [("3 features lie outside your municipalities (3303): 3334 (3); only an editor of "
                               "those municipalities (or an admin) may publish them")]
    assert run(plan, LayerKind.zoning, CheckContext(REGION, municipalities=("3303", "3334"))).ok
    assert run(plan, LayerKind.zoning, CheckContext(REGION, municipalities=None)).ok  # admin / CLI
    # forcing never widens an editor's scope
    assert not run(plan, LayerKind.zoning, CheckContext(REGION, municipalities=("3303",), force=True)).ok
    # farmland is not municipality-scoped: the editor may load it across the border
    farmland = gpd.GeoDataFrame({"arealtype": [21, 21]}, geometry=[box(531_000, 6_611_000, 531_100, 6_611_100),
                                                                   box(545_000, 6_611_000, 545_100, 6_611_100)],
                                crs=25832)
    assert run(farmland, LayerKind.farmland, CheckContext(REGION, municipalities=("3303",))).ok


def test_without_municipality_polygons_the_kommunenummer_decides_or_the_editor_is_refused() -> None:
    plan = zoning([(531_000, 6_611_000), (541_000, 6_611_000)])
    plan["kommunenr"] = ["3303", "3334"]
    result = run(plan, LayerKind.zoning, CheckContext(BBOX_ONLY, municipalities=("3303",)))
    assert result.problems == [("1 features lie outside your municipalities (3303): 3334 (1); only an editor of "
                               "those municipalities (or an admin) may publish them")]
    anonymous_plan = zoning([(531_000, 6_611_000)])
    refused = run(anonymous_plan, LayerKind.zoning, CheckContext(BBOX_ONLY, municipalities=("3303",)))
    assert "cannot tell which municipality" in refused.problems[0]


def test_facts_found_a_block_at_a_time_give_the_same_result_as_the_whole_frame() -> None:
    """What ingest does while reading: ``RegionLookup.facts`` of blocks, joined and cut to the published rows
    (a missing and an empty geometry dropped), give ``check_layer`` the answer it finds on its own."""
    cells = [(531_000 + 1_500 * i, 6_611_000 + 700 * (i % 5)) for i in range(14)]  # 3303, 3334, the border, outside
    read = [box(x, y, x + 200, y + 200) for x, y in cells] + [None, Polygon()]
    read[3] = box(539_900, 6_612_000, 540_300, 6_612_200)  # across the border: its point decides
    read[13] = box(560_000, 6_612_000, 560_200, 6_612_200)  # outside both
    geoms = np.array(read, dtype=object)
    rows = np.array([i for i, g in enumerate(read) if g is not None and not g.is_empty])
    frame = gpd.GeoDataFrame({"arealformal": [1300] * len(rows)}, geometry=list(geoms[rows]), crs=25832)
    context = CheckContext(REGION, ("3303",))
    lookup = RegionLookup(REGION)
    facts = GeometryFacts.joined([lookup.facts(geoms[:5]), lookup.facts(geoms[5:11]), lookup.facts(geoms[11:])])
    whole = check_layer(frame, LayerKind.zoning, {"arealformal": "arealformal"}, context)
    blocks = check_layer(frame, LayerKind.zoning, {"arealformal": "arealformal"}, context, facts.take(rows))
    assert blocks == whole
    assert whole.features_outside_region == 1 and sum(whole.municipalities.values()) == 13
    assert whole.problems and "outside your municipalities (3303)" in whole.problems[-1]


def test_region_facts_are_those_of_the_representative_point_on_real_municipalities() -> None:
    """REAL municipality polygons (Kartverket 2024, the region's 9, EPSG:25832) and 4 000 SYNTHETIC boxes of
    100 m to 8 km placed at random over and around them: inside one, across borders, partly and wholly outside.
    ``RegionLookup`` skips the representative point where a feature lies in the one polygon its envelope
    meets; the answers are those of the point everywhere (and of the union for meeting the region)."""
    municipalities = pyogrio.read_dataframe(DATA / "kommuner-kartverket-robhop"
                                            / "kongsbergregionen_kommuner_2024_epsg25832.gpkg")
    region = Region(tuple(municipalities.total_bounds), tuple(municipalities["kommunenummer"].astype(str)),
                    tuple(municipalities.geometry.values))
    rng = np.random.default_rng(17)
    x0, y0, x1, y1 = municipalities.total_bounds
    corner = rng.uniform((x0 - 10_000, y0 - 10_000), (x1 + 10_000, y1 + 10_000), (4_000, 2))
    size = np.exp(rng.uniform(np.log(100), np.log(8_000), (4_000, 1)))
    geoms = shapely.box(corner[:, 0], corner[:, 1], corner[:, 0] + size[:, 0], corner[:, 1] + size[:, 0])

    facts = RegionLookup(region).facts(geoms)

    points = shapely.point_on_surface(geoms)
    polygons = np.array(region.polygons, dtype=object)
    meets = shapely.intersects(points[:, None], polygons[None, :])  # every point against every municipality
    assert meets.sum(axis=1).max() == 1  # no point on a border: one answer each
    want = np.where(meets.any(axis=1), np.array(region.codes, dtype=object)[meets.argmax(axis=1)], None)
    assert facts.codes is not None and facts.codes.tolist() == want.tolist()
    assert facts.inside.tolist() == shapely.intersects(region.shape(), geoms).tolist()
    across = (shapely.intersects(geoms[:, None], polygons[None, :]).sum(axis=1) > 1).sum()
    assert across > 100 and (want == None).sum() > 300 and len(set(want) - {None}) == 9
    # one feature at a time (an edit's scope check): a polygon is not prepared for so few, same answers
    lookup = RegionLookup(region)
    one_by_one = [lookup.codes(geoms[i:i + 1])[0] for i in range(0, 4_000, 37)]
    assert one_by_one == want[::37].tolist() and len(set(one_by_one) - {None}) >= 5
