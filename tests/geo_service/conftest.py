"""Fixtures for the HTTP edge: a small synthetic workspace, a TestClient, and a live uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, box

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.servers import serve_workspace

# Synthetic test data near Kongsberg town (EPSG:25832): a 10 x 10 grid of 100 m x 100 m fields.
ORIGIN = (536_000.0, 6_614_000.0)


def farmland_grid() -> gpd.GeoDataFrame:
    """100 synthetic AR5 fields; arealtype cycles 21, 22, 23, 30 so 25 fields have each."""
    x0, y0 = ORIGIN
    cells = [box(x0 + i * 100, y0 + j * 100, x0 + (i + 1) * 100, y0 + (j + 1) * 100)
             for j in range(10) for i in range(10)]
    codes = [(21, 22, 23, 30)[k % 4] for k in range(100)]
    return gpd.GeoDataFrame({"arealtype": codes, "navn": [f"Jorde {k} – Åsen" for k in range(100)],
                             "andel": [k / 100 for k in range(100)]}, geometry=cells, crs=25832)


def heritage_points() -> gpd.GeoDataFrame:
    """Three synthetic heritage sites."""
    x0, y0 = ORIGIN
    return gpd.GeoDataFrame({"vernetype": ["AUT", "VED", "LIST"]},
                            geometry=[Point(x0 + 50, y0 + 50), Point(x0 + 550, y0 + 550), Point(x0 + 5000, y0)],
                            crs=25832)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    store = GeoPackageStore(tmp_path / "ws")
    store.publish("jorder", farmland_grid(), LayerMeta(LayerKind.farmland, "Jorder (syntetisk)",
                                                       "Synthetic AR5 grid for tests", "synthetic"))
    store.publish("kulturminner", heritage_points(), LayerMeta(LayerKind.heritage, "Kulturminner (syntetisk)"))
    return tmp_path / "ws"


@pytest.fixture
def client(workspace: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(workspace=workspace, seed_demo=False))) as c:
        yield c


@pytest.fixture
def live_server(workspace: Path, tmp_path: Path) -> Iterator[str]:
    """The service run by the real ``geo-service serve`` in its own process on a free loopback port."""
    with serve_workspace(workspace, tmp_path / "serve.log", timeout=30) as url:
        yield url
