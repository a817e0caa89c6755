"""Small corrections to a published layer, feature by feature (OGC API – Features Part 4 at the edge):
create, replace, update (merge patch) or delete one feature. Each edit publishes a new version; feature
ids stay the same across versions (a new feature gets the next id), and the edited feature is checked like
an upload (geometry type, required fields, the editor's municipalities).

Edits and upload publishes of one layer are serialised (``Store.exclusive``), so an edit is always applied
to the version current at that moment, never to one another request is replacing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from layers.access import public_provenance
from layers.checks import CheckContext, check_layer, scope_problems
from layers.crs import WORKING_EPSG
from layers.errors import FeatureNotFound, LayerError
from layers.kinds import FIELDS_BY_KIND
from layers.store import FID_COLUMN, GEOMETRIES_VALID, LayerMeta, Store, VersionRecord

EditOp = Literal["create", "replace", "update", "delete"]


class EditRefused(LayerError):
    """The edit cannot be applied: unknown property, wrong value type, or the kind checks refuse it (400/422)."""


class VersionMismatch(LayerError):
    """The layer changed since the client read it (If-Match did not match the current version) (412)."""


@dataclass(frozen=True)
class FeatureEdit:
    """One feature edit; ``geometry`` in the working CRS, ``properties`` plain values (None: null)."""

    op: EditOp
    feature_id: int | None = None
    geometry: shapely.Geometry | None = None
    properties: dict[str, Any] | None = None


def layer_lock(layer_id: str) -> str:
    """The ``Store.exclusive`` name held while a layer is republished (edits and upload publishes)."""
    return f"layer-{layer_id}"


def apply_edit(store: Store, layer_id: str, edit: FeatureEdit, context: CheckContext,
               expected_version: int | None = None) -> tuple[VersionRecord, int]:
    """Apply ``edit`` to the current version and publish the result; returns the version and the feature id."""
    with store.exclusive(layer_lock(layer_id)):
        layer = store.get_layer(layer_id)
        current = layer.current
        if expected_version is not None and expected_version != current.version:
            raise VersionMismatch(f"layer {layer_id!r} is at version {current.version}, not {expected_version}; "
                                  "read the feature again and repeat the change")
        frame = store.read_frame(current)
        frame.index.name = FID_COLUMN
        frame = frame.reset_index()
        fid, frame, changed = _apply(frame, edit, current, layer_id)
        _check(changed, layer.kind, context, edit)
        provenance = {**public_provenance(current.provenance),
                      "edit": {"op": edit.op, "feature": fid, "base_version": current.version}}
        provenance.pop(GEOMETRIES_VALID, None)  # the edited geometry was not checked valid
        meta = LayerMeta(layer.kind, layer.title, layer.description, layer.attribution, provenance)
        return store.publish(layer_id, frame, meta), fid


def _apply(frame: gpd.GeoDataFrame, edit: FeatureEdit, current: VersionRecord,
           layer_id: str) -> tuple[int, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The edited frame, and the feature the edit touched (as it is now; for a delete: as it was)."""
    fids = frame[FID_COLUMN].to_numpy()
    if edit.op == "create":
        fid = int(fids.max()) + 1 if len(fids) else 1
        row = _row(edit, current, {}, fid)
        frame = pd.concat([frame, row], ignore_index=True)
        return fid, gpd.GeoDataFrame(frame, geometry=frame.geometry.name, crs=WORKING_EPSG), row
    assert edit.feature_id is not None
    where = np.flatnonzero(fids == edit.feature_id)
    if len(where) == 0:
        raise FeatureNotFound(f"layer {layer_id!r} (version {current.version}) has no feature {edit.feature_id}")
    i = int(where[0])
    if edit.op == "delete":
        return edit.feature_id, frame.drop(index=frame.index[i]).reset_index(drop=True), frame.iloc[[i]]
    base = {} if edit.op == "replace" else {k: frame.iloc[i][k] for k in current.fields}
    row = _row(edit, current, base, edit.feature_id, frame.iloc[i].geometry)
    for column in row.columns:
        frame.at[frame.index[i], column] = row.iloc[0][column]
    if edit.op == "replace":
        for name in set(current.fields) - set(edit.properties or {}):
            frame.at[frame.index[i], name] = None
    return edit.feature_id, frame, frame.iloc[[i]]


def _row(edit: FeatureEdit, current: VersionRecord, base: dict[str, Any], fid: int,
         old_geometry: shapely.Geometry | None = None) -> gpd.GeoDataFrame:
    properties = dict(base)
    for name, value in (edit.properties or {}).items():
        if name not in current.fields:
            raise EditRefused(f"{current.layer_id!r} has no property {name!r}; properties: "
                              f"{', '.join(current.fields)}")
        properties[name] = _typed(name, value, current.fields[name])
    geometry = edit.geometry if edit.geometry is not None else old_geometry
    if geometry is None:
        raise EditRefused("a new feature needs a geometry")
    values = {name: [properties.get(name)] for name in current.fields}
    values[FID_COLUMN] = [fid]
    return gpd.GeoDataFrame(values, geometry=[geometry], crs=WORKING_EPSG)


def _typed(name: str, value: Any, kind: str) -> Any:
    if value is None:
        return None
    ok = {"int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, int | float) and not isinstance(value, bool),
          "bool": isinstance(value, bool), "str": isinstance(value, str)}.get(kind, isinstance(value, str))
    if not ok:
        raise EditRefused(f"property {name!r} holds {kind} values, not {type(value).__name__} ({str(value)[:40]!r})")
    return value


def _check(changed: gpd.GeoDataFrame, kind: Any, context: CheckContext, edit: FeatureEdit) -> None:
    if edit.op == "delete":
        problems = scope_problems(changed, kind, context)
    else:
        field_map = {c.name: c.name for c in FIELDS_BY_KIND.get(kind, ()) if c.name in changed.columns}
        problems = check_layer(changed, kind, field_map, context).problems
    if problems:
        raise EditRefused(f"feature refused: {'; '.join(problems)}")
