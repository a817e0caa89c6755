"""Zoning: kommuneplan and reguleringsplan arealformål, named business areas and land reserves."""

from __future__ import annotations

from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from numpy.typing import NDArray

from layers.codes import KP_AREALFORMAL, RP_AREALFORMAL
from layers.demo.common import CRS, REGION_EXTENT, Floats, Geoms, Ints
from layers.demo.geometry import grid_centres, largest_part, smooth_field, star_polygons, weighted_choice
from layers.demo.region import KOMMUNER, Region
from layers.demo.water import LAKES, Rivers


class _NamedArea(NamedTuple):
    navn: str
    kommunenummer: str
    daa: float
    arealbruksstatus: int
    rp_codes: tuple[int, int]  # the two felt of its reguleringsplan
    distance: float  # from the town centre (m)
    bearing: float  # radians, counter-clockwise from east


_NAMED_AREAS: tuple[_NamedArea, ...] = (
    _NamedArea("Kongsberg Teknologipark", "3303", 260.0, 1, (1300, 1310), 1300.0, 2.3),
    _NamedArea("Toppen", "3303", 140.0, 1, (1340, 1350), 3200.0, 0.4),
    _NamedArea("Rjukan Næringspark", "4026", 315.0, 1, (1341, 1350), 2200.0, 0.0),
    _NamedArea("Notodden Næringspark", "4005", 95.0, 1, (1300, 1342), 1800.0, 1.2),
)
_TOPPEN_EXPANSION_DAA = 210.0  # KPA expansion of Toppen: framtidig, not yet regulated (land reserve)

# fmt: off
# Felt name prefixes (nasjonal produktspesifikasjon style).
_KP_FELT: dict[int, str] = {
    1110: "B", 1130: "S", 1150: "F", 1160: "OP", 1300: "N", 1400: "I", 1800: "KB", 2001: "SA", 3001: "G",
    5100: "L", 5200: "LS", 5210: "LSB", 5220: "LSF", 5230: "LSN", 6001: "V",
}
_RP_FELT: dict[int, str] = {
    1110: "B", 1120: "BFR", 1130: "BS", 1150: "BF", 1160: "BOP", 1300: "BN", 1310: "BKT", 1340: "BI",
    1341: "BKI", 1342: "BDS", 1350: "BLA", 1390: "BAN", 1400: "BIA", 1800: "BKB", 1801: "BKB", 1811: "BKB",
    1826: "BKB", 2010: "SV", 2080: "SPA", 3001: "G", 3040: "GF", 5100: "L", 5110: "LL", 5130: "LF",
}

# Formål mix per zone as (code, weight): town core, inner zone, outskirts, hyttefelt.
_KP_MIX_CORE = ((1130, 25), (1110, 30), (1150, 10), (1160, 12), (1300, 6), (1400, 4), (1800, 8), (2001, 3),
                (3001, 2))
_KP_MIX_INNER = ((1110, 48), (1160, 7), (1300, 9), (1400, 5), (1800, 4), (2001, 4), (3001, 10), (1150, 3),
                 (5100, 10))
_KP_MIX_OUTER = ((5100, 50), (5200, 5), (5210, 12), (5220, 15), (5230, 6), (1110, 6), (1300, 3), (3001, 3))
_RP_MIX_CORE = ((1110, 30), (1130, 8), (1150, 6), (1160, 8), (1300, 6), (1310, 4), (1340, 4), (1350, 3),
                (1390, 2), (1800, 4), (1801, 4), (1811, 2), (1826, 2), (2010, 7), (2080, 3), (3040, 8),
                (3001, 4), (1400, 3))
_RP_MIX_OUTER = ((1110, 30), (1120, 15), (5100, 12), (5110, 5), (3040, 6), (2010, 8), (1300, 8), (1340, 6),
                 (1390, 4), (1350, 3), (1800, 3))
_RP_MIX_CABIN = ((1120, 70), (2010, 10), (5130, 10), (3040, 5), (1390, 5))
# fmt: on


def _cells(gx: Floats, gy: Floats, size: float, factor: Ints) -> tuple[Floats, Floats, Floats, Ints]:
    """Split each coarse cell into ``factor``×``factor`` sub-cells: centres, sub-cell size, parent."""
    count = factor**2
    parent = np.repeat(np.arange(len(gx)), count)
    j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    f = factor[parent]
    sub = size / f
    col, row = j % f, j // f
    cx = gx[parent] - size / 2 + (col + 0.5) * sub
    cy = gy[parent] - size / 2 + (row + 0.5) * sub
    return cx, cy, sub, parent


def _voronoi_plots(
    region: Region,
    gx: Floats,
    gy: Floats,
    size: float,
    factor: Ints,
    background: Floats,
    rng: np.random.Generator,
) -> tuple[Geoms, Floats, Floats, Floats, Ints]:
    """Plots as Voronoi cells of jittered seeds, ``factor``×``factor`` seeds per picked coarse cell.

    ``background`` seeds (n, 2) shape the plots at the edge of a cluster; each plot is capped to a disk
    around its seed. Cells of one diagram never overlap. Returns plots, seed x/y, nominal size, parent.
    """
    cx, cy, sub, parent = _cells(gx, gy, size, factor)
    sx = cx + rng.uniform(-0.3, 0.3, len(cx)) * sub
    sy = cy + rng.uniform(-0.3, 0.3, len(cy)) * sub
    seeds = np.vstack([np.column_stack([sx, sy]), background])
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=region.box, ordered=True)
    cells = shapely.get_parts(diagram)[: len(sx)]
    cap = shapely.buffer(shapely.points(sx, sy), 0.8 * sub, quad_segs=3)
    return shapely.intersection(cells, cap), sx, sy, sub, parent


def _background_seeds(
    gx: Floats, gy: Floats, size: float, where: NDArray[np.bool_], rng: np.random.Generator
) -> Floats:
    """One jittered seed in each coarse cell selected by ``where``."""
    jitter = rng.uniform(-0.3, 0.3, (int(where.sum()), 2)) * size
    return np.column_stack([gx[where], gy[where]]) + jitter


def _shrink(polys: Geoms, gap: float) -> tuple[Geoms, Ints]:
    """Shrink plots by half the ``gap`` (a road/verge between neighbours); drops plots that vanish."""
    return largest_part(shapely.buffer(polys, -gap / 2, join_style="mitre"))


def _clip_to_municipality(
    region: Region, polys: Geoms, cx: Floats, cy: Floats
) -> tuple[Geoms, Ints, NDArray[np.bool_], Ints]:
    """Clip plots to the municipality of their cell centre.

    Returns the clipped plots, their municipality index, whether the plot was left whole, and the indices
    of the input plots that survived.
    """
    muni = region.municipality_of(cx, cy)
    clipped, idx = largest_part(shapely.intersection(polys, region.municipalities[muni]))
    whole = shapely.area(clipped) >= shapely.area(polys[idx]) * 0.999
    return clipped, muni[idx], whole, idx


def _named_business_areas(
    region: Region, rivers: Rivers, rng: np.random.Generator
) -> tuple[list[shapely.Polygon], list[str], list[int], list[tuple[int, int] | None]]:
    """The marketed business areas, placed near their town and clear of rivers and of each other."""
    polys: list[shapely.Polygon] = []
    names: list[str] = []
    status: list[int] = []
    rp_codes: list[tuple[int, int] | None] = []
    knr = [k.nummer for k in KOMMUNER]
    for area in _NAMED_AREAS:
        centre = region.centres[knr.index(area.kommunenummer)]
        poly = _place_area(centre, area.distance, area.bearing, area.daa, polys, rivers, rng)
        polys.append(poly)
        names.append(area.navn)
        status.append(area.arealbruksstatus)
        rp_codes.append(area.rp_codes)
        if area.navn == "Toppen":  # the KPA expansion next to the existing area: a land reserve
            c = np.array(poly.centroid.coords[0])
            reach = float(np.max(np.hypot(*(np.asarray(poly.exterior.coords) - c).T)))
            polys.append(
                _place_area(c, reach + 350.0, area.bearing + 1.2, _TOPPEN_EXPANSION_DAA, polys, rivers, rng)
            )
            names.append(area.navn)
            status.append(2)
            rp_codes.append(None)
    return polys, names, status, rp_codes


def _place_area(
    origin: Floats,
    dist: float,
    bearing: float,
    daa: float,
    taken: list[shapely.Polygon],
    rivers: Rivers,
    rng: np.random.Generator,
) -> shapely.Polygon:
    """A polygon of ``daa`` dekar near ``origin``; tries bearings until clear of rivers and other areas."""
    radius = np.sqrt(daa * 1000.0 / np.pi)
    shape = star_polygons(
        np.zeros(1), np.zeros(1), np.array([radius]), rng, vertices=12, fill=(0.85, 1.0), square=False
    )[0]
    shape = shapely.affinity.scale(shape, *(2 * [np.sqrt(daa * 1000.0 / shape.area)]), origin=(0, 0))
    best, best_clear = None, -1.0
    for k in range(16):
        b = bearing + (k // 2) * 0.4 * (1 if k % 2 == 0 else -1)
        for d in (dist, dist * 1.4):
            cand = shapely.affinity.translate(shape, origin[0] + d * np.cos(b), origin[1] + d * np.sin(b))
            if any(cand.distance(t) < 40.0 for t in taken):
                continue
            clear = float(rivers.tree.query_nearest(cand, return_distance=True)[1].min())
            if clear >= 150.0:
                return cand
            if clear > best_clear:
                best, best_clear = cand, clear
    assert best is not None
    return best


def arealplan_frame(
    region: Region, rivers: Rivers, lakes: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Kommuneplan and reguleringsplan polygons; business areas, reserves and named areas included."""
    named, named_navn, named_status, named_rp = _named_business_areas(region, rivers, rng)
    named_arr = np.array(named, dtype=object)
    water = np.concatenate([rivers.reaches, lakes.geometry.to_numpy()[: len(LAKES)]])

    kp = _kommuneplan(region, rivers, water, named_arr, rng)
    kp_named = pd.DataFrame(
        {
            "geometry": named_arr,
            "arealformal": 1300,
            "arealbruksstatus": named_status,
            "muni": region.municipality_of(*shapely.get_coordinates(shapely.centroid(named_arr)).T),
            "navn": named_navn,
            "business_ok": True,
        }
    )
    kp = pd.concat([kp, kp_named], ignore_index=True)
    kp = _assign_kp_plans(kp, rng)

    business_rp = _regulate_business(kp, named_rp, rng)
    rp = _reguleringsplan(region, rivers, kp, business_rp, rng)
    rp = pd.concat([business_rp, rp], ignore_index=True)

    frame = pd.concat([kp, rp], ignore_index=True)
    return _finish_zoning(frame, rng)


def _kommuneplan(
    region: Region, rivers: Rivers, water: Geoms, named: Geoms, rng: np.random.Generator
) -> pd.DataFrame:
    """KP plots on a 600 m grid, finer near centres; formål by zone, business areas guaranteed."""
    size = 600.0
    gx, gy = grid_centres(size)
    pull = region.pull(gx, gy)
    d_river = rivers.distance(gx, gy, 5000.0)
    valley = 0.55 * np.exp(-d_river / 600.0) * np.exp(-region.nearest_settlement(gx, gy) / 15_000.0)
    p = np.clip(1.2 * pull + valley, 0.0, 0.97)
    pick = rng.random(len(gx)) < p
    background = _background_seeds(gx, gy, size, ~pick & (p > 0.02), rng)
    factor = np.where(pull[pick] > 0.6, 3, np.where(pull[pick] > 0.2, 2, 1))
    polys, cx, cy, _, _ = _voronoi_plots(region, gx[pick], gy[pick], size, factor, background, rng)

    # The named business areas are cut out of the plots around them.
    hits = np.unique(shapely.STRtree(named).query(polys, predicate="intersects")[0])
    polys[hits] = shapely.difference(polys[hits], shapely.union_all(named))
    polys, kept = largest_part(polys)
    cx, cy = cx[kept], cy[kept]
    polys, muni, whole, kept = _clip_to_municipality(region, polys, cx, cy)
    cx, cy = cx[kept], cy[kept]
    polys, kept = _shrink(polys, 6.0)
    cx, cy, muni, whole = cx[kept], cy[kept], muni[kept], whole[kept]

    zone_pull = region.pull(cx, cy)
    u = rng.random(len(cx))
    code = np.where(
        zone_pull > 0.6,
        weighted_choice(_KP_MIX_CORE, u),
        np.where(zone_pull > 0.15, weighted_choice(_KP_MIX_INNER, u), weighted_choice(_KP_MIX_OUTER, u)),
    )
    area = shapely.area(polys)
    business_ok = whole & (area >= 20_000.0) & (area <= 300_000.0)
    code = np.where((code == 1300) & ~business_ok, np.where(zone_pull > 0.15, 1150, 5230), code)

    wet = np.zeros(len(polys), dtype=bool)
    wet[shapely.STRtree(water).query(polys, predicate="intersects")[0]] = True
    code = np.where(wet & (rng.random(len(code)) < 0.6) & (code != 1300), 6001, code)

    future_share = np.where(zone_pull > 0.6, 0.08, np.where(zone_pull > 0.15, 0.25, 0.15))
    status = np.where(rng.random(len(code)) < future_share, 2, 1)
    status = np.where(code == 1300, np.where(rng.random(len(code)) < 0.4, 2, 1), status)
    status = np.where(np.isin(code, (5100, 6001)), 1, status)
    status = np.where(
        (status == 1) & ~np.isin(code, (5100, 6001)) & (rng.random(len(code)) < 0.02), 3, status
    )

    frame = pd.DataFrame(
        {
            "geometry": polys,
            "arealformal": code,
            "arealbruksstatus": status,
            "muni": muni,
            "navn": None,
            "business_ok": business_ok,
            "pull": zone_pull,
        }
    )
    return _ensure_business(frame, rng).drop(columns="pull")


def _ensure_business(frame: pd.DataFrame, rng: np.random.Generator, minimum: int = 4) -> pd.DataFrame:
    """Every municipality gets at least ``minimum`` existing and ``minimum`` future KP 1300 areas."""
    frame = frame.copy()
    for muni in range(len(KOMMUNER)):
        for status in (1, 2):
            have = (
                (frame["muni"] == muni)
                & (frame["arealformal"] == 1300)
                & (frame["arealbruksstatus"] == status)
            )
            missing = minimum - int(have.sum())
            if missing <= 0:
                continue
            pool = frame.index[
                (frame["muni"] == muni)
                & frame["business_ok"]
                & (frame["arealformal"] != 1300)
                & (frame["arealformal"] != 6001)
            ]
            pool = pool[np.argsort(-frame.loc[pool, "pull"].to_numpy(), kind="stable")][: 6 * minimum]
            chosen = rng.choice(pool, size=min(missing, len(pool)), replace=False)
            frame.loc[chosen, "arealformal"] = 1300
            frame.loc[chosen, "arealbruksstatus"] = status
    return frame


def _assign_kp_plans(kp: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One vedtatt kommuneplan per municipality, plus a kommunedelplan-forslag covering one 3 km block."""
    kp = kp.copy()
    year = rng.integers(2015, 2025, len(KOMMUNER))
    knr = np.array([k.nummer for k in KOMMUNER])
    cxy = shapely.get_coordinates(shapely.centroid(kp["geometry"].to_numpy()))
    block = (cxy[:, 0] // 3000).astype(np.int64) * 100_000 + (cxy[:, 1] // 3000).astype(np.int64)
    draft = np.zeros(len(kp), dtype=bool)
    for muni in range(len(KOMMUNER)):
        mine = (kp["muni"].to_numpy() == muni) & kp["navn"].isna().to_numpy()
        blocks = np.unique(block[mine])
        if len(blocks):
            draft |= mine & (block == blocks[rng.integers(len(blocks))])
    muni = kp["muni"].to_numpy()
    kp["planid"] = np.where(
        draft,
        [f"{k}_{y + 1}002" for k, y in zip(knr[muni], year[muni], strict=True)],
        [f"{k}_{y}001" for k, y in zip(knr[muni], year[muni], strict=True)],
    )
    kp["planstatus"] = np.where(draft, 2, 3)
    kp["plantype"] = "kommuneplan"
    return kp


def _regulate_business(
    kp: pd.DataFrame, named_rp: list[tuple[int, int] | None], rng: np.random.Generator
) -> pd.DataFrame:
    """Reguleringsplaner for some KP business areas: two felt (e.g. BN1 + BLA1) split by an internal road."""
    business = kp[(kp["arealformal"] == 1300) & kp["navn"].isna()]
    u = rng.random(len(business))
    existing = business["arealbruksstatus"].to_numpy() != 2
    rp_status = np.where(existing, np.where(u < 0.6, 3, 0), np.where(u < 0.3, 3, np.where(u < 0.5, 2, 0)))
    # Guarantee: per municipality the first existing area is regulated and the first future one is a reserve.
    first = business.groupby(["muni", "arealbruksstatus"]).cumcount().to_numpy() == 0
    rp_status = np.where(first & existing, 3, np.where(first & ~existing, 0, rp_status))
    chosen = business[rp_status > 0]
    statuses = rp_status[rp_status > 0]
    code_pairs = [(1300, 1350), (1340, 1350), (1300, 1390), (1340, 1342), (1300, 1310)]
    pair_idx = rng.integers(0, len(code_pairs), len(chosen))
    pairs = [code_pairs[i] for i in pair_idx]
    navn: list[str | None] = [None] * len(chosen)

    # The marketed areas with a vedtatt reguleringsplan (not Toppen's KPA expansion).
    named = kp[kp["navn"].notna()]
    has_rp = np.array([p is not None for p in named_rp])
    chosen = pd.concat([chosen, named[has_rp]])
    statuses = np.concatenate([statuses, np.full(int(has_rp.sum()), 3)])
    pairs += [p for p in named_rp if p is not None]
    navn += list(named.loc[has_rp, "navn"])

    polys = chosen["geometry"].to_numpy()
    halves_a, halves_b = _split_in_two(polys, rng)
    geoms = np.concatenate([halves_a, halves_b])
    codes = np.concatenate([[p[0] for p in pairs], [p[1] for p in pairs]])
    out = pd.DataFrame(
        {
            "geometry": geoms,
            "arealformal": codes,
            "arealbruksstatus": pd.NA,
            "muni": np.tile(chosen["muni"].to_numpy(), 2),
            "navn": navn * 2,
            "planstatus": np.tile(statuses, 2),
            "plan_key": np.tile(np.arange(len(chosen)), 2),
        }
    )
    valid = out["geometry"].notna()
    return out[valid].reset_index(drop=True)


def _split_in_two(polys: Geoms, rng: np.random.Generator) -> tuple[Geoms, Geoms]:
    """Split polygons in two halves through their centroid, leaving a ~10 m road between them."""
    inner = shapely.buffer(polys, -6.0)
    c = shapely.get_coordinates(shapely.centroid(inner))
    a = rng.uniform(0, np.pi, len(polys))
    d = np.column_stack([np.cos(a), np.sin(a)])
    n = np.column_stack([-d[:, 1], d[:, 0]])
    big = 5000.0
    halves = []
    for sign in (1.0, -1.0):
        gap = n * (5.0 * sign)
        far = n * (big * sign)
        ring = np.stack([c + gap - d * big, c + gap + d * big, c + far + d * big, c + far - d * big], axis=1)
        cut = shapely.intersection(inner, shapely.polygons(ring))
        part, idx = largest_part(cut)
        out = np.full(len(polys), None, dtype=object)
        out[idx] = part
        halves.append(out)
    return halves[0], halves[1]


def _reguleringsplan(
    region: Region, rivers: Rivers, kp: pd.DataFrame, business_rp: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """RP plots on an offset 240 m grid in towns, along valleys and in a few hyttefelt."""
    size = 240.0
    gx, gy = grid_centres(size, offset=(97.0, 53.0))
    pull = region.pull(gx, gy)
    # Hyttefelt: clusters in the outfields of the mountain municipalities.
    n_cabin = 24
    cabin_xy = np.column_stack(
        [
            rng.uniform(REGION_EXTENT[0] + 5000, REGION_EXTENT[2] - 5000, 4 * n_cabin),
            rng.uniform(REGION_EXTENT[1] + 5000, REGION_EXTENT[3] - 5000, 4 * n_cabin),
        ]
    )
    cabin_xy = cabin_xy[region.pull(cabin_xy[:, 0], cabin_xy[:, 1]) < 0.02][:n_cabin]
    d_cabin = np.sqrt(((gx[:, None] - cabin_xy[:, 0]) ** 2 + (gy[:, None] - cabin_xy[:, 1]) ** 2).min(axis=1))
    cabin = d_cabin < 700.0
    p = np.clip(0.55 * pull**1.3, 0.0, 0.6) + np.where(cabin, 0.55, 0.0)
    pick = rng.random(len(gx)) < p
    background = _background_seeds(gx, gy, size, ~pick & (p > 0.02), rng)
    gx, gy, cabin = gx[pick], gy[pick], cabin[pick]
    factor = np.where((region.pull(gx, gy) > 0.6) & (rng.random(len(gx)) < 0.4), 2, 1)
    polys, cx, cy, _, parent = _voronoi_plots(region, gx, gy, size, factor, background, rng)
    cabin = cabin[parent]

    blockers = np.concatenate(
        [
            rivers.reaches,
            kp.loc[kp["arealformal"] == 1300, "geometry"].to_numpy(),
            business_rp["geometry"].to_numpy(),
        ]
    )
    hits = shapely.STRtree(blockers).query(polys, predicate="intersects")[0]
    keep = np.setdiff1d(np.arange(len(polys)), hits)
    polys, cx, cy, cabin = polys[keep], cx[keep], cy[keep], cabin[keep]
    polys, muni, _, kept = _clip_to_municipality(region, polys, cx, cy)
    cx, cy, cabin = cx[kept], cy[kept], cabin[kept]
    polys, kept = _shrink(polys, 4.0)
    cx, cy, cabin, muni = cx[kept], cy[kept], cabin[kept], muni[kept]

    zone_pull = region.pull(cx, cy)
    u = smooth_field(rng, cx, cy, (400.0, 1500.0))
    code = np.where(
        cabin,
        weighted_choice(_RP_MIX_CABIN, u),
        np.where(zone_pull > 0.5, weighted_choice(_RP_MIX_CORE, u), weighted_choice(_RP_MIX_OUTER, u)),
    )
    # Plans: 1.2 km blocks within a municipality; plan status drawn per plan.
    key = muni * 10_000_000 + (cx // 1200).astype(np.int64) * 10_000 + (cy // 1200).astype(np.int64)
    plan_keys, plan_key = np.unique(key, return_inverse=True)
    plan_status = weighted_choice(((3, 82), (2, 10), (4, 4), (5, 4)), rng.random(len(plan_keys)))
    return pd.DataFrame(
        {
            "geometry": polys,
            "arealformal": code,
            "arealbruksstatus": pd.NA,
            "muni": muni,
            "navn": None,
            "planstatus": plan_status[plan_key],
            "plan_key": plan_key + 1_000_000,
        }
    )


def _finish_zoning(frame: pd.DataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Plan ids, felt names, formål names, final column order and dtypes."""
    frame = frame.copy()
    is_rp = frame["plantype"].isna().to_numpy()
    frame.loc[is_rp, "plantype"] = "reguleringsplan"
    knr = np.array([k.nummer for k in KOMMUNER])
    frame["kommunenummer"] = knr[frame["muni"].to_numpy()]

    # RP plan ids: <knr>_<year><seq>, seq counted per municipality and year.
    rp = frame[is_rp]
    plan = rp.groupby("plan_key", sort=True).agg(muni=("muni", "first")).reset_index()
    plan["year"] = rng.integers(1985, 2025, len(plan))
    plan["seq"] = plan.groupby(["muni", "year"]).cumcount() + 1
    plan["planid"] = [
        f"{knr[m]}_{y}{s:03d}" for m, y, s in zip(plan["muni"], plan["year"], plan["seq"], strict=True)
    ]
    frame.loc[is_rp, "planid"] = rp["plan_key"].map(plan.set_index("plan_key")["planid"]).to_numpy()

    code = frame["arealformal"].to_numpy().astype(np.int64)
    tables = [(_RP_FELT, RP_AREALFORMAL) if rp else (_KP_FELT, KP_AREALFORMAL) for rp in is_rp]
    prefix = np.array([felt.get(c, "o") for (felt, _), c in zip(tables, code, strict=True)])
    number = frame.assign(prefix=prefix).groupby(["planid", "prefix"]).cumcount().to_numpy() + 1
    frame["feltnavn"] = [f"{p}{n}" for p, n in zip(prefix, number, strict=True)]
    frame["formalnavn"] = [names[c] for (_, names), c in zip(tables, code, strict=True)]
    navn = frame["navn"].astype(object)
    out = pd.DataFrame(
        {
            "arealformal": code,
            "plantype": frame["plantype"].astype(str).to_numpy(),
            "planstatus": frame["planstatus"].to_numpy().astype(np.int64),
            "arealbruksstatus": pd.array(frame["arealbruksstatus"].tolist(), dtype="Int64"),
            "planid": frame["planid"].astype(str).to_numpy(),
            "kommunenummer": frame["kommunenummer"].to_numpy(),
            "feltnavn": frame["feltnavn"].to_numpy(),
            "formalnavn": frame["formalnavn"].to_numpy(),
            "navn": navn.where(navn.notna(), None).to_numpy(),
        }
    )
    return gpd.GeoDataFrame(out, geometry=frame["geometry"].to_numpy(), crs=CRS)
