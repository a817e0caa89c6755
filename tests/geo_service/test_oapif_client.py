"""GDAL's own OGC API – Features client (the one QGIS uses) reads the live service over loopback."""

from __future__ import annotations

import pyogrio
import pytest


def test_gdal_lists_collections(live_server: str) -> None:
    layers = dict(pyogrio.list_layers(f"OAPIF:{live_server}"))
    assert set(layers) == {"jorder", "kulturminner"}


def test_gdal_reads_all_pages_in_storage_crs(live_server: str) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{live_server}", layer="jorder", PAGE_SIZE="17")
    assert len(frame) == 100
    assert frame.crs.to_epsg() == 25832  # GDAL picks the advertised storageCrs
    assert frame.geometry.area.to_numpy() == pytest.approx(10_000.0, abs=0.01)
    assert frame["arealtype"].value_counts().to_dict() == {21: 25, 22: 25, 23: 25, 30: 25}
    assert "Jorde 0 – Åsen" in set(frame["navn"])


def test_gdal_bbox_and_attribute_filter(live_server: str) -> None:
    x0, y0 = 536_000.0, 6_614_000.0
    frame = pyogrio.read_dataframe(f"OAPIF:{live_server}", layer="jorder",
                                   bbox=(x0 + 150, y0 + 150, x0 + 250, y0 + 250))
    assert len(frame) == 4
    frame = pyogrio.read_dataframe(f"OAPIF:{live_server}", layer="jorder", where="arealtype = 23")
    assert len(frame) == 25


def test_gdal_reads_metadata(live_server: str) -> None:
    info = pyogrio.read_info(f"OAPIF:{live_server}", layer="kulturminner")
    assert info["features"] == 3
    assert info["layer_metadata"]["TITLE"] == "Kulturminner (syntetisk)"
