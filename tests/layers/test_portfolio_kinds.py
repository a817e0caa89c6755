"""The site-portfolio kinds: national and common field names are stored under canonical names with types."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from layers.kinds import LayerKind, parse_kind
from layers.normalise import normalise


def frame(**columns: list) -> gpd.GeoDataFrame:
    n = len(next(iter(columns.values())))
    return gpd.GeoDataFrame(columns, geometry=[Point(536_000 + i, 6_614_000) for i in range(n)], crs=25832)


def test_premises_field_names_and_norwegian_numbers() -> None:
    src = frame(Adressetekst=["Kirkegårdsveien 45"], Bruksformål=["kontor"], BRA=["1 200,5"],
                Tomteareal=[5000], Leiepris=["1 150 kr/m²"], Tilgjengelig_fra=["2027-01-01"], Utleier=["AS"],
                Kommunenr=[3303])
    out, report = normalise(src, LayerKind.premises, "lokaler.geojson")
    assert out.loc[0, "adresse"] == "Kirkegårdsveien 45" and out.loc[0, "bruk"] == "kontor"
    assert out.loc[0, "bruksareal_m2"] == 1200.5 and out.loc[0, "tomt_m2"] == 5000.0
    assert out.loc[0, "leie"] == 1150.0 and out.loc[0, "ledig_fra"] == "2027-01-01"
    assert out.loc[0, "kontakt"] == "AS" and out.loc[0, "kommunenummer"] == "3303"
    assert report.field_map["bruksareal_m2"] == "BRA"


def test_power_broadband_poi_transport_population_road() -> None:
    power, _ = normalise(frame(**{"Ledig kapasitet": ["12,5 MW"], "Netteier": ["Nett AS"]}), LayerKind.power, "p")
    assert power.loc[0, "ledig_kapasitet_mw"] == 12.5 and power.loc[0, "nettselskap"] == "Nett AS"
    band, _ = normalise(frame(nedlasting_mbit=[1000], aksessteknologi=["Fiber"]), LayerKind.broadband, "b")
    assert band.loc[0, "hastighet_mbit"] == 1000.0 and band.loc[0, "teknologi"] == "Fiber"
    poi, _ = normalise(frame(Kategori=["teknologipark"], Navn=["Kongsberg Teknologipark"]), LayerKind.poi, "k")
    assert poi.loc[0, "kategori"] == "teknologipark"
    hubs, _ = normalise(frame(navn=["Notodden lufthavn"], type=["lufthavn"], iataKode=["ntb"]), LayerKind.transport,
                        "t")
    assert hubs.loc[0, "iata"] == "NTB"
    grid, _ = normalise(frame(SSBID1000M=[22620006649000], pop_tot=[123], sysselsatte=[None]),
                        LayerKind.population, "ssb")
    assert grid.loc[0, "ssbid"] == "22620006649000" and grid.loc[0, "pop_tot"] == 123.0
    assert pd.isna(grid.loc[0, "sysselsatte"])
    roads, _ = normalise(frame(vegkategori=["e"], vegnummer=[134.0]), LayerKind.road, "veg")
    assert roads.loc[0, "vegkategori"] == "E" and roads.loc[0, "vegnummer"] == 134
    assert {parse_kind(k) for k in ("premises", "power", "broadband", "poi", "transport", "population")} <= set(
        LayerKind)
