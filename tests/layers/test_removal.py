"""Soft delete, restore and purge of layers, and rollback restoring the version's title, description and
attribution, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pytest
from shapely.geometry import box

from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.store import LayerMeta, Store


def fields(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"arealtype": [21] * n},
                            geometry=[box(536_000 + 100 * i, 6_614_000, 536_100 + 100 * i, 6_614_100) for i in range(n)],
                            crs=25832)


def test_rollback_restores_the_versions_metadata(store: Store) -> None:
    store.publish("ar5", fields(2), LayerMeta(LayerKind.farmland, "AR5 Kongsberg", "Dyrka jord 2024", "© NIBIO"))
    store.publish("ar5", fields(3), LayerMeta(LayerKind.farmland, "AR5 feil", "Lastet ved en feil", "ukjent"))
    layer = store.rollback("ar5", 1)
    assert (layer.title, layer.description, layer.attribution, layer.current.feature_count) == (
        "AR5 Kongsberg", "Dyrka jord 2024", "© NIBIO", 2)
    assert store.rollback("ar5", 2).title == "AR5 feil"


def test_remove_restore_and_purge(store: Store) -> None:
    store.publish("ar5", fields(2), LayerMeta(LayerKind.farmland, "AR5"))
    store.publish("ar5", fields(4), LayerMeta(LayerKind.farmland, "AR5"))
    store.publish("veg", fields(1), LayerMeta(LayerKind.other, "Veg"))
    removed = store.remove_layer("ar5")
    assert (removed.id, removed.versions, removed.title) == ("ar5", 2, "AR5")
    assert [layer.id for layer in store.list_layers()] == ["veg"]
    assert "ar5" not in store.current_versions()
    with pytest.raises(LayerNotFound):
        store.get_layer("ar5")
    with pytest.raises(LayerNotFound):
        store.remove_layer("ar5")
    store.restore_layer("ar5")
    assert store.get_layer("ar5").current.feature_count == 4 and store.removed_layers() == []
    with pytest.raises(LayerNotFound, match="no removed layer 'ar5'"):
        store.restore_layer("ar5")

    store.remove_layer("ar5")
    assert store.purge_removed(datetime.now(UTC) - timedelta(days=30)) == []  # inside the retention period
    assert store.purge_removed(datetime.now(UTC) + timedelta(seconds=1)) == ["ar5"]
    assert store.removed_layers() == [] and [layer.id for layer in store.list_layers()] == ["veg"]
    # the id is free again: a new publish starts at version 1
    assert store.publish("ar5", fields(1), LayerMeta(LayerKind.farmland, "AR5 ny")).version == 1


def test_publishing_to_a_removed_layer_brings_it_back(store: Store) -> None:
    store.publish("ar5", fields(2), LayerMeta(LayerKind.farmland, "AR5"))
    store.remove_layer("ar5")
    assert store.publish("ar5", fields(3), LayerMeta(LayerKind.farmland, "AR5")).version == 2
    assert store.get_layer("ar5").current.feature_count == 3
