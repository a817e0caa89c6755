"""Real public samples from ../shared/data (read in place, never copied; GML opened with WRITE_GFS=NO).

None of them lies in Kongsbergregionen; they test the engine on real geometry and real codes.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from constraints.business import business_areas
from constraints.errors import CRSMismatchError
from constraints.index import ConstraintIndex
from constraints.overlay import analyse_zones, objection_risk
from constraints.rules import RuleSet
from constraints.site import check_site

from .conftest import layer

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
AR5_DIR = DATA / "ar5-fkb-sample-valdres-vegvesen"
AR5_GPKG = AR5_DIR / "ar5_flate_Fv251Hellefossen_epsg25832.gpkg"
AR5_GML = AR5_DIR / "FKB_AR5_Fv251Hellefossen.gml"
PLAN_GPKG = DATA / "reguleringsplan-stemtjonn-kristiansand-dibk" / "4204_1536_stemtjonn_skytebane_epsg25832.gpkg"
HERITAGE_DIR = DATA / "kulturminner-riksantikvaren-wfs-sample-drammen"
HERITAGE_GML = HERITAGE_DIR / "wfs_kulturminner_Lokalitet_drammen_sample.gml"

pytestmark = pytest.mark.skipif(not AR5_GPKG.exists(), reason="shared sample data not available")

# README: area by arealtype (m²): 21 -> 28 polygons / 480 128, 22 -> 2 / 1 246, 23 -> 7 / 13 375
DYRKA_JORD = {21: (28, 480_128), 22: (2, 1_246), 23: (7, 13_375)}
DYRKA_JORD_M2 = 494_749


def read_ar5(path: Path) -> gpd.GeoDataFrame:
    kwargs = {"layer": "ArealressursFlate", "WRITE_GFS": "NO"} if path.suffix == ".gml" else {}
    ar5 = pyogrio.read_dataframe(path, **kwargs)
    ar5["geometry"] = ar5.geometry.make_valid()  # 22 of 272 polygons are invalid as read (README)
    return ar5


@pytest.mark.parametrize("path", [AR5_GPKG, AR5_GML], ids=["gpkg", "gml"])
def test_ar5_sample_farmland_by_arealtype_and_whole_sample_overlap(rules: RuleSet, path: Path) -> None:
    ar5 = read_ar5(path)
    assert ar5.crs.to_epsg() == 25832
    for code, (count, area) in DYRKA_JORD.items():
        sel = ar5[ar5["arealtype"] == code]
        assert len(sel) == count
        assert sel.area.sum() == pytest.approx(area, abs=1)
    xmin, ymin, xmax, ymax = ar5.total_bounds
    zone = gpd.GeoDataFrame({"arealformal": [1300], "plantype": ["kommuneplan"], "planstatus": [3],
                             "arealbruksstatus": [2], "kommunenummer": [None]},
                            geometry=[shapely.box(xmin - 10, ymin - 10, xmax + 10, ymax + 10)], crs=ar5.crs)
    findings = analyse_zones(zone, {"ar5": layer("ar5", "farmland", ar5, coverage=None)}, rules)
    farm = findings[findings["rule_id"] == "farmland-jordvern"].iloc[0]
    assert farm["overlap_m2"] == pytest.approx(DYRKA_JORD_M2, rel=0.005)
    assert farm["risk"] == "RED"
    assert len(farm["hit_ids"]) == sum(c for c, _ in DYRKA_JORD.values())
    assert not list(path.parent.glob("*.gfs")), "reading must not write a .gfs sidecar into shared/"


def test_ar5_sample_as_read_is_repaired_by_the_engine(rules: RuleSet) -> None:
    ar5 = pyogrio.read_dataframe(AR5_GPKG)  # 22 invalid polygons, not made valid here
    assert (~ar5.is_valid).sum() == 22
    xmin, ymin, xmax, ymax = ar5.total_bounds
    zone = gpd.GeoDataFrame({"arealformal": [1300], "plantype": ["kommuneplan"]},
                            geometry=[shapely.box(xmin - 10, ymin - 10, xmax + 10, ymax + 10)], crs=ar5.crs)
    findings = analyse_zones(zone, {"ar5": layer("ar5", "farmland", ar5, coverage=None)}, rules)
    farm = findings[findings["rule_id"] == "farmland-jordvern"].iloc[0]
    assert farm["overlap_m2"] == pytest.approx(DYRKA_JORD_M2, rel=0.005)
    # the 22 invalid polygons are skog (30) x 20, samferdsel (12) and ferskvann (81): never selected, never touched
    assert (~ar5[ar5["arealtype"].isin([21, 22, 23])].is_valid).sum() == 0
    assert findings.attrs["provenance"]["repaired_geometries"].get("ar5", 0) == 0


def test_ar5_sample_site_check_on_one_field(rules: RuleSet) -> None:
    ar5 = read_ar5(AR5_GPKG)
    fields = ar5[ar5["arealtype"] == 21]
    field = fields.loc[fields.area.idxmax()]
    index = ConstraintIndex({"ar5": layer("ar5", "farmland", ar5, coverage=None)}, rules)
    report = check_site(field.geometry.buffer(-1), index, rules)
    farm = next(t for t in report.themes if t.theme == "farmland")
    assert farm.status == "HIT-RED"
    assert farm.rules[0].hit_area_m2 == pytest.approx(field.geometry.buffer(-1).area, rel=1e-6)
    assert report.elapsed_ms < 1000


def test_stemtjonn_plan_lnfr_and_watercourse_are_not_business(rules: RuleSet) -> None:
    plan = pyogrio.read_dataframe(PLAN_GPKG, layer="RpArealformålOmråde")
    assert plan.crs.to_epsg() == 25832 and len(plan) == 10
    # what ingest does: the national field name becomes the canonical column
    zoning = plan.assign(arealformal=plan["arealformål"].astype(int), plantype="reguleringsplan", planstatus=3,
                         arealbruksstatus=None, kommunenummer="4204", planid="4204_1536")
    index = ConstraintIndex({}, rules)
    findings = analyse_zones(zoning, {}, rules, index=index)
    business = business_areas(zoning, findings, rules, index)
    assert len(business) == 0  # skytebane, LNFR, friluft, veg, sjø og vassdrag: none is a business area
    risk = objection_risk(zoning, findings, rules).set_index("zone_id")
    codes = zoning["arealformal"]
    for zid in zoning.index[codes.isin([5100, 5130, 6001])]:
        assert not risk.loc[zid, "building"]
        assert risk.loc[zid, "objection_risk"] == "GREEN"
        assert risk.loc[zid, "summary"].startswith("Rule does not apply")
    for zid in zoning.index[codes == 2010]:  # samferdsel takes farmland too (jordlova § 9): only farmland rules
        assert not risk.loc[zid, "building"] and risk.loc[zid, "objection_risk"] == "NOT_MAPPED"
        assert set(risk.loc[zid, "not_mapped_rules"]) == {"farmland-jordvern", "farmland-dyrkbar"}
    for zid in zoning.index[codes == 1470]:  # skytebane is a building formål (1xxx): rules apply, no layers
        assert risk.loc[zid, "building"] and risk.loc[zid, "objection_risk"] == "NOT_MAPPED"
    assert sorted(codes.tolist()) == [1470] * 4 + [2010, 5100, 5100, 5130, 6001, 6001]


def test_heritage_wfs_sample_after_explicit_reprojection(rules: RuleSet) -> None:
    sites = pyogrio.read_dataframe(HERITAGE_GML, WRITE_GFS="NO")
    assert not list(HERITAGE_DIR.glob("*.gfs"))
    assert sites.crs.to_epsg() == 4326
    zone = gpd.GeoDataFrame({"arealformal": [1300]}, geometry=[shapely.box(0, 0, 1, 1)], crs=25832)
    with pytest.raises(CRSMismatchError, match="EPSG:4326"):  # never reprojected silently
        analyse_zones(zone, {"km": layer("km", "heritage", sites)}, rules)
    sites = sites.to_crs(25832)  # what ingest does, explicitly
    sites["vernetype"] = sites["vernetype"].str.upper()
    index = ConstraintIndex({"km": layer("km", "heritage", sites, coverage=None)}, rules)
    ved = sites[sites["vernetype"] == "VED"].iloc[0]
    listed = sites[sites["vernetype"] == "LIST"].iloc[0]
    hit = check_site(ved.geometry.centroid.buffer(2), index, rules)
    assert next(t for t in hit.themes if t.theme == "heritage").status == "HIT-RED"
    near_listed = check_site(listed.geometry.centroid.buffer(2), index, rules)
    heritage = next(t for t in near_listed.themes if t.theme == "heritage")
    assert heritage.rules[0].hit_ids != [int(listed.name)]  # LIST (listed church) is not selected
