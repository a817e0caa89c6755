"""The staging area and its limits as the app uses them; an ASGI guard refusing oversized uploads early."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from starlette.types import ASGIApp, Receive, Scope, Send

from geo_service.auth.principal import Principal
from geo_service.middleware import UPLOAD_OVERHEAD, UPLOAD_PATH
from geo_service.settings import Settings
from layers.checks import CheckContext, region_from_store
from layers.staging import Staging, StagingLimits
from layers.store import Store
from layers.upload_safety import ZipLimits


def open_staging(settings: Settings) -> Staging:
    """The staging area with the configured limits; leftovers of killed processes are cleaned up now."""
    limits = StagingLimits(
        max_bytes=settings.upload_max_bytes,
        zip=ZipLimits(settings.upload_max_zip_entries, settings.upload_max_uncompressed_bytes,
                      settings.upload_max_compression_ratio),
        ingest_seconds=settings.upload_ingest_seconds, min_free_bytes=settings.upload_min_free_bytes,
        expiry=timedelta(hours=settings.upload_expiry_hours))
    staging = Staging(settings.effective_staging_dir(), limits)
    staging.cleanup()
    return staging


def check_context(store: Store, settings: Settings, principal: Principal, force: bool) -> CheckContext:
    """The checks an upload by ``principal`` gets: the region, their municipalities (admins: all), force."""
    scope = None if principal.all_municipalities else principal.municipalities
    return CheckContext(region_from_store(store, settings.region_bbox), scope, force)


def purge_removed_layers(store: Store, settings: Settings) -> list[str]:
    """Delete for good the layers removed longer ago than the retention period (audited)."""
    from geo_service.audit import record

    purged = store.purge_removed(datetime.now(UTC) - timedelta(days=settings.layer_retention_days))
    for layer_id in purged:
        record(store, "service", "purge", layer_id, "ok", retention_days=settings.layer_retention_days)
    return purged


class UploadSizeGuard:
    """Answers 413 before reading the body when an upload's Content-Length is over the limit (411 without one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == UPLOAD_PATH:
            limit = scope["app"].state.settings.upload_max_bytes + UPLOAD_OVERHEAD
            length = dict(scope["headers"]).get(b"content-length")
            problem = None
            if length is None:
                problem = (411, "LengthRequired", "send the upload with a Content-Length header")
            elif not length.isdigit() or int(length) > limit:
                problem = (413, "PayloadTooLarge", (f"the upload is larger than the "
                           f"{scope['app'].state.settings.upload_max_bytes / 2**20:.0f} MiB allowed; upload a "
                           "smaller extract"))
            if problem is not None:
                status, code, description = problem
                body = json.dumps({"code": code, "description": description}).encode()
                await send({"type": "http.response.start", "status": status, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
