"""Crash canary: the derived refresh (through ``layers add``) and the site check (through a live ``serve``) on large and
pathological geometries, with 2 analysis threads, each in its own process; every process must end normally.

On the synthetic demo workspace (``geo-service demo``), exactly as the issue reproduced it: before the engine kept
prepared geometries thread-private, adding one 56 km zoning polygon made ``layers add`` exit 139 (SIGSEGV in the
derived refresh), and the site check below killed the server.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from layers.gpkg_store import GeoPackageStore
from tests.geo_service.test_cli import run
from tests.servers import serve_workspace

THREADS = {"GEO_SERVICE_THREADS": "2"}
LARGE_SITES = {"GEO_SERVICE_SITE_MAX_AREA_KM2": "100000"}  # the canary checks the engine, not the size limits
# the 114-byte payload of the issue: a 34 x 33 km site near Kongsberg
LARGE_SITE = {"type": "Polygon", "coordinates": [[[9.35, 59.51], [9.95, 59.51], [9.95, 59.81], [9.35, 59.81],
                                                  [9.35, 59.51]]]}


def _zoning_file(tmp_path: Path) -> Path:
    """Synthetic: a 56 x 40 km zone, a bow-tie (self-intersecting) and a zone with 100 holes, zoned for business (every rule and the business-area path apply)."""
    x0, y0 = 480_000.0, 6_610_000.0
    big = shapely.box(x0, y0, x0 + 56_000, y0 + 40_000)
    bowtie = shapely.Polygon([(x0, y0), (x0 + 9000, y0 + 9000), (x0 + 9000, y0), (x0, y0 + 9000), (x0, y0)])
    holes = [shapely.box(x0 + 500 + 900 * a, y0 + 500 + 900 * b, x0 + 800 + 900 * a, y0 + 800 + 900 * b)
             .exterior.coords for a in range(10) for b in range(10)]
    holey = shapely.Polygon(shapely.box(x0, y0, x0 + 9500, y0 + 9500).exterior.coords, holes)
    n = 3
    frame = gpd.GeoDataFrame({"arealformal": np.full(n, 1300), "plantype": ["kommuneplan"] * n,
                              "planstatus": np.full(n, 3), "arealbruksstatus": np.full(n, 2),
                              "kommunenummer": ["3303"] * n}, geometry=[big, bowtie, holey], crs=25832)
    path = tmp_path / "stor-plan.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path


def test_refresh_and_site_check_on_large_and_pathological_geometry_do_not_crash(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    demo = run("demo", "-w", workspace, cwd=tmp_path, env=THREADS)
    assert demo.returncode == 0, demo.stderr[-2000:]
    added = run("layers", "add", _zoning_file(tmp_path), "--id", "stor-plan", "--kind", "zoning", "-w", workspace,
                "--wait", cwd=tmp_path, env=THREADS)
    assert added.returncode == 0, (added.returncode, added.stderr[-2000:])  # before the fix: -11 (exit 139)
    assert "recomputed objection-risk" in added.stdout
    store = GeoPackageStore(workspace)
    risk = store.read_frame(store.get_layer("objection-risk").current)
    assert len(risk) == store.get_layer("arealplan").current.feature_count + 3  # every zone of both layers

    reports = []
    with serve_workspace(workspace, tmp_path / "serve.log", env={**os.environ, **THREADS, **LARGE_SITES}, timeout=90) as url:
        for _ in range(2):
            request = urllib.request.Request(f"{url}/analyses/site-check", data=json.dumps(LARGE_SITE).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=120) as response:
                assert response.status == 200
                reports.append(json.load(response))
        with urllib.request.urlopen(f"{url}/conformance", timeout=10) as alive:
            assert alive.status == 200  # the same process is still serving
    first, second = ({k: v for k, v in r.items() if k != "elapsed_ms"} for r in reports)
    assert first == second and first["objection_risk"] == "RED"
    farmland = next(t for t in first["themes"] if t["theme"] == "farmland")["rules"][0]
    assert farmland["hit_area_daa"] > 1_000 and len(farmland["hit_ids"]) > 1_000  # synthetic AR5 inside the site
