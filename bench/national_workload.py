"""A national workload for the distributed analysis, written straight into a GeoPackage workspace.

SYNTHETIC DATA, deterministic for a seed, in EPSG:25833 over Norway's extent (E -80 000 – 1 120 000,
N 6 440 000 – 7 950 000): 356 municipalities tiling that box (a 19 × 19 grid, the last five cells left out),
each with the same recipe: 6 meandering valleys with rivers, 14 045 AR5-like parcels along them (disjoint, 10
vertices), 2 809 tributary streams, 562 heritage sites, 100 road stretches, 50 flood zones and 843 zones around
8 towns. At 100 %: 300 108 zones, 5 000 020 farmland parcels, 1 002 138 stream segments (the valleys included),
200 072 heritage sites. ``--fraction F`` generates the first round(356 F) municipalities (same density, so the
time per zone compares across fractions). Nothing here is real geography.

Run:  python bench/national_workload.py --fraction 0.1 --workspace /tmp/geo-national/ws-0.1
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from layers.gpkg_store import GeoPackageStore
from layers.kinds import LayerKind
from layers.store import LayerMeta

CRS = "EPSG:25833"
EXTENT = (-80_000.0, 6_440_000.0, 1_120_000.0, 7_950_000.0)
GRID = 19
N_MUNICIPALITIES = 356
PER_MUNICIPALITY = {"zones": 843, "farmland": 14_045, "streams": 2_809, "heritage": 562, "roads": 100, "flood": 50}
VALLEYS, TOWNS = 6, 8
NOTE = "SYNTETISKE DATA / SYNTHETIC DATA (national bench): no real geography"
COMPLETE = ".national-complete"


@dataclass(frozen=True)
class Grid:
    """The municipality cells: lower-left corners and size."""

    x0: np.ndarray
    y0: np.ndarray
    dx: float
    dy: float
    knr: np.ndarray

    def __len__(self) -> int:
        return len(self.x0)

    def cell_of(self, xy: np.ndarray) -> np.ndarray:
        """Index of the cell holding each point (-1 outside the generated municipalities)."""
        ix = np.floor((xy[:, 0] - EXTENT[0]) / self.dx).astype(np.int64)
        iy = np.floor((xy[:, 1] - EXTENT[1]) / self.dy).astype(np.int64)
        flat = iy * GRID + ix
        ok = (ix >= 0) & (ix < GRID) & (iy >= 0) & (iy < GRID) & (flat < len(self))
        return np.where(ok, flat, -1)


def grid(fraction: float) -> Grid:
    """The first round(356 × fraction) cells, row by row from the south-west."""
    n = max(1, round(N_MUNICIPALITIES * fraction))
    dx = (EXTENT[2] - EXTENT[0]) / GRID
    dy = (EXTENT[3] - EXTENT[1]) / GRID
    flat = np.arange(n)
    return Grid(EXTENT[0] + (flat % GRID) * dx, EXTENT[1] + (flat // GRID) * dy, dx, dy,
                np.array([f"{1101 + i:04d}" for i in flat], dtype=object))


def _walks(rng: np.random.Generator, starts: np.ndarray, n_steps: int, step: float, wiggle: float) -> np.ndarray:
    head = rng.uniform(0, 2 * np.pi, len(starts))
    turns = rng.normal(0, wiggle, (len(starts), n_steps)).cumsum(axis=1) + head[:, None]
    steps = np.stack([np.cos(turns), np.sin(turns)], axis=-1) * step
    return np.concatenate([starts[:, None, :], starts[:, None, :] + steps.cumsum(axis=1)], axis=1)


def _stars(rng: np.random.Generator, centres: np.ndarray, r_min: float, r_max: float, k: int,
           scale: np.ndarray | None = None) -> np.ndarray:
    ang = np.sort(rng.uniform(0, 2 * np.pi, (len(centres), k)), axis=1)
    r = rng.uniform(r_min, r_max, (len(centres), k))
    sx = np.ones(len(centres)) if scale is None else scale[:, 0]
    sy = np.ones(len(centres)) if scale is None else scale[:, 1]
    ring = np.stack([centres[:, :1] + sx[:, None] * r * np.cos(ang), centres[:, 1:2] + sy[:, None] * r * np.sin(ang)],
                    axis=-1)
    return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))


def _along(rng: np.random.Generator, valleys_xy: np.ndarray, muni: np.ndarray, spread: float) -> np.ndarray:
    """Points near a random vertex of a random valley of each given municipality."""
    v = muni * VALLEYS + rng.integers(0, VALLEYS, len(muni))
    at = rng.integers(0, valleys_xy.shape[1], len(muni))
    return valleys_xy[v, at] + rng.normal(0, spread, (len(muni), 2))


def generate(workspace: Path, fraction: float, seed: int = 20261129, log: bool = True) -> dict[str, int]:
    """Generate and publish every layer into ``workspace``; returns the feature counts."""
    t0 = time.perf_counter()
    store = GeoPackageStore(workspace)
    rng = np.random.default_rng(seed)
    g = grid(fraction)
    n = len(g)
    counts: dict[str, int] = {}

    def publish(layer_id: str, kind: LayerKind, frame: gpd.GeoDataFrame) -> None:
        started = time.perf_counter()
        store.publish(layer_id, frame, LayerMeta(kind, f"{layer_id} (synthetic)", NOTE))
        counts[layer_id] = len(frame)
        if log:
            print(f"  {layer_id:13s} {len(frame):>10,d} features written in {time.perf_counter() - started:6.1f} s",
                  flush=True)

    # municipalities
    cells = shapely.box(g.x0, g.y0, g.x0 + g.dx, g.y0 + g.dy)
    publish("kommuner", LayerKind.municipality, gpd.GeoDataFrame(
        {"kommunenummer": g.knr, "kommunenavn": [f"Syntetisk kommune {k}" for k in g.knr]}, geometry=cells, crs=CRS))

    # valleys: 6 per municipality, 150 steps of 300 m from inside the cell, kept in the cell
    muni_v = np.repeat(np.arange(n), VALLEYS)
    starts = np.column_stack([g.x0[muni_v] + rng.uniform(0.2, 0.8, len(muni_v)) * g.dx,
                              g.y0[muni_v] + rng.uniform(0.2, 0.8, len(muni_v)) * g.dy])
    valleys_xy = _walks(rng, starts, 150, 300.0, 0.12)
    valleys_xy[..., 0] = valleys_xy[..., 0].clip((g.x0[muni_v] + 500)[:, None], (g.x0[muni_v] + g.dx - 500)[:, None])
    valleys_xy[..., 1] = valleys_xy[..., 1].clip((g.y0[muni_v] + 500)[:, None], (g.y0[muni_v] + g.dy - 500)[:, None])

    # farmland: parcels on a 160 m lattice near the valleys (disjoint: radius < 80 m), 10 vertices
    want = PER_MUNICIPALITY["farmland"] * n
    muni_f = np.repeat(np.arange(n), int(PER_MUNICIPALITY["farmland"] * 1.6))
    xy = _along(rng, valleys_xy, muni_f, 900.0)
    cell = 160.0
    key = np.round(xy / cell).astype(np.int64)
    _, first = np.unique(key[:, 0] * 10_000_000 + key[:, 1], return_index=True)
    first = np.sort(first)
    inside = g.cell_of(key[first] * cell) == muni_f[first]
    first = first[inside]
    if len(first) < want:
        raise RuntimeError(f"only {len(first)} distinct farmland cells for {want}")
    first = np.sort(rng.choice(first, want, replace=False))
    centres = key[first] * cell
    farm_geoms = _stars(rng, centres, 52.0, 78.0, 10)
    publish("ar5", LayerKind.farmland, gpd.GeoDataFrame(
        {"arealtype": rng.choice(np.array([21, 22, 23, 30, 50], dtype=np.int32), size=want,
                                 p=[0.55, 0.05, 0.15, 0.15, 0.10])}, geometry=farm_geoms, crs=CRS))
    del farm_geoms, centres, key, xy

    # streams: tributaries leaving the valleys, 12-30 vertices of ~90 m; the valleys are rivers too
    ns = PER_MUNICIPALITY["streams"] * n
    muni_s = np.repeat(np.arange(n), PER_MUNICIPALITY["streams"])
    s_start = _along(rng, valleys_xy, muni_s, 30.0)
    lengths = rng.integers(12, 31, ns) + 1
    stream_xy = _walks(rng, s_start, 30, 90.0, 0.25)
    keep = np.arange(stream_xy.shape[1])[None, :] < lengths[:, None]
    streams = shapely.linestrings(stream_xy[keep], indices=np.repeat(np.arange(ns), lengths))
    rivers = np.concatenate([shapely.linestrings(valleys_xy), streams])
    verneplan = np.full(len(rivers), None, dtype=object)
    protected = np.arange(0, n * VALLEYS, 23)  # about one valley in four municipalities is protected
    verneplan[protected] = [f"016/{i}" for i in range(len(protected))]
    publish("elv", LayerKind.watercourse, gpd.GeoDataFrame({"verneplan": verneplan}, geometry=rivers, crs=CRS))
    del streams, rivers, stream_xy

    # heritage: mostly points near the valleys, every fifth a small polygon
    nh = PER_MUNICIPALITY["heritage"] * n
    h_xy = _along(rng, valleys_xy, np.repeat(np.arange(n), PER_MUNICIPALITY["heritage"]), 900.0)
    h_geoms = shapely.points(h_xy)
    poly = rng.random(nh) < 0.2
    h_geoms[poly] = _stars(rng, h_xy[poly], 8.0, 25.0, 8)
    publish("kulturminner", LayerKind.heritage, gpd.GeoDataFrame(
        {"vernetype": rng.choice(["AUT", "FOR", "VED", "LIST", "UAV"], size=nh, p=[0.5, 0.05, 0.1, 0.2, 0.15])},
        geometry=h_geoms, crs=CRS))

    # roads along the valleys (offset 150 m), flood zones on 2 km river stretches
    nr = PER_MUNICIPALITY["roads"] * n
    rv = np.repeat(np.arange(n), PER_MUNICIPALITY["roads"]) * VALLEYS + rng.integers(0, VALLEYS, nr)
    rat = rng.integers(0, valleys_xy.shape[1] - 40, nr)
    roads = shapely.linestrings(valleys_xy[rv[:, None], rat[:, None] + np.arange(40)] + 150.0)
    publish("veg", LayerKind.road, gpd.GeoDataFrame(
        {"vegkategori": rng.choice(["E", "R", "F", "K"], size=nr, p=[0.05, 0.1, 0.35, 0.5])}, geometry=roads, crs=CRS))
    nf = PER_MUNICIPALITY["flood"] * n
    fv = np.repeat(np.arange(n), PER_MUNICIPALITY["flood"]) * VALLEYS + rng.integers(0, VALLEYS, nf)
    fat = rng.integers(0, valleys_xy.shape[1] - 8, nf)
    flood = shapely.buffer(shapely.linestrings(valleys_xy[fv[:, None], fat[:, None] + np.arange(8)]),
                           rng.uniform(60, 160, nf), quad_segs=4)
    publish("flom", LayerKind.flood, gpd.GeoDataFrame({"gjentaksintervall": np.full(nf, 200, dtype=np.int32)},
                                                      geometry=flood, crs=CRS))

    # zoning: 8 towns per municipality on its valleys, zones within ~4 km of a town centre
    nz = PER_MUNICIPALITY["zones"] * n
    towns = _along(rng, valleys_xy, np.repeat(np.arange(n), TOWNS), 0.0)
    muni_z = np.repeat(np.arange(n), PER_MUNICIPALITY["zones"])
    zt = muni_z * TOWNS + rng.integers(0, TOWNS, nz)
    z_xy = towns[zt] + rng.normal(0, 1_600, (nz, 2))
    codes = rng.choice(np.array([1110, 1300, 1340, 1800, 1001, 1130, 1160, 5100, 3001, 2010], dtype=np.int32),
                       size=nz, p=[0.30, 0.12, 0.05, 0.05, 0.05, 0.03, 0.05, 0.20, 0.08, 0.07])
    size = np.where(codes == 5100, rng.uniform(300, 900, nz), rng.uniform(40, 180, nz))
    z_geoms = _stars(rng, z_xy, 0.7, 1.0, 12, scale=np.column_stack([size, size * rng.uniform(0.6, 1.4, nz)]))
    regulated = rng.random(nz) < 0.55
    at = g.cell_of(z_xy)
    publish("arealplan", LayerKind.zoning, gpd.GeoDataFrame({
        "arealformal": codes,
        "plantype": np.where(regulated, "reguleringsplan", "kommuneplan"),
        "planstatus": np.where(rng.random(nz) < 0.92, 3, 2).astype(np.int32),
        "arealbruksstatus": np.where(regulated, None, np.where(rng.random(nz) < 0.5, 2, 1)).astype(object),
        "planid": [f"synthetic-{i}" for i in range(nz)],
        "kommunenummer": np.where(at >= 0, g.knr[np.maximum(at, 0)], None),
    }, geometry=z_geoms, crs=CRS))
    counts["seconds"] = round(time.perf_counter() - t0)
    (workspace / COMPLETE).write_text(f"fraction {fraction}: {counts}\n")
    if log:
        print(f"generated {n} municipalities in {time.perf_counter() - t0:.1f} s", flush=True)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float, default=1.0)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()
    if (args.workspace / COMPLETE).exists():
        print(f"{args.workspace} is complete already: {(args.workspace / COMPLETE).read_text().strip()}")
        return
    generate(args.workspace, args.fraction, args.seed)


if __name__ == "__main__":
    main()
