"""Crash canary: the derived refresh (through ``layers add``) and the site check (through a live ``serve``) on large and
pathological geometries, with 2 analysis threads, in their own processes. The processes must end normally: before
the engine kept prepared geometries thread-private, ``layers add`` exited 139 and the server died (SIGSEGV).

Synthetic data (tests/constraints/stress_engine.py) near Kongsberg.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.gpkg_store import GeoPackageStore
from layers.store import LayerMeta
from tests.constraints.stress_engine import constraint_layers, pathological_zones
from tests.geo_service.test_cli import run
from tests.servers import serve_workspace

THREADS = {"GEO_SERVICE_THREADS": "2"}
# the 114-byte payload of the issue: a 34 x 33 km site over the synthetic data
LARGE_SITE = {"type": "Polygon", "coordinates": [[[9.35, 59.51], [9.95, 59.51], [9.95, 59.81], [9.35, 59.81],
                                                  [9.35, 59.51]]]}


def _workspace(tmp_path: Path) -> Path:
    store = GeoPackageStore(tmp_path / "ws")
    for layer in constraint_layers().values():
        store.publish(layer.id, layer.frame, LayerMeta(layer.kind, f"{layer.id} (syntetisk)"))
    return tmp_path / "ws"


def _zoning_file(tmp_path: Path) -> Path:
    """The 56 km zone, a bow-tie and a zone with 100 holes, zoned for housing (the building rules apply)."""
    big, _, bowtie, holey, _ = pathological_zones()
    n = 3
    frame = gpd.GeoDataFrame({"arealformal": np.full(n, 1110), "plantype": ["kommuneplan"] * n,
                              "planstatus": np.full(n, 3), "arealbruksstatus": np.full(n, 2),
                              "kommunenummer": ["3303"] * n}, geometry=[big, bowtie, holey], crs=25832)
    path = tmp_path / "stor-plan.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path


def test_refresh_and_site_check_on_pathological_geometry_do_not_crash(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    added = run("layers", "add", _zoning_file(tmp_path), "--id", "stor-plan", "--kind", "zoning", "-w", workspace,
                cwd=tmp_path, env=THREADS)
    assert added.returncode == 0, (added.returncode, added.stderr[-2000:])  # not -11 / 139
    assert "recomputed objection-risk: version 1, 3 features" in added.stdout
    risk = GeoPackageStore(workspace)
    frame = risk.read_frame(risk.get_layer("objection-risk").current)
    assert (frame["objection_risk"] == "RED").all()  # every zone lies on the synthetic AR5 grid

    ar5 = constraint_layers()["ar5"].frame
    dyrka_m2 = shapely.union_all(ar5.geometry[ar5["arealtype"].isin([21, 22, 23])].to_numpy()).area
    with serve_workspace(workspace, tmp_path / "serve.log", env={**os.environ, **THREADS}, timeout=90) as url:
        for _ in range(2):
            request = urllib.request.Request(f"{url}/analyses/site-check", data=json.dumps(LARGE_SITE).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=120) as response:
                report = json.load(response)
            assert response.status == 200 and report["objection_risk"] == "RED"
            farmland = next(t for t in report["themes"] if t["theme"] == "farmland")
            assert farmland["rules"][0]["hit_area_m2"] == pytest.approx(dyrka_m2, rel=1e-9)  # all of it inside
        with urllib.request.urlopen(f"{url}/conformance", timeout=10) as alive:
            assert alive.status == 200  # the same process is still serving
    assert "Segmentation fault" not in (tmp_path / "serve.log").read_text()
