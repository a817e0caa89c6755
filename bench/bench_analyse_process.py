"""Benchmark: the whole ``geo-service analyse --force`` process against a plain geopandas script, side by side.

SYNTHETIC DATA: the region workload of ``bench/bench_analysis.py`` (5 000 zones, 200 000 farmland parcels,
20 000 streams, 5 000 heritage sites, roads, flood zones, 7 municipalities; ~1 000 business areas) is
published once into a GeoPackage workspace (``--workspace``, default a folder under /tmp kept between runs), as
``layers add`` publishes: normalised (validated, repaired), with the normalise report in the provenance.

Then, alternating, as whole processes (interpreter start, imports, reading and writing included):

* ``service``: ``geo-service analyse --force --workspace WS`` (objection risk, business areas, sites);
* ``geopandas``: a plain script that reads zoning, farmland, watercourses and heritage with pyogrio and checks
  three rules (farmland overlap area per zone by overlay + dissolve, zones within 20 m of a watercourse and
  within 50 m of a heritage site by buffer + sjoin), printing the counts.

It prints every wall time, the best of each, the CPU time of each process (user + system: steadier than the
wall clock on a shared machine) and the ratios service / geopandas, with the machine load. ``--also DIR``
times another checkout's ``analyse`` in the same run (before/after).
Run:  python bench/bench_analyse_process.py [--runs 2] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

KINDS = {"ar5": "farmland", "elv": "watercourse", "kulturminner": "heritage", "veg": "road", "flom": "flood",
         "kommuner": "municipality"}

MARKER = ".bench-complete-normalised"  # layers published as `layers add` does (normalised, validity recorded)

BASELINE = r'''
import sys, warnings
import geopandas as gpd, pyogrio
ws = sys.argv[1]
paths = dict(a.split("=", 1) for a in sys.argv[2:])
zoning = gpd.read_file(paths["arealplan"], engine="pyogrio")
farmland = gpd.read_file(paths["ar5"], engine="pyogrio")
water = gpd.read_file(paths["elv"], engine="pyogrio")
heritage = gpd.read_file(paths["kulturminner"], engine="pyogrio")
zones = zoning[["geometry"]].reset_index(names="zid")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    dyrka = farmland[farmland["arealtype"].isin([21, 22, 23])][["geometry"]]
    pieces = gpd.overlay(zones, dyrka, how="intersection", keep_geom_type=True)
    farm = pieces.dissolve(by="zid").area
near_water = gpd.sjoin(zones, gpd.GeoDataFrame(geometry=water.buffer(20), crs=water.crs), predicate="intersects")
near_heritage = gpd.sjoin(zones, gpd.GeoDataFrame(geometry=heritage.buffer(50), crs=heritage.crs),
                          predicate="intersects")
print(len(farm), near_water["zid"].nunique(), near_heritage["zid"].nunique())
'''


def build_workspace(folder: Path) -> None:
    """Publish the synthetic region into a GeoPackage workspace at ``folder`` (once), as ``layers add`` would:
    each layer normalised (validated, repaired, canonical fields) and published with the normalise report."""
    from dataclasses import asdict

    from bench_analysis import make_region

    from layers.gpkg_store import GeoPackageStore
    from layers.kinds import LayerKind
    from layers.normalise import normalise, validity_provenance
    from layers.store import LayerMeta

    region = make_region()
    store = GeoPackageStore(folder)
    meta = "SYNTETISKE DATA / SYNTHETIC DATA (bench)"
    layers = [("arealplan", region.zoning, LayerKind.zoning, "Arealplan")]
    layers += [(layer_id, layer.frame, LayerKind(KINDS[layer_id]), layer_id) for layer_id, layer in region.layers.items()]
    for layer_id, frame, kind, title in layers:
        frame, report = normalise(frame, kind, f"synthetic {layer_id}")
        provenance = {"source": "bench/bench_analysis.py make_region (synthetic)", "report": asdict(report),
                      **validity_provenance(report)}
        store.publish(layer_id, frame, LayerMeta(kind, title, meta, provenance=provenance))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "geo-bench-region-ws2")
    parser.add_argument("--also", type=Path, action="append", default=[],
                        help="another checkout (e.g. /work/main) whose `analyse` is timed in the same run")
    args = parser.parse_args()
    ws = args.workspace
    if not (ws / MARKER).exists():
        print(f"building the synthetic workspace in {ws} …", flush=True)
        build_workspace(ws)
        (ws / MARKER).write_text("synthetic region workspace for bench_analyse_process.py\n")
    from layers.gpkg_store import GeoPackageStore

    store = GeoPackageStore(ws)
    paths = [f"{layer_id}={store.get_layer(layer_id).current.location}"
             for layer_id in ("arealplan", "ar5", "elv", "kulturminner")]
    env = dict(os.environ, PYTHONPATH=str(ROOT), GEO_SERVICE_WORKSPACE=str(ws))
    script = Path(tempfile.mkdtemp()) / "baseline.py"
    script.write_text(BASELINE)
    cli = Path(sys.executable).with_name("geo-service")
    commands = {"service": [str(cli), "analyse", "--force", "--workspace", str(ws)],
                "geopandas": [sys.executable, str(script), str(ws), *paths]}
    envs = {name: env for name in commands}
    for other in args.also:
        commands[f"service@{other.name}"] = commands["service"]
        envs[f"service@{other.name}"] = dict(env, PYTHONPATH=str(other.resolve()))
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            before = os.times()
            start = time.perf_counter()
            done = subprocess.run(command, env=envs[name], capture_output=True, text=True, check=False)
            times[name].append(time.perf_counter() - start)
            after = os.times()
            cpu[name].append(after.children_user - before.children_user + after.children_system
                             - before.children_system)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; runs alternate; best of {args.runs}")
    for name, values in times.items():
        print(f"  {name:14s} wall best {min(values):6.2f} s (all {', '.join(f'{v:.2f}' for v in values)}); "
              f"CPU best {min(cpu[name]):6.2f} s")
    for name, values in times.items():
        if name != "geopandas":
            print(f"  ratio {name} / geopandas: wall {min(values) / min(times['geopandas']):.2f}, "
                  f"CPU {min(cpu[name]) / min(cpu['geopandas']):.2f}")


if __name__ == "__main__":
    main()
