"""Fixtures shared by every test folder: the throwaway PostGIS cluster and the store parametrised over both
implementations (``gpkg`` | ``postgis``), so one test runs against each and must get the same answers.

Without PostgreSQL/PostGIS the PostGIS cases skip with the reason; with ``CI=true`` they fail instead:
CI must run them (``.ci/run`` installs ``postgresql-15-postgis-3``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from layers.gpkg_store import GeoPackageStore
from layers.store import Store
from tests.postgis_cluster import Cluster, why_unavailable

STORE_KINDS = ("gpkg", "postgis")
# Apps made by tests do not warm the planner map in a background thread (it would compete with the next
# tests for the CPU); a test that needs the warm-up sets GEO_SERVICE_WARM_MAPS=1 itself.
os.environ.setdefault("GEO_SERVICE_WARM_MAPS", "0")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostGIS tests must run in CI but cannot: {reason}", pytrace=False)
    pytest.skip(f"PostGIS tests skipped: {reason}")


@pytest.fixture(scope="session")
def postgis_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL + PostGIS server for the whole session (see ``tests/postgis_cluster.py``)."""
    reason = why_unavailable()
    if reason:
        _unavailable(reason)
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgis_url(postgis_cluster: Cluster) -> str:
    """A fresh, empty database with PostGIS (the store's migrations have not run yet)."""
    return postgis_cluster.new_database()


@pytest.fixture
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Store]]:
    """``make_store("gpkg" | "postgis")``: a new empty store of that kind, closed after the test."""
    opened: list[Store] = []

    def make(kind: str) -> Store:
        if kind == "gpkg":
            store: Store = GeoPackageStore(tmp_path / f"workspace-{len(opened)}")
        else:
            cluster = request.getfixturevalue("postgis_cluster")  # skips (locally) or fails (CI) first
            from layers.postgis_store import PostGISStore

            store = PostGISStore(cluster.new_database(), pool_size=4)
        opened.append(store)
        return store

    yield make
    for store in opened:
        close = getattr(store, "close", None)
        if close is not None:
            close()


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full demo (7 municipalities, 6 748 zones, 41 245 AR5 polygons …) with objection-risk and
    business-areas computed by the default rules, built once per run for every test folder (maps, HTTP
    fuzzing). Read-only for tests: copy it before changing it."""
    from constraints.publish import refresh_derived
    from constraints.rules import load_rules
    from layers.seed import publish_demo

    path = tmp_path_factory.mktemp("maps") / "demo"
    store = GeoPackageStore(path)
    publish_demo(store)
    refresh_derived(store, load_rules())
    return path


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, make_store: Callable[[str], Store]) -> Store:
    """An empty store of each kind in turn (test modules may define their own ``store``)."""
    return make_store(request.param)


@pytest.fixture
def both_stores(make_store: Callable[[str], Store]) -> tuple[Store, Store]:
    """An empty GeoPackage store and an empty PostGIS store, to compare answers side by side."""
    return make_store("gpkg"), make_store("postgis")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for a module's page tests (modules may define their own). Module scope, not session:
    Playwright's sync API runs an event loop that must be gone before other tests use asyncio or Playwright."""
    from tests.browser import launched

    with launched() as chromium:
        yield chromium
