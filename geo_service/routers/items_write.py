"""OGC API – Features Part 4 (create, replace, update, delete) on items, for small corrections such as
marking a site as sold or fixing a formål code. Each request publishes a new version (feature ids stay),
is role-checked (editor) and municipality-scoped, and is audited. ``If-Match: "v<version>"`` makes it
conditional (412 when the layer moved on)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Body, Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from geo_service.audit import audited
from geo_service.auth.deps import EditorDep
from geo_service.auth.principal import Principal
from geo_service.dependencies import SettingsDep, StoreDep
from geo_service.params import feature_id
from geo_service.uploads import check_context
from layers.crs import WORKING_EPSG, parse_crs_uri, transformer
from layers.edits import EditOp, EditRefused, FeatureEdit, VersionMismatch, apply_edit
from layers.ids import check_layer_id
from layers.store import Store

router = APIRouter(tags=["Transactions (Part 4)"])
_ETAG = re.compile(r'^(?:W/)?"v(\d{1,9})"$')
FeatureBody = Annotated[dict[str, Any], Body(description="a GeoJSON Feature (CRS84 unless Content-Crs says)")]
PatchBody = Annotated[dict[str, Any], Body(description="JSON merge patch: {'properties': {...}} and/or 'geometry'")]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=40)]
ContentCrs = Annotated[str | None, Header(alias="Content-Crs", max_length=200)]
_RESPONSES: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}, 404: {}, 412: {}, 422: {}}


def _geometry(value: Any, crs: str | None) -> shapely.Geometry:
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise EditRefused("'geometry' must be a GeoJSON geometry object")
    try:
        geom = shapely.geometry.shape(value)
    except Exception:  # noqa: BLE001 - the parser's text is not for clients
        raise EditRefused("the coordinates are not a valid GeoJSON geometry") from None
    if geom.is_empty or not np.isfinite(shapely.get_coordinates(geom)).all():
        raise EditRefused("the geometry is empty or has non-finite coordinates")
    source = parse_crs_uri((crs or "").strip("<>"), "Content-Crs")
    if source.lat_lon:
        geom = shapely.transform(geom, lambda xy: xy[:, ::-1].copy())
    if source.epsg != WORKING_EPSG:
        tr = transformer(source.epsg, WORKING_EPSG)
        geom = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    if not np.isfinite(shapely.get_coordinates(geom)).all() or not geom.is_valid:
        raise EditRefused("the geometry is not valid in the working CRS (self-intersection, or outside the area "
                          "the service covers); fix the outline")
    return geom


def _properties(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EditRefused("'properties' must be a JSON object")
    return value


def _expected(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise VersionMismatch(f'If-Match {if_match[:40]!r} is not a layer version tag such as "v3"')
    return int(match[1])


def _edit(request: Request, store: Store, settings: Any, principal: Principal, layer_id: str, op: EditOp,
          fid: int | None, body: dict[str, Any] | None, crs: str | None, if_match: str | None) -> Response:
    check_layer_id(layer_id)
    with audited(store, principal, f"item-{op}", layer_id, feature=fid) as detail:
        geometry = None
        properties = None
        if body is not None:
            if op != "update" and body.get("type") != "Feature":
                raise EditRefused("the body must be a GeoJSON Feature")
            if "geometry" in body and body["geometry"] is not None:
                geometry = _geometry(body["geometry"], crs)
            elif op != "update":
                raise EditRefused("a feature needs a geometry")
            properties = _properties(body.get("properties"))
        context = check_context(store, settings, principal, force=False)
        record, fid = apply_edit(store, layer_id, FeatureEdit(op, fid, geometry, properties), context,
                                 _expected(if_match))
        detail.update(feature=fid, version=record.version)
    href = f"{str(request.base_url).rstrip('/')}/collections/{layer_id}/items/{fid}"
    headers = {"ETag": f'"v{record.version}"', "Location": href}
    if op == "delete":
        return Response(status_code=204, headers={"ETag": headers["ETag"]})
    return JSONResponse({"id": fid, "version": record.version, "links": [{"rel": "self", "href": href}]},
                        status_code=201 if op == "create" else 200, headers=headers)


@router.post("/collections/{collectionId}/items", status_code=201, responses=_RESPONSES,
             summary="Add a feature (a new version of the layer; editor)")
async def create_item(collectionId: str, body: FeatureBody, request: Request, store: StoreDep,
                      settings: SettingsDep, principal: EditorDep, if_match: IfMatch = None,
                      content_crs: ContentCrs = None) -> Response:
    return await run_in_threadpool(_edit, request, store, settings, principal, collectionId, "create", None, body,
                                   content_crs, if_match)


@router.put("/collections/{collectionId}/items/{featureId}", responses=_RESPONSES,
            summary="Replace a feature (a new version of the layer; editor)")
async def replace_item(collectionId: str, featureId: str, body: FeatureBody, request: Request,
                       store: StoreDep, settings: SettingsDep, principal: EditorDep, if_match: IfMatch = None,
                       content_crs: ContentCrs = None) -> Response:
    fid = feature_id(featureId, collectionId)
    return await run_in_threadpool(_edit, request, store, settings, principal, collectionId, "replace", fid, body,
                                   content_crs, if_match)


@router.patch("/collections/{collectionId}/items/{featureId}", responses=_RESPONSES,
              summary="Change some properties (and/or the geometry) of a feature (a new version; editor)")
async def update_item(collectionId: str, featureId: str, body: PatchBody, request: Request,
                      store: StoreDep, settings: SettingsDep, principal: EditorDep, if_match: IfMatch = None,
                      content_crs: ContentCrs = None) -> Response:
    fid = feature_id(featureId, collectionId)
    return await run_in_threadpool(_edit, request, store, settings, principal, collectionId, "update", fid, body,
                                   content_crs, if_match)


@router.delete("/collections/{collectionId}/items/{featureId}", status_code=204, responses=_RESPONSES,
               summary="Remove a feature (a new version of the layer; editor)")
async def delete_item(collectionId: str, featureId: str, request: Request, store: StoreDep,
                      settings: SettingsDep, principal: EditorDep, if_match: IfMatch = None) -> Response:
    fid = feature_id(featureId, collectionId)
    return await run_in_threadpool(_edit, request, store, settings, principal, collectionId, "delete", fid, None,
                                   None, if_match)
