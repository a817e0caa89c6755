"""Uploads with review before publishing: stage (report + preview), publish as a new version, or discard.

Editors upload for their municipalities; only the uploader (or an admin) sees, publishes or discards an upload.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from geo_service.audit import audited
from geo_service.auth.deps import EditorDep
from geo_service.auth.errors import Forbidden
from geo_service.auth.principal import Principal
from geo_service.dependencies import SettingsDep, StoreDep
from geo_service.uploads import check_context
from layers.errors import InvalidQuery
from layers.ids import check_layer_id
from layers.kinds import parse_kind
from layers.staging import StagedUpload, Staging, UploadRequest, publish_staged

router = APIRouter(prefix="/layers/uploads", tags=["Uploads"])
GEOJSON = "application/geo+json"


def _staging(request: Request) -> Staging:
    return request.app.state.staging


def _mine(upload: StagedUpload, principal: Principal) -> StagedUpload:
    if upload.owner != principal.subject and not principal.all_municipalities:
        raise Forbidden("this upload belongs to another user; only they or an admin may see or publish it")
    return upload


def _document(request: Request, upload: StagedUpload) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    doc = upload.document()
    doc["links"] = [
        {"rel": "self", "href": f"{base}/layers/uploads/{upload.id}", "type": "application/json"},
        {"rel": "preview", "href": f"{base}/layers/uploads/{upload.id}/preview", "type": GEOJSON},
        {"rel": "publish", "href": f"{base}/layers/uploads/{upload.id}/publish", "method": "POST"},
    ]
    return doc


@router.post("", status_code=201, summary="Stage a file for review: answers the ingest report (editor)",
             responses={400: {"description": "unreadable file"}, 401: {}, 403: {}, 411: {}, 413: {},
                        422: {"description": "the kind checks refused it (report in the body)"}, 507: {}})
async def upload(
    request: Request, store: StoreDep, settings: SettingsDep, principal: EditorDep,
    file: Annotated[UploadFile, File(description="GeoPackage, GeoJSON, FlatGeobuf, GML or a zip (Shapefile, .gdb)")],
    layer_id: Annotated[str, Form(alias="layerId", max_length=63)],
    kind: Annotated[str, Form(max_length=40)],
    title: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=4000)] = "",
    attribution: Annotated[str, Form(max_length=1000)] = "",
    layer: Annotated[str | None, Form(max_length=200)] = None,
    crs: Annotated[str | None, Form(max_length=100)] = None,
    encoding: Annotated[str | None, Form(max_length=40)] = None,
    force: Annotated[bool, Form()] = False,
) -> JSONResponse:
    name = file.filename or ""
    with audited(store, principal, "upload", layer_id, source_name=name[:200], kind=kind) as detail:
        check_layer_id(layer_id)
        try:
            layer_kind = parse_kind(kind)
        except ValueError as exc:  # an unknown kind is the client's mistake: 400 naming the parameter
            raise InvalidQuery("kind", str(exc)) from None
        staging = _staging(request)
        wanted = UploadRequest(layer_id, layer_kind, title.strip(), description.strip(), attribution.strip(),
                               layer or None, crs or None, encoding or None, force)
        context = await run_in_threadpool(check_context, store, settings, principal, force)
        try:
            staged = await run_in_threadpool(staging.stage, name, file.file, wanted, context, principal.subject)
        except Exception as exc:
            detail["sha256"] = getattr(exc, "sha256", "")
            raise
        detail.update(upload=staged.id, sha256=staged.sha256, features=staged.report["normalised"]["features_out"])
    document = _document(request, staged)
    return JSONResponse(document, status_code=201, headers={"Location": document["links"][0]["href"]})


@router.get("", summary="Uploads waiting for review (yours; all for admins)")
def list_uploads(request: Request, principal: EditorDep) -> dict[str, Any]:
    uploads = [u for u in _staging(request).list()
               if u.owner == principal.subject or principal.all_municipalities]
    return {"uploads": [_document(request, u) for u in uploads]}


@router.get("/{upload_id}", summary="The staged upload and its ingest report")
def get_upload(upload_id: str, request: Request, principal: EditorDep) -> dict[str, Any]:
    return _document(request, _mine(_staging(request).get(upload_id), principal))


@router.get("/{upload_id}/preview", summary="The staged features as GeoJSON (CRS84, first 5 000)",
            response_class=Response)
def preview(upload_id: str, request: Request, principal: EditorDep) -> JSONResponse:
    staging = _staging(request)
    upload = _mine(staging.get(upload_id), principal)
    return JSONResponse(staging.preview(upload), media_type=GEOJSON)


@router.post("/{upload_id}/publish", status_code=201, summary="Publish the staged upload as a new version",
             responses={409: {"description": "being published by another request, or already published"}})
def publish(upload_id: str, request: Request, store: StoreDep, principal: EditorDep) -> dict[str, Any]:
    staging = _staging(request)
    upload = _mine(staging.get(upload_id), principal)
    with audited(store, principal, "publish", upload.request.layer_id, source_name=upload.source_name,
                 source_sha256=upload.sha256, upload=upload.id) as detail:
        record = publish_staged(store, staging, upload_id)
        detail["version"] = record.version
    return {"layerId": record.layer_id, "version": record.version, "featureCount": record.feature_count,
            "links": [{"rel": "collection", "href": f"{str(request.base_url).rstrip('/')}/collections/"
                                                   f"{record.layer_id}"}]}


@router.delete("/{upload_id}", status_code=204, summary="Discard a staged upload")
def discard(upload_id: str, request: Request, store: StoreDep, principal: EditorDep) -> Response:
    staging = _staging(request)
    upload = _mine(staging.get(upload_id), principal)
    with audited(store, principal, "discard", upload.request.layer_id, source_name=upload.source_name,
                 source_sha256=upload.sha256, upload=upload.id):
        staging.discard(upload_id)
    return Response(status_code=204)
