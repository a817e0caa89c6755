"""Which features and zones are the same in two versions of a layer (by content, or by feature id and content).

Used by the incremental refresh (``constraints.incremental``): features whose geometry (exact) and attributes are
equal are the same feature, wherever they are in the file and whatever id they got; the rest changed.
"""

from __future__ import annotations

import json
from collections import defaultdict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from constraints.inputs import ConstraintLayer
from constraints.publish import _dumps_findings as dumps_findings
from constraints.rules import Rule
from layers.store import LayerRecord, Store, VersionRecord


class NeedsFull(Exception):
    """The change cannot be proven local: recompute everything (the message says why)."""


def version_record(store: Store, layer_id: str, version: int) -> VersionRecord:
    for record in store.versions(layer_id):
        if record.version == version:
            return record
    raise NeedsFull(f"version {version} of {layer_id} is gone")


def changed_features(store: Store, record: LayerRecord, old_version: int,
                      layer: ConstraintLayer) -> tuple[np.ndarray, dict[str, int], dict[int, int]]:
    """Old and new geometries of the features that differ between two versions, matched by content (geometry
    and attributes), and the new feature id of every unchanged feature whose id changed (a new file renumbers
    its features: one removed in the middle shifts the ids of all after it)."""
    old = store.read_frame(version_record(store, record.id, old_version))
    new = layer.frame
    cols_old = {c: str(t) for c, t in old.drop(columns=old.geometry.name).dtypes.items()}
    cols_new = {c: str(t) for c, t in new.drop(columns=new.geometry.name).dtypes.items()}
    if cols_old != cols_new:
        raise NeedsFull(f"the columns or their types of {record.id} changed")
    matched = match_by_fid(old, new)
    taken = np.zeros(len(old), dtype=bool)
    taken[matched[matched >= 0]] = True
    gone, fresh = np.flatnonzero(~taken), np.flatnonzero(matched < 0)
    if len(gone) and len(fresh):  # renumbered or reordered features: match the rest by content
        again = match(old.iloc[gone], new.iloc[fresh])
        matched[fresh[again >= 0]] = gone[again[again >= 0]]
        taken[gone[again[again >= 0]]] = True
        gone, fresh = np.flatnonzero(~taken), np.flatnonzero(matched < 0)
    geoms = np.concatenate([np.asarray(old.geometry.array, dtype=object)[gone],
                            np.asarray(new.geometry.array, dtype=object)[fresh]])
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))] if len(geoms) else geoms
    old_fids, new_fids = old.index.to_numpy(), new.index.to_numpy()
    both = np.flatnonzero(matched >= 0)
    moved = both[old_fids[matched[both]] != new_fids[both]]
    fid_map = {int(old_fids[matched[i]]): int(new_fids[i]) for i in moved}
    same_id = len(np.intersect1d(old_fids[gone], new_fids[fresh]))
    counts = {"added": len(fresh) - same_id, "removed": len(gone) - same_id, "changed": same_id}
    if fid_map:
        counts["renumbered"] = len(fid_map)
    return geoms, counts, fid_map


def remap_hit_ids(risk: gpd.GeoDataFrame, rules: list[Rule], fid_map: dict[int, int]) -> gpd.GeoDataFrame:
    """The published findings of ``rules`` with their ``hit_ids`` in the new version's feature ids."""
    if not fid_map:
        return risk
    ids = {r.id for r in rules}
    texts = risk["findings"].to_numpy(dtype=object).copy()
    for i, text in enumerate(texts):
        if not isinstance(text, str) or '"hit_ids"' not in text:  # compact or spaced JSON alike
            continue
        findings = json.loads(text)
        touched = False
        for finding in findings:
            hits = finding.get("hit_ids")
            if finding.get("rule_id") in ids and hits:
                finding["hit_ids"] = sorted(fid_map.get(int(h), int(h)) for h in hits)
                touched = True
        if touched:
            texts[i] = dumps_findings(findings)
    out = risk.copy()
    out["findings"] = texts
    return out


def content_keys(frame: gpd.GeoDataFrame, ignore: tuple[str, ...] = ()) -> list[bytes]:
    """What a feature's results depend on: its geometry (exact) and attributes (hashed), not its feature id."""
    cols = [c for c in frame.columns if c != frame.geometry.name and c not in ignore]
    wkb = shapely.to_wkb(np.asarray(frame.geometry.array, dtype=object))
    attrs = (pd.util.hash_pandas_object(frame[cols], index=False).to_numpy() if cols
             else np.zeros(len(frame), dtype=np.uint64))
    return [(w or b"") + int(a).to_bytes(8, "little") for w, a in zip(wkb, attrs, strict=True)]


def match_by_fid(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> np.ndarray:
    """Per row of ``new``: the row of ``old`` with the same feature id and content, or -1 (vectorised)."""
    pos = pd.Index(old.index).get_indexer(new.index)
    both = np.flatnonzero(pos >= 0)
    o, n = old.iloc[pos[both]], new.iloc[both]
    same = shapely.equals_identical(np.asarray(o.geometry.array, dtype=object),
                                    np.asarray(n.geometry.array, dtype=object))
    for col in (c for c in old.columns if c != old.geometry.name):
        a, b = o[col].to_numpy(), n[col].to_numpy()
        same &= np.asarray((a == b) | (pd.isna(a) & pd.isna(b)), dtype=bool)
    out = np.full(len(new), -1, dtype=np.int64)
    out[both[same]] = pos[both[same]]
    return out


def match(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, ignore: tuple[str, ...] = ()) -> np.ndarray:
    """Per row of ``new``: the position of a row of ``old`` with the same content (each used once), or -1."""
    free: dict[bytes, list[int]] = defaultdict(list)
    for pos, key in enumerate(content_keys(old, ignore)):
        free[key].append(pos)
    for positions in free.values():
        positions.reverse()
    matched = np.full(len(new), -1, dtype=np.int64)
    for pos, key in enumerate(content_keys(new, ignore)):
        found = free.get(key)
        if found:
            matched[pos] = found.pop()
    return matched


def match_zones(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per new zone: the position of the same zone (same content) in the old zoning, or -1; and which to
    recompute (those without a match)."""
    if {c: str(t) for c, t in old.dtypes.items()} != {c: str(t) for c, t in new.dtypes.items()}:
        raise NeedsFull("the zoning columns or their types changed")
    matched = match(old, new, ignore=("source_fid",))
    return matched, matched < 0
