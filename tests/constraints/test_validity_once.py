"""Geometry validity is checked once, when a layer is normalised and published, not again by every analysis.

SYNTHETIC DATA: the small region of ``test_fast_paths`` (400 zones, ~2 400 fields, streams, heritage) plus a
self-intersecting field and, for ingest, a few hand-made polygons.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from constraints import coverage, publish
from constraints.rules import load_rules
from layers.checks import CheckContext, Region
from layers.edits import FeatureEdit, apply_edit
from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.normalise import normalise, validity_provenance
from layers.store import GEOMETRIES_VALID, LayerMeta
from tests.constraints.test_fast_paths import X0, Y0, region

BOWTIE = shapely.Polygon([(X0 + 20, Y0 + 20), (X0 + 120, Y0 + 120), (X0 + 120, Y0 + 20), (X0 + 20, Y0 + 120)])


def _normalised_region() -> dict[str, tuple[LayerKind, gpd.GeoDataFrame, dict]]:
    layers = region()
    kind, farm = layers["ar5"]
    farm = pd.concat([farm, gpd.GeoDataFrame({"arealtype": [21]}, geometry=[BOWTIE], crs=25832)],
                     ignore_index=True)
    layers["ar5"] = (kind, farm)
    out = {}
    for layer_id, (kind, frame) in layers.items():
        frame, report = normalise(frame, kind, f"synthetic {layer_id}")
        out[layer_id] = (kind, frame, validity_provenance(report))
    return out


def test_normalise_records_validity_only_when_every_geometry_was_checked() -> None:
    farm = gpd.GeoDataFrame({"arealtype": [21, 22]}, geometry=[shapely.box(X0, Y0, X0 + 50, Y0 + 50), BOWTIE],
                            crs=25832)
    out, report = normalise(farm, LayerKind.farmland, "synthetic")
    assert report.repaired == 1 and report.geometries_valid is True  # the repaired one was checked again
    assert shapely.is_valid(out.geometry.values).all()
    assert validity_provenance(report) == {GEOMETRIES_VALID: True}
    _, moved = normalise(farm.to_crs(25833), LayerKind.farmland, "synthetic")  # reprojected after the check
    assert moved.geometries_valid is False and validity_provenance(moved) == {}


def test_analysis_trusts_recorded_validity_and_publishes_the_same(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    layers = _normalised_region()
    checked: list[int] = []
    real = coverage.repair
    monkeypatch.setattr(coverage, "repair", lambda geoms: (checked.append(len(geoms)), real(geoms))[1])
    results = {}
    for trusted in (True, False):
        store = GeoPackageStore(tmp_path / f"ws-{trusted}")
        for layer_id, (kind, frame, validity) in layers.items():
            store.publish(layer_id, frame, LayerMeta(kind, f"SYNTETISK {layer_id}",
                                                     provenance=validity if trusted else {}))
        farm_rows = len(layers["ar5"][1])
        checked.clear()
        assert publish.refresh_derived(store, load_rules(), force=True)
        assert (farm_rows in checked) is not trusted  # the wall-to-wall AR5 coverage: checked only if not recorded
        results[trusted] = {name: store.read_frame(store.get_layer(name).current)
                            for name in (publish.OBJECTION_RISK, publish.BUSINESS_AREAS)}
    for name, frame in results[True].items():
        other = results[False][name]
        assert len(frame) == len(other) > 20
        pd.testing.assert_frame_equal(pd.DataFrame(frame.drop(columns="geometry")),
                                      pd.DataFrame(other.drop(columns="geometry")), rtol=1e-9)
        assert shapely.equals_exact(frame.geometry.values, other.geometry.values, 0).all()
    assert set(results[True][publish.OBJECTION_RISK]["objection_risk"]) >= {"RED", "GREEN"}


def test_ingest_records_validity_and_an_edit_drops_it(tmp_path: Path) -> None:
    source = tmp_path / "ar5.gpkg"
    fields = gpd.GeoDataFrame({"arealtype": [21, 22, 30]},
                              geometry=[shapely.box(X0, Y0, X0 + 50, Y0 + 50), BOWTIE,
                                        shapely.box(X0 + 200, Y0, X0 + 260, Y0 + 60)], crs=25832)
    pyogrio.write_dataframe(fields, source, layer="ar5")
    store = GeoPackageStore(tmp_path / "ws")
    report = ingest(store, source, "ar5", LayerKind.farmland)
    current = store.get_layer("ar5").current
    assert report.normalised.repaired == 1
    assert current.provenance[GEOMETRIES_VALID] is True
    layers = publish.constraint_layers(store, publish.current_inputs(store))
    assert layers["ar5"].valid is True
    # an edited geometry is not checked: the new version must not claim validity
    context = CheckContext(Region((X0 - 1000, Y0 - 1000, X0 + 1000, Y0 + 1000)), force=True)
    apply_edit(store, "ar5", FeatureEdit("replace", int(store.read_frame(current).index[0]), BOWTIE,
                                         {"arealtype": 21}), context)
    edited = store.get_layer("ar5").current
    assert edited.version == current.version + 1 and GEOMETRIES_VALID not in edited.provenance
    assert publish.constraint_layers(store, publish.current_inputs(store))["ar5"].valid is False
    assert not np.all(shapely.is_valid(store.read_frame(edited).geometry.values))  # what the analysis now checks
