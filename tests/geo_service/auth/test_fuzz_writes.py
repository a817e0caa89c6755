"""A property-based fuzz run (schemathesis) of the write routes of this issue: uploads, Part 4 items and the
admin routes, as nobody and as an admin. 0 server errors; nobody gets a 2xx from a write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from geo_service.auth.keys import create_key
from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta
from tests.geo_service.conftest import farmland_grid

WRITES = r"^/(layers/uploads|admin|collections/\{collectionId\}/items)"


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    workspace = tmp_path_factory.mktemp("fuzz") / "ws"
    store = GeoPackageStore(workspace)
    store.publish("jorder", farmland_grid().iloc[:20], LayerMeta(LayerKind.farmland, "Jorder (syntetisk)"))
    _, secret = create_key(store, "fuzz admin", "admin", [])
    app = create_app(Settings(workspace=workspace, seed_demo=False, analysis_refresh_seconds=0,
                              upload_ingest_seconds=20))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, secret


def test_write_routes_never_answer_5xx(fuzzed: tuple[TestClient, str]) -> None:
    client, secret = fuzzed
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json()).include(path_regex=WRITES)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 10, [o.path for o in operations]
    seen: list[tuple[str, str, int]] = []
    for operation in operations:
        fuzz(client, operation, None, seen)
        fuzz(client, operation, secret, seen)
    assert len(seen) >= 80
    print(f"fuzz: {len(seen)} requests over {len(operations)} write operations, "
          f"statuses {sorted({s for *_, s in seen})}")


def fuzz(client: TestClient, operation: Any, secret: str | None, seen: list[tuple[str, str, int]]) -> None:
    """Eight generated requests to ``operation``, as nobody (``secret`` None) or with the admin key."""
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}

    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: schemathesis.Case) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        kwargs.pop("base_url", None)
        kwargs.pop("cookies", None)  # none are declared; the client keeps none
        response = client.request(**kwargs)
        seen.append((operation.method, operation.path, response.status_code))
        assert response.status_code < 500, (kwargs.get("url"), response.status_code, response.text[:300])
        if secret is None and operation.method.upper() != "GET":  # nobody never writes
            assert response.status_code in (400, 401, 404, 405, 411, 413, 422), response.status_code

    run()
