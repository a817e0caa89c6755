"""A bbox beyond the working CRS's area of use is clamped before it is projected (issue 9, item 6): the
whole world in CRS84 or Web Mercator matches every feature of the demo's AR5 layer, on both stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from geo_service.factory import create_app
from geo_service.settings import Settings
from layers.demo import build_demo_layers
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store
from tests.conftest import STORE_KINDS


@pytest.fixture(scope="module")
def ar5_frame():
    """The synthetic demo's AR5 layer (41 245 polygons over Kongsbergregionen)."""
    return next(layer.frame for layer in build_demo_layers(2005) if layer.id == "ar5")


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_world_boxes_match_every_feature(kind: str, make_store: Callable[[str], Store], ar5_frame) -> None:
    store = make_store(kind)
    store.publish("ar5", ar5_frame, LayerMeta(LayerKind.farmland, "AR5 (syntetisk)"))
    total = store.get_layer("ar5").current.feature_count
    assert total == len(ar5_frame) == 41_245
    settings = (Settings(database_url=store.url, seed_demo=False, analysis_refresh_seconds=0, database_pool_size=2)
                if kind == "postgis" else Settings(workspace=store.workspace, seed_demo=False, analysis_refresh_seconds=0))
    with TestClient(create_app(settings)) as c:
        def matched(query: str) -> int:
            response = c.get(f"/collections/ar5/items?limit=1&{query}")
            assert response.status_code == 200, response.text[:300]
            return response.json()["numberMatched"]

        assert matched("bbox=-180,-90,180,90") == total
        assert matched("bbox=-90,-180,90,180&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326") == total
        world_3857 = "-20037508,-20048966,20037508,20048966"
        assert matched(f"bbox={world_3857}&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857") == total
        assert matched("bbox=-100,10,-90,20") == 0  # wholly outside the area of use: nothing, not nonsense
        half = matched("bbox=-180,-90,9.6,90")  # west of 9.6°E: a real part, the same as the clamped box
        assert 0 < half < total and half == matched("bbox=6,36,9.6,85")
