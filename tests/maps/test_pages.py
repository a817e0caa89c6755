"""Map pages built from a store: the right layers, counts, facts and texts, and a clear word when the
derived collections are missing. (The browser tests check the same pages drawn in Chromium.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from constraints.publish import BUSINESS_AREAS, OBJECTION_RISK
from constraints.rules import load_rules
from geo_service.cli import app as cli
from layers.gpkg_store import GeoPackageStore
from maps.errors import MapError, UnknownMap
from maps.investor import investor_sites
from maps.page import PageOptions
from maps.pages import build_page, export_page
from maps.planner import compact_findings, constraint_zones, risk_zones
from maps.planner_data import data_token, planner_data

OFFLINE = PageOptions(basemap_url=None)


def _layer_data(page: str, key: str) -> dict:
    """The inline GeoJSON a page hands to ``GeoMaps.geojson`` for one layer key."""
    match = re.search(r'GeoMaps\.geojson\("' + re.escape(key) + r'", (\{"type":"FeatureCollection".*?\]\}), \{',
                      page)
    assert match, key
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_investor_sites_have_selling_facts(demo_workspace: Path) -> None:
    store = GeoPackageStore(demo_workspace)
    sites = investor_sites(store)
    areas = store.read_frame(store.get_layer(BUSINESS_AREAS).current)
    assert sites is not None
    assert set(sites["status"]) == {"pre-approved", "reserve"}
    assert len(sites) == int(areas["status"].isin(["pre-approved", "reserve"]).sum())
    assert sites["centre_km"].between(0, 150).all()  # every site is within the region (150 km across)
    assert sites["road_km"].notna().all() and sites["road_label"].str.len().gt(0).all()
    assert sites["rail_km"].isna().all()  # the demo has no railway layer
    named = sites.dropna(subset=["name"])
    assert {"Kongsberg Teknologipark", "Toppen"} & set(named["name"])


def test_investor_page_layers_match_the_store(demo_workspace: Path) -> None:
    store = GeoPackageStore(demo_workspace)
    page = build_page(store, "investor", OFFLINE, load_rules())
    areas = store.read_frame(store.get_layer(BUSINESS_AREAS).current)
    pre = _layer_data(page, "sites-pre-approved")
    assert len(pre["features"]) == int((areas["status"] == "pre-approved").sum())
    first = pre["features"][0]["properties"]
    assert {"area_daa", "status", "kommunenavn", "centre_km", "road_km", "arealformal"} <= set(first)
    assert len(_layer_data(page, "municipalities")["features"]) == 7
    assert "Ledige næringsarealer i Kongsbergregionen" in page
    english = build_page(store, "investor", PageOptions(lang="en", basemap_url=None), load_rules())
    assert "Available business land in Kongsbergregionen" in english


def test_planner_page_classes_and_findings(demo_workspace: Path) -> None:
    """The served page is a light shell naming its data version; the risk classes come from the data group."""
    store = GeoPackageStore(demo_workspace)
    risk = store.read_frame(store.get_layer(OBJECTION_RISK).current)
    rules = load_rules()
    page = build_page(store, "planner", OFFLINE, rules)
    data = planner_data(store, rules)
    assert len(page) < 150_000  # no inline zones: the shell only
    doc = json.loads(data.group("risk"))
    for cls in ("RED", "YELLOW", "NOT_MAPPED", "GREEN"):
        assert len(doc[f"risk-{cls}"]["features"]) == int((risk["objection_risk"] == cls).sum()) == data.counts[cls]
        assert f'GeoMaps.remote("risk-{cls}", "/maps/planner/data/risk?v={data.token}", "risk-{cls}"' in page
    red = dict(zip(doc["risk-RED"]["columns"], doc["risk-RED"]["features"][0]["properties"], strict=True))
    assert red["risk"] == "RED" and red["findings"][0][1] == "RED"  # properties named once per class
    assert "jordlova § 9" in page and "kulturminneloven §§ 3, 4, 6" in page  # rule texts, once per page
    for rule in rules.rules:  # the layer switcher names every zone in words, never by its rule id
        assert f'"{rule.id} \\u2013' not in page and f": {rule.id}\"" not in page, rule.id
    belt = json.loads(data.group("zone-watercourse-belt"))
    assert len(belt["features"]) == 7  # one belt per municipality
    assert data.group("zone-nope") is None
    # a publish changes the data version the page names
    assert data.token == data_token(store, rules) != data_token(store, load_rules(_override(demo_workspace)))


def _override(workspace: Path) -> Path:
    path = workspace.parent / "narrow-belt.yaml"
    path.write_text("rules:\n  - id: watercourse-belt\n    municipality_overrides:\n      '3303': {zone_m: 50}\n",
                    encoding="utf-8")
    return path


def test_compact_findings_worst_first() -> None:
    rows = compact_findings([
        {"rule_id": "road-main", "risk": "YELLOW", "overlap_daa": 1.234, "distance_m": 12.6, "zone_m": 50,
         "zone_m_source": "default"},
        {"rule_id": "farmland-jordvern", "risk": "RED", "overlap_daa": 34.8089, "distance_m": 0.0, "zone_m": 0,
         "zone_m_source": "default"},
    ])
    # [rule, risk, overlap daa, distance m, zone m, zone source, outcome, share, proximity m]
    assert rows == [["farmland-jordvern", "RED", 34.81, 0.0, 0.0, "default", "inside", None, None],
                    ["road-main", "YELLOW", 1.23, 13.0, 50.0, "default", "inside", None, None]]


def test_watercourse_belt_follows_the_municipality_override(demo_copy: Path) -> None:
    (demo_copy / "rules.yaml").write_text(
        "rules:\n  - id: watercourse-belt\n    municipality_overrides:\n      '3303': {zone_m: 50}\n",
        encoding="utf-8")
    rules = load_rules(demo_copy / "rules.yaml")
    zones = {z.rule.id: z.zones for z in constraint_zones(GeoPackageStore(demo_copy), rules)}
    belt = zones["watercourse-belt"].set_index("kommunenummer")
    assert belt.loc["3303", "zone_m"] == 50 and belt.loc["3303", "source"] == "municipality:3303"
    assert belt.loc["4005", "zone_m"] == 100 and belt.loc["4005", "source"] == "default"
    default = {z.rule.id: z.zones for z in constraint_zones(GeoPackageStore(demo_copy), load_rules())}
    narrow = belt.loc["3303", "geometry"].area
    wide = default["watercourse-belt"].set_index("kommunenummer").loc["3303", "geometry"].area
    assert narrow < 0.7 * wide  # half the width, a bit more than half the area (round ends, lakes)
    heritage = zones["heritage-automatic"]
    assert set(heritage["zone_m"]) == {5.0}  # kulturminneloven § 6 safety zone


def test_missing_derived_collections_are_said_not_crashed(bare_workspace: Path) -> None:
    store = GeoPackageStore(bare_workspace)
    assert investor_sites(store) is None and risk_zones(store) is None
    investor = build_page(store, "investor", OFFLINE, load_rules())
    assert "Næringsarealene er ikke beregnet ennå" in investor and "geo-service analyse" in investor
    planner = build_page(store, "planner", PageOptions(lang="en", basemap_url=None), load_rules())
    assert "The objection risk has not been computed yet" in planner


def test_unknown_map_name() -> None:
    with pytest.raises(UnknownMap, match="investor, planner"):
        build_page(None, "sales", OFFLINE, load_rules())  # type: ignore[arg-type]


def test_export_writes_a_standalone_page(demo_workspace: Path, tmp_path: Path) -> None:
    store = GeoPackageStore(demo_workspace)
    report = export_page(store, "planner", tmp_path / "planner.html", load_rules(), lang="en")
    page = report.path.read_text(encoding="utf-8")
    assert "<script src" not in page and "GeoMaps.vectorTiles" not in page and "GeoMaps.remote" not in page
    risk = store.read_frame(store.get_layer(OBJECTION_RISK).current)
    assert len(_layer_data(page, "risk-RED")["features"]) == int((risk["objection_risk"] == "RED").sum())
    assert len(_layer_data(page, "zone-watercourse-belt")["features"]) == 7  # inline, off until switched on
    assert "Farmland (AR5) is shown in the service only" in page
    with pytest.raises(MapError, match=r"\*\.html"):
        export_page(store, "planner", tmp_path / "planner.png", load_rules())


def test_cli_export(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "investor.html"
    result = CliRunner().invoke(cli, ["maps", "export", "investor", "-o", str(out), "-w", str(demo_copy),
                                      "--no-basemap", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and out.stat().st_size > 100_000
    page = out.read_text(encoding="utf-8")
    assert "Available business land" in page and "cache.kartverket.no" not in page
    bad = CliRunner().invoke(cli, ["maps", "export", "sales", "-o", str(out), "-w", str(demo_copy)])
    assert bad.exit_code == 2 and "investor, planner" in bad.output
