"""Planner workspace speed in Chromium on the demo: first full render of /maps/planner cold and warm, the site
check report for a drawn ~300 daa polygon (request to report on screen), and the site-check PDF.

    python bench/bench_planner.py [WORKSPACE] [--no-warm]   # default: builds the synthetic demo in a temp folder

``--no-warm`` switches the service's background warm-up off (GEO_SERVICE_WARM_MAPS=0): the cold figure is then the
server building the page and its data on the first request. The breakdown line shows, for the last planner
load, when the risk data was requested, downloaded and parsed, and turned into map layers (ms from navigation).

Targets (issue 13): planner < 2 s cold and < 1 s warm; report < 500 ms after the polygon closes; PDF < 2 s.
Baselines in the same run: the investor map (cold/warm) and the bare JSON site check for the same polygon.
Prints the machine load; run it once or twice on a quiet machine.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers import serve_workspace

READY = "() => window.GeoMaps && GeoMaps.state.ready === true"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
# ~300 daa square west of Kongsberg town (CRS84)
SITE = {"type": "Polygon", "coordinates": [[[9.6150, 59.6620], [9.6246, 59.6620], [9.6246, 59.6669],
                                            [9.6150, 59.6669], [9.6150, 59.6620]]]}


def post(url: str, body: dict) -> tuple[float, bytes]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        data = r.read()
    return (time.perf_counter() - t) * 1000, data


def main() -> None:
    from playwright.sync_api import sync_playwright

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    warm = "--no-warm" not in sys.argv
    if args:
        workspace = Path(args[0])
    else:
        from constraints.publish import refresh_derived
        from constraints.rules import load_rules
        from layers.gpkg_store import GeoPackageStore
        from layers.seed import publish_demo

        workspace = Path(tempfile.mkdtemp(prefix="bench-planner-")) / "demo"
        store = GeoPackageStore(workspace)
        publish_demo(store)
        refresh_derived(store, load_rules())
    env = {"GEO_SERVICE_BASEMAP_URL": "", "GEO_SERVICE_ANALYSIS_REFRESH_SECONDS": "0",
           "GEO_SERVICE_WARM_MAPS": "1" if warm else "0"}
    print(f"background warm-up: {'on' if warm else 'off'}")
    print(f"load before: {os.getloadavg()}")
    with serve_workspace(workspace, Path(tempfile.mkdtemp()) / "serve.log", env) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        out: dict[str, float] = {}
        for name in ("investor", "planner"):
            for run in ("cold", "warm"):
                t = time.perf_counter()
                page.goto(f"{url}/maps/{name}")
                page.wait_for_function(READY, timeout=120_000)
                out[f"{name} {run} (wall ms)"] = (time.perf_counter() - t) * 1000
        layer = page.evaluate("() => GeoMaps.state.layers['risk-RED']")
        print("planner warm breakdown (ms from navigation): risk data requested {requestedMs}, parsed {parsedMs}, "
              "layers made {addedMs}, first full render {ready}".format(
                  ready=page.evaluate("() => GeoMaps.state.firstRenderMs"), **layer))
        checks = []
        for _ in range(5):
            page.evaluate("(g) => GeoMaps.workspace.check(g)", SITE)
            page.wait_for_function("(n) => GeoMaps.workspace.checks >= n", arg=len(checks) + 1, timeout=30_000)
            page.wait_for_timeout(50)
            checks.append(page.evaluate("() => GeoMaps.workspace.lastMs"))
        area = page.evaluate("() => GeoMaps.workspace.lastReport.area_daa")
        out[f"site check {area:.0f} daa, report on screen (median of 5, ms)"] = statistics.median(checks)
        json_ms = statistics.median(post(f"{url}/analyses/site-check", SITE)[0] for _ in range(5))
        out["  baseline: JSON site check only (median of 5, ms)"] = json_ms
        pdf_ms = [post(f"{url}/analyses/site-check.pdf", SITE)[0] for _ in range(4)]
        out["site-check PDF first (ms)"] = pdf_ms[0]
        out["site-check PDF warm (median of 3, ms)"] = statistics.median(pdf_ms[1:])
        browser.close()
    for key, value in out.items():
        print(f"{key:60s} {value:8.0f}")
    print(f"planner/investor cold ratio: {out['planner cold (wall ms)'] / out['investor cold (wall ms)']:.2f}; "
          f"report/JSON ratio: {out[next(k for k in out if k.startswith('site check'))] / json_ms:.2f}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
