"""Fixtures for the maps: a private copy of the full synthetic demo workspace (``demo_workspace`` lives in
``tests/conftest.py``, built once per run), and a small workspace without derived collections (to check the
"not computed yet" pages)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta


@pytest.fixture(scope="session")
def demo_server(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``geo-service serve`` on the demo workspace in its own process, basemap off, no refresh loop; one per
    session, shared by the browser test modules (its first page is the cold one)."""
    from tests.maps.test_browser import _require_browser
    from tests.servers import serve_workspace

    _require_browser()
    root = tmp_path_factory.mktemp("serve")
    served = root / "demo"  # a copy: the server computes the site register at start, the shared demo stays as built
    shutil.copytree(demo_workspace, served)
    env = {"GEO_SERVICE_BASEMAP_URL": "", "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0"}
    with serve_workspace(served, root / "serve.log", env) as url:
        yield url


@pytest.fixture
def demo_copy(demo_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the demo workspace, for tests that publish or add rule files."""
    target = tmp_path / "demo"
    shutil.copytree(demo_workspace, target)
    return target


@pytest.fixture
def bare_workspace(tmp_path: Path) -> Path:
    """One municipality and one zoning area near Kongsberg, and no derived collections."""
    store = GeoPackageStore(tmp_path / "bare")
    kommune = gpd.GeoDataFrame({"kommunenummer": ["3303"], "kommunenavn": ["Kongsberg"]},
                               geometry=[box(530_000, 6_608_000, 545_000, 6_622_000)], crs=25832)
    store.publish("kommuner", kommune, LayerMeta(LayerKind.municipality, "Kommuner (test)"))
    zone = gpd.GeoDataFrame({"arealformal": [1300], "plantype": ["kommuneplan"], "planstatus": [3],
                             "arealbruksstatus": [2], "kommunenummer": ["3303"]},
                            geometry=[box(536_000, 6_614_000, 536_300, 6_614_300)], crs=25832)
    store.publish("arealplan", zone, LayerMeta(LayerKind.zoning, "Arealplan (test)"))
    return tmp_path / "bare"
