"""The site register from small synthetic layers (facts checked by hand), published on both stores."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from layers.kinds import LayerKind
from layers.store import LayerMeta, Store
from sites.config import SitesConfig, load_sites_config
from sites.publish import SITES, refresh_sites
from sites.register import PortfolioFrames, build_register
from tests.sites import portfolio


def config() -> SitesConfig:
    data = load_sites_config().model_dump()
    data["workforce_minutes"] = (5, 10, 30)
    return SitesConfig.model_validate(data)


def frames() -> PortfolioFrames:
    premises = portfolio.premises()
    premises["source_layer"], premises["source_fid"] = "lokaler", [1, 2]
    return PortfolioFrames(premises=premises, power=portfolio.power(), broadband=portfolio.broadband(),
                           poi=portfolio.poi(), transport=portfolio.transport(), population=portfolio.population(),
                           roads=portfolio.roads(), municipalities=portfolio.municipalities())


def check_office(site: pd.Series) -> None:
    """The office 50 m north of junction J (see tests/sites/portfolio.py for the network)."""
    assert site["site_type"] == "premises" and site["navn"] == "Testveien 1, Kongsberg"
    assert site["main_road"] == "E134" and site["main_road_km"] == pytest.approx(0.05)
    assert site["rail_station"] == "Teststasjon"
    assert site["rail_station_min"] == pytest.approx(9.3)  # 6 s + 540 s + 12 s = 558 s
    assert site["rail_station_km"] == pytest.approx(6.15)
    assert site["airport"] == "Testflyplass" and site["airport_min"] == pytest.approx(17.6)  # 6 + 450 + 600 s
    assert site["town_centre"] == "Testby" and site["town_centre_km"] == pytest.approx(0.05)
    assert site["substation"] == "Teststasjon trafo" and site["substation_km"] == pytest.approx(0.5)
    assert site["substation_free_mw"] == 12.5
    assert bool(site["fibre"]) and site["speed_mbit"] == 1000 and site["speed_class"] == "≥ 1000 Mbit/s"
    assert [site[f"population_{m}min"] for m in (5, 10, 30)] == [1000, 1200, 1250]
    assert [site[f"employed_{m}min"] for m in (5, 10, 30)] == [500, 600, 620]
    assert site["competence_10km_count"] == 1 and site["competence_10km"] == "Testpark"  # the hospital is no
    assert site["kommunenavn"] == "Kongsberg"  # competence environment; the name comes from the municipality


def test_register_facts_by_hand() -> None:
    sites = build_register(frames(), config()).set_index("site_id")
    assert list(sites.index) == ["pr-lokaler-1", "pr-lokaler-2"]
    check_office(sites.loc["pr-lokaler-1"])
    store = sites.loc["pr-lokaler-2"]
    assert store["net_available_daa"] == 8.0 and store["pris"] == 25_000_000
    assert store["airport_min"] == pytest.approx(2.0) and store["main_road_min"] == pytest.approx(8.0)
    assert not store["fibre"] and store["speed_class"] == "30–99 Mbit/s"
    assert store["competence_10km_count"] == 0 and store["competence_30km_count"] == 1


def publish_inputs(store: Store) -> None:
    for layer_id, kind, frame in [
        ("lokaler", LayerKind.premises, portfolio.premises()), ("veg", LayerKind.road, portfolio.roads()),
        ("knutepunkter", LayerKind.transport, portfolio.transport()),
        ("befolkning", LayerKind.population, portfolio.population()), ("nett", LayerKind.power, portfolio.power()),
        ("bredband", LayerKind.broadband, portfolio.broadband()), ("poi", LayerKind.poi, portfolio.poi()),
        ("kommuner", LayerKind.municipality, portfolio.municipalities()),
    ]:
        store.publish(layer_id, frame, LayerMeta(kind, f"{layer_id} (syntetisk)", "synthetic test data"))


def test_published_with_provenance_and_recomputed_only_when_stale(store: Store) -> None:
    publish_inputs(store)
    cfg = config()
    [record] = refresh_sites(store, cfg)
    assert record.layer_id == SITES and record.feature_count == 2
    provenance = store.get_layer(SITES).current.provenance
    assert provenance["inputs"]["lokaler"] == 1 and provenance["config_hash"] == cfg.hash()
    assert provenance["sources"]["roads"] == ["veg"]
    frame = store.read_frame(store.get_layer(SITES).current).set_index("site_id")
    office = frame.loc["pr-lokaler-1"]
    check_office(office)
    assert refresh_sites(store, cfg) == []  # nothing changed
    more = portfolio.premises().iloc[:1]
    store.publish("lokaler-2", more, LayerMeta(LayerKind.premises, "Nye lokaler (syntetisk)"))
    [again] = refresh_sites(store, cfg)
    assert again.version == 2 and again.feature_count == 3


def test_no_sites_gives_an_empty_register() -> None:
    empty = build_register(PortfolioFrames(roads=portfolio.roads()), config())
    assert empty.empty and "site_id" in empty.columns


def test_a_forced_analysis_with_the_same_results_leaves_the_register_current(tmp_path: Path) -> None:
    """SYNTHETIC (tests/constraints/test_fast_paths.region): the register follows the content of the derived
    layers, not their version numbers; a real change of an input still rebuilds it."""
    from constraints.publish import BUSINESS_AREAS, CONTENT_KEY, refresh_derived
    from constraints.rules import load_rules
    from layers.gpkg_store import GeoPackageStore
    from sites.publish import is_stale
    from tests.constraints.test_fast_paths import region

    store = GeoPackageStore(tmp_path / "ws")
    layers = region()
    for layer_id, (kind, frame) in layers.items():
        store.publish(layer_id, frame, LayerMeta(kind, f"{layer_id} (syntetisk)", "synthetic test data"))
    rules, cfg = load_rules(), config()
    refresh_derived(store, rules)
    [first] = refresh_sites(store, cfg)
    assert first.feature_count > 0
    content = store.get_layer(BUSINESS_AREAS).current.provenance[CONTENT_KEY]
    assert len(refresh_derived(store, rules, force=True)) == 2  # new versions ...
    assert store.get_layer(BUSINESS_AREAS).current.provenance[CONTENT_KEY] == content  # ... with the same content
    assert not is_stale(store, cfg) and refresh_sites(store, cfg) == []
    assert refresh_sites(store, cfg, force=True)[0].version == first.version + 1  # forcing it still rebuilds
    kind, farm = layers["ar5"]
    store.publish("ar5", farm.iloc[: len(farm) // 2], LayerMeta(kind, "ar5 (syntetisk, halvparten)"))
    refresh_derived(store, rules)
    assert store.get_layer(BUSINESS_AREAS).current.provenance[CONTENT_KEY] != content
    assert is_stale(store, cfg) and len(refresh_sites(store, cfg)) == 1
