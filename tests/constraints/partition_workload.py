"""A small SYNTHETIC workload that makes partitioning by municipality hard to get right.

Four municipalities in a 2 × 2 grid (12 km × 12 km, EPSG:25832 near Kongsberg); zones clustered around towns on
the borders, so reserves of one municipality are overlapped by in-force reguleringsplan zones of another; zones
missing their kommunenummer; a protected river far from most zones and listed churches far away (nearest
distances beyond every rule's reach); farmland only in the west (wall-to-wall coverage, NOT_MAPPED elsewhere);
watercourse overrides per municipality. Nothing here is real geography.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from layers.kinds import LayerKind
from layers.store import LayerMeta, Store

CRS = "EPSG:25832"
X0, Y0, SIDE = 540_000.0, 6_600_000.0, 12_000.0
MUNICIPALITIES = [("3303", "Kongsberg"), ("3334", "Flesberg"), ("3336", "Rollag"), ("4005", "Notodden")]
NOTE = "SYNTETISKE DATA / SYNTHETIC DATA (partition test)"
OVERRIDES = """
rules:
  - id: watercourse-belt
    municipality_overrides:
      "4005": {zone_m: 50}
      "3336": {zone_m: 60, proximity_m: 150}
"""


def _stars(rng: np.random.Generator, centres: np.ndarray, r_min: float, r_max: float, k: int = 10) -> np.ndarray:
    ang = np.sort(rng.uniform(0, 2 * np.pi, (len(centres), k)), axis=1)
    r = rng.uniform(r_min, r_max, (len(centres), k))
    ring = np.stack([centres[:, :1] + r * np.cos(ang), centres[:, 1:2] + r * np.sin(ang)], axis=-1)
    return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))


def make_workload(seed: int = 17, n_zones: int = 420) -> dict[str, tuple[LayerKind, gpd.GeoDataFrame]]:
    """The layers by id: (kind, frame)."""
    rng = np.random.default_rng(seed)
    half = SIDE / 2
    cells = [shapely.box(X0 + i * half, Y0 + j * half, X0 + (i + 1) * half, Y0 + (j + 1) * half)
             for j in range(2) for i in range(2)]
    muni = gpd.GeoDataFrame({"kommunenummer": [k for k, _ in MUNICIPALITIES],
                             "kommunenavn": [n for _, n in MUNICIPALITIES]}, geometry=cells, crs=CRS)
    # towns on the borders and the centre point, so partitions meet inside towns
    towns = np.array([[X0 + half, Y0 + half], [X0 + half, Y0 + 3_000], [X0 + 3_000, Y0 + half],
                      [X0 + 9_000, Y0 + half], [X0 + half, Y0 + 9_500]])
    t = rng.integers(0, len(towns), n_zones)
    xy = towns[t] + rng.normal(0, 1_100, (n_zones, 2))
    codes = rng.choice([1300, 1340, 1800, 1110, 5100, 3001], size=n_zones, p=[0.3, 0.1, 0.1, 0.3, 0.15, 0.05])
    size = np.where(codes == 5100, 250.0, 90.0)
    geoms = _stars(rng, xy, 0.6 * size[:, None], size[:, None])
    regulated = rng.random(n_zones) < 0.5
    plantype = np.where(regulated, "reguleringsplan", "kommuneplan").astype(object)
    planstatus = np.where(rng.random(n_zones) < 0.9, 3, 2)
    arealbruksstatus = np.where(regulated, None, np.where(rng.random(n_zones) < 0.6, 2, 1)).astype(object)
    qi, mi = shapely.STRtree(cells).query(shapely.point_on_surface(geoms), predicate="within")
    knr = np.full(n_zones, None, dtype=object)
    knr[qi] = muni["kommunenummer"].to_numpy()[mi]
    knr[rng.random(n_zones) < 0.08] = None  # missing: located from the municipality layer
    # big KP reserves across the centre, each overlapped by in-force RP zones of the neighbouring municipality
    centre = np.array([X0 + half, Y0 + half])
    extra_geoms, extra = [], []
    for k, (dx, dy) in enumerate([(-300, -300), (300, -300), (-300, 300), (300, 300)]):
        c = centre + [dx, dy]
        extra_geoms.append(shapely.box(c[0] - 250, c[1] - 250, c[0] + 250, c[1] + 250))
        extra.append((1300, "kommuneplan", 3, 2, MUNICIPALITIES[k][0]))
        extra_geoms.append(shapely.box(c[0] - 200 - dx, c[1] - 100, c[0] + 100 - dx, c[1] + 100))
        extra.append((1300, "reguleringsplan", 3, None, MUNICIPALITIES[(k + 1) % 4][0]))
    extra_geoms.append(shapely.box(centre[0] + 1_000, centre[1] + 1_000, centre[0] + 1_100, centre[1] + 1_050))
    extra.append((1300, "reguleringsplan", 3, None, MUNICIPALITIES[3][0]))  # wholly covers nothing: GREEN-ish
    zoning = gpd.GeoDataFrame({
        "arealformal": np.concatenate([codes, [e[0] for e in extra]]),
        "plantype": np.concatenate([plantype, [e[1] for e in extra]]),
        "planstatus": np.concatenate([planstatus, [e[2] for e in extra]]),
        "arealbruksstatus": np.concatenate([arealbruksstatus, np.array([e[3] for e in extra], dtype=object)]),
        "kommunenummer": np.concatenate([knr, np.array([e[4] for e in extra], dtype=object)]),
        "planid": [f"synthetic-{i}" for i in range(n_zones + len(extra))],
    }, geometry=np.concatenate([geoms, np.array(extra_geoms, dtype=object)]), crs=CRS)
    zoning.index = np.arange(1, len(zoning) + 1)

    # farmland: AR5-like parcels in the west half only (farmland-jordvern NOT_MAPPED in the east)
    fx = rng.uniform(X0, X0 + half, 2_500)
    fy = rng.uniform(Y0, Y0 + SIDE, 2_500)
    farm = gpd.GeoDataFrame({"arealtype": rng.choice([21, 22, 23, 30, 50], 2_500)},
                            geometry=_stars(rng, np.column_stack([fx, fy]), 40, 70), crs=CRS)
    # streams everywhere; one protected river in the far north-east corner
    starts = np.column_stack([rng.uniform(X0, X0 + SIDE, 260), rng.uniform(Y0, Y0 + SIDE, 260)])
    steps = rng.normal(0, 60, (260, 8, 2)).cumsum(axis=1)
    lines = list(shapely.linestrings(np.concatenate([starts[:, None], starts[:, None] + steps], axis=1)))
    lines.append(shapely.LineString([(X0 + SIDE - 200, Y0 + SIDE - 900), (X0 + SIDE - 100, Y0 + SIDE - 50)]))
    verneplan = np.full(len(lines), None, dtype=object)
    verneplan[-1] = "016/8"
    water = gpd.GeoDataFrame({"verneplan": verneplan}, geometry=lines, crs=CRS)
    # heritage: points near the towns; listed churches only in the far south-west corner
    hxy = towns[rng.integers(0, len(towns), 300)] + rng.normal(0, 1_500, (300, 2))
    vernetype = rng.choice(["AUT", "FOR", "VED", "UAV"], size=300).astype(object)
    hgeoms = list(shapely.points(hxy)) + [shapely.Point(X0 + 50, Y0 + 50), shapely.Point(X0 + 120, Y0 + 80)]
    heritage = gpd.GeoDataFrame({"vernetype": np.concatenate([vernetype, ["LIST", "LIST"]])}, geometry=hgeoms,
                                crs=CRS)
    roads = gpd.GeoDataFrame({"vegkategori": ["E", "R", "F", "K"]}, geometry=[
        shapely.LineString([(X0, Y0 + half + 40), (X0 + SIDE, Y0 + half + 60)]),
        shapely.LineString([(X0 + half - 30, Y0), (X0 + half + 20, Y0 + SIDE)]),
        shapely.LineString([(X0 + 2_000, Y0 + 2_000), (X0 + 10_000, Y0 + 10_000)]),
        shapely.LineString([(X0 + 1_000, Y0 + 11_000), (X0 + 11_000, Y0 + 1_000)])], crs=CRS)
    flood = gpd.GeoDataFrame({"gjentaksintervall": [200, 200, 1000]}, geometry=[
        shapely.buffer(shapely.LineString([(X0, Y0 + half), (X0 + SIDE, Y0 + half + 100)]), 120),
        shapely.buffer(shapely.Point(X0 + 3_000, Y0 + half), 400),
        shapely.buffer(shapely.Point(X0 + 9_000, Y0 + half), 300)], crs=CRS)
    return {"kommuner": (LayerKind.municipality, muni), "arealplan": (LayerKind.zoning, zoning),
            "ar5": (LayerKind.farmland, farm), "elv": (LayerKind.watercourse, water),
            "kulturminner": (LayerKind.heritage, heritage), "veg": (LayerKind.road, roads),
            "flom": (LayerKind.flood, flood)}


def publish_workload(store: Store, *, split_zoning: bool = False, n_zones: int = 420) -> None:
    """Publish the workload; with ``split_zoning`` the zoning as two layers (global ids 1..N over both)."""
    for layer_id, (kind, frame) in make_workload(n_zones=n_zones).items():
        if kind == LayerKind.zoning and split_zoning:
            cut = len(frame) // 2
            store.publish("arealplan-a", frame.iloc[:cut], LayerMeta(kind, "Arealplan A", NOTE))
            store.publish("arealplan-b", frame.iloc[cut:], LayerMeta(kind, "Arealplan B", NOTE))
            continue
        store.publish(layer_id, frame, LayerMeta(kind, layer_id, NOTE))
