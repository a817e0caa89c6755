"""Uploads staged for review: read, normalised and checked in a child process with a time limit, kept in
``STAGING/<id>/`` until published, discarded or expired.

Layout of one upload::

    STAGING/<id>/upload.json     who, when, target layer, kind, source name, sha256, the report
    STAGING/<id>/source/<name>   the file as uploaded (zip kept zipped: GDAL reads it in place)
    STAGING/<id>/staged.gpkg     the normalised layer in the working CRS (what publishing writes)

A folder is first written as ``<id>.tmp`` and renamed when complete; a publish claims it by renaming it to
``<id>.publishing``. ``cleanup()`` (at start and on every staging call) removes ``.tmp`` leftovers and
expired uploads and returns interrupted publishes to review, so a killed process leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any

import geopandas as gpd
import pyogrio
import shapely

from layers.checks import CheckContext, Region
from layers.errors import LayerError
from layers.kinds import LayerKind
from layers.upload_safety import UnsafeUpload, UploadTooLarge, ZipLimits, check_xml, check_zip

UPLOAD_SUFFIXES = (".gpkg", ".geojson", ".json", ".fgb", ".gml", ".xml", ".zip", ".sos", ".sosi")
_ID = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1 << 20


class UploadNotFound(LayerError):
    """No staged upload with this id (never existed, discarded, published or expired)."""


class UploadConflict(LayerError):
    """The upload is being published by another request, or was already published."""


class StagingFull(LayerError):
    """Not enough free disk space to stage the upload."""


class UploadTimeout(LayerError):
    """Reading and checking the upload took longer than allowed."""


@dataclass(frozen=True)
class StagingLimits:
    """Limits on one upload (see the ``upload_*`` settings)."""

    max_bytes: int = 512 * 2**20
    zip: ZipLimits = field(default_factory=ZipLimits)
    ingest_seconds: float = 300.0
    min_free_bytes: int = 512 * 2**20
    expiry: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class UploadRequest:
    """What the uploader asked for beside the file."""

    layer_id: str
    kind: LayerKind
    title: str = ""
    description: str = ""
    attribution: str = ""
    layer: str | None = None
    crs: str | None = None
    encoding: str | None = None
    force: bool = False


@dataclass(frozen=True)
class StagedUpload:
    """A staged upload waiting for review."""

    id: str
    owner: str
    created: datetime
    expires: datetime
    request: UploadRequest
    source_name: str
    sha256: str
    size: int
    report: dict[str, Any]
    folder: Path

    def document(self) -> dict[str, Any]:
        """JSON-able view (no server paths)."""
        return {"id": self.id, "owner": self.owner, "created": self.created.isoformat(),
                "expires": self.expires.isoformat(), "layerId": self.request.layer_id,
                "kind": self.request.kind.value, "title": self.request.title,
                "description": self.request.description, "attribution": self.request.attribution,
                "force": self.request.force, "sourceName": self.source_name, "sha256": self.sha256,
                "bytes": self.size, "report": self.report}


def safe_name(filename: str) -> str:
    """The uploaded file's base name, without any folder part, fit for a file name here."""
    base = PurePosixPath(filename.replace("\\", "/")).name
    base = re.sub(r"[^\w.\- æøåÆØÅ()\[\]]", "_", base).strip(" .")
    if not base:
        raise UnsafeUpload("the upload has no usable file name; name the file e.g. plan.gpkg")
    if not base.lower().endswith(UPLOAD_SUFFIXES):
        raise UnsafeUpload(f"{base}: unknown format; upload one of {', '.join(UPLOAD_SUFFIXES)} "
                           "(Shapefiles and File Geodatabases zipped)")
    return base[:200]


class Staging:
    """The staging area of one store (a folder, shared by every worker on this machine)."""

    def __init__(self, root: Path, limits: StagingLimits | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.limits = limits or StagingLimits()

    # -- stage ----------------------------------------------------------------------------------
    def stage(self, filename: str, stream: IO[bytes], request: UploadRequest, context: CheckContext,
              owner: str) -> StagedUpload:
        """Copy, check and read the upload; raises a ``LayerError`` naming the problem (nothing is kept)."""
        self.cleanup()
        name = safe_name(filename)
        free = shutil.disk_usage(self.root).free
        if free - self.limits.max_bytes < self.limits.min_free_bytes:
            raise StagingFull(f"not enough free disk space to stage an upload ({free / 2**20:.0f} MiB free); "
                              "ask the administrator to free space or discard staged uploads")
        upload_id = uuid.uuid4().hex
        tmp = self.root / f"{upload_id}.tmp"
        (tmp / "source").mkdir(parents=True)
        (tmp / "writer.pid").write_text(str(os.getpid()))
        try:
            source = tmp / "source" / name
            sha256, size = self._copy(stream, source, name)
            if size == 0:
                raise UnsafeUpload(f"{name}: the file is empty (0 bytes); export it again")
            if name.lower().endswith(".zip"):
                check_zip(source, name, self.limits.zip)
            elif name.lower().endswith((".gml", ".xml")):
                with source.open("rb") as handle:
                    check_xml(handle, name)
            report = self._prepare(tmp, source, name, request, context)
            now = datetime.now(UTC)
            meta = {"id": upload_id, "owner": owner, "created": now.isoformat(),
                    "expires": (now + self.limits.expiry).isoformat(), "request": _request_json(request),
                    "source_name": name, "sha256": sha256, "size": size, "report": report}
            (tmp / "upload.json").write_text(json.dumps(meta, default=str))
            (tmp / "writer.pid").unlink()
            os.replace(tmp, self.root / upload_id)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if "sha256" in locals():
                exc.sha256 = sha256  # type: ignore[attr-defined]  # for the audit log of refused uploads
            raise
        return self.get(upload_id)

    def _copy(self, stream: IO[bytes], target: Path, name: str) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with target.open("wb") as out:
            while block := stream.read(_CHUNK):
                size += len(block)
                if size > self.limits.max_bytes:
                    raise UploadTooLarge(f"{name}: larger than the {self.limits.max_bytes / 2**20:.0f} MiB "
                                         "allowed; upload a smaller extract or ask for the limit to be raised")
                digest.update(block)
                out.write(block)
        return digest.hexdigest(), size

    def _prepare(self, folder: Path, source: Path, name: str, request: UploadRequest,
                 context: CheckContext) -> dict[str, Any]:
        """Read, normalise and check in a child process (time limit; a crash there cannot take us down)."""
        job = {"source": str(source), "shown": name, "request": _request_json(request),
               "region": _region_json(context.region), "municipalities": context.municipalities,
               "force": context.force, "out": str(folder / "staged.gpkg")}
        (folder / "job.json").write_text(json.dumps(job))
        from layers import staging_worker

        worker = _workers().Process(target=staging_worker.main, args=(str(folder / "job.json"),), daemon=True)
        worker.start()
        worker.join(self.limits.ingest_seconds)
        if worker.is_alive():
            worker.kill()
            worker.join()
            raise UploadTimeout(f"{name}: reading and checking took longer than "
                                f"{self.limits.ingest_seconds:.0f} s; upload a smaller extract")
        result_file = folder / "result.json"
        if not result_file.exists():
            raise LayerError(f"{name}: the file could not be read (the reader stopped with exit code "
                             f"{worker.exitcode}); check the file in QGIS and export it again")
        result = json.loads(result_file.read_text())
        if not result["ok"]:
            error = _ERRORS.get(result["type"], LayerError)(result["message"])
            if result.get("report") is not None:
                error.report = result["report"]  # type: ignore[attr-defined]
            raise error
        return result["report"]

    # -- read -----------------------------------------------------------------------------------
    def get(self, upload_id: str) -> StagedUpload:
        """The staged upload, or ``UploadNotFound``."""
        folder = self._folder(upload_id)
        try:
            meta = json.loads((folder / "upload.json").read_text())
        except (OSError, ValueError):
            raise UploadNotFound(f"no staged upload {upload_id!r}; it was published, discarded or has "
                                 "expired: upload the file again") from None
        upload = _upload(meta, folder)
        if upload.expires <= datetime.now(UTC):
            shutil.rmtree(folder, ignore_errors=True)
            raise UploadNotFound(f"upload {upload_id} expired on {upload.expires:%Y-%m-%d %H:%M} UTC; "
                                 "upload the file again")
        return upload

    def list(self) -> list[StagedUpload]:
        """Every upload waiting for review, newest first."""
        self.cleanup()
        out = []
        for folder in self.root.iterdir():
            if _ID.match(folder.name):
                try:
                    out.append(self.get(folder.name))
                except UploadNotFound:
                    continue
        return sorted(out, key=lambda u: u.created, reverse=True)

    def frame(self, upload: StagedUpload) -> gpd.GeoDataFrame:
        """The staged, normalised layer (working CRS)."""
        return pyogrio.read_dataframe(upload.folder / "staged.gpkg")

    def preview(self, upload: StagedUpload, limit: int = 5_000) -> dict[str, Any]:
        """GeoJSON (CRS84) of the first ``limit`` staged features, simplified to about a metre."""
        frame = pyogrio.read_dataframe(upload.folder / "staged.gpkg", max_features=limit)
        frame = frame.set_geometry(shapely.simplify(frame.geometry.values, 1.0, preserve_topology=True))
        return json.loads(frame.to_crs(4326).to_json(drop_id=False, to_wgs84=False))

    # -- publish / discard -----------------------------------------------------------------------
    def claim(self, upload_id: str) -> tuple[StagedUpload, Path]:
        """Take the upload for publishing (only one request can); ``UploadConflict`` otherwise."""
        upload = self.get(upload_id)
        claimed = self.root / f"{upload_id}.publishing"
        try:
            os.rename(upload.folder, claimed)
        except FileNotFoundError:
            raise UploadConflict(f"upload {upload_id} is being published by another request (or just was)") from None
        (claimed / "writer.pid").write_text(str(os.getpid()))
        return _upload(json.loads((claimed / "upload.json").read_text()), claimed), claimed

    def release(self, upload_id: str, published: bool) -> None:
        """After a publish: remove the upload, or give it back for review when the publish failed."""
        claimed = self.root / f"{upload_id}.publishing"
        if published:
            shutil.rmtree(claimed, ignore_errors=True)
        elif claimed.exists():
            (claimed / "writer.pid").unlink(missing_ok=True)
            os.rename(claimed, self.root / upload_id)

    def discard(self, upload_id: str) -> StagedUpload:
        """Delete a staged upload."""
        upload = self.get(upload_id)
        trash = self.root / f"{upload_id}.tmp"
        os.rename(upload.folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return upload

    def cleanup(self, now: datetime | None = None) -> list[str]:
        """Remove unfinished and expired uploads; interrupted publishes go back to review. Returns what went."""
        now = now or datetime.now(UTC)
        removed = []
        for folder in list(self.root.iterdir()):
            name = folder.name
            if name.endswith(".tmp"):
                too_old = time.time() - folder.stat().st_mtime > self.limits.ingest_seconds + 600
                if too_old or not _writer_alive(folder):
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(name)
            elif name.endswith(".publishing") and not _writer_alive(folder):
                (folder / "writer.pid").unlink(missing_ok=True)  # an interrupted publish: back to review
                os.rename(folder, self.root / name.removesuffix(".publishing"))
            elif _ID.match(name):
                try:
                    expires = datetime.fromisoformat(json.loads((folder / "upload.json").read_text())["expires"])
                except (OSError, ValueError, KeyError):
                    expires = now  # unreadable: not ours to keep
                if expires <= now:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(name)
        return removed

    def _folder(self, upload_id: str) -> Path:
        if not _ID.match(upload_id):
            raise UploadNotFound(f"no staged upload {upload_id!r}; upload ids are 32 hexadecimal characters")
        return self.root / upload_id


_WORKERS: Any = None


def _workers() -> Any:
    """Worker processes forked from a server that has imported the readers once (fast starts, no threads
    inherited from the web server, and a crash or a kill on timeout there cannot take the service down)."""
    global _WORKERS
    if _WORKERS is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["layers.staging_worker"])
        _WORKERS = context
    return _WORKERS


def _writer_alive(folder: Path) -> bool:
    """Whether the process that writes a ``.tmp`` folder (its ``writer.pid``) is still running."""
    try:
        pid = int((folder / "writer.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def _request_json(request: UploadRequest) -> dict[str, Any]:
    out = asdict(request)
    out["kind"] = request.kind.value
    return out


def _region_json(region: Region) -> dict[str, Any]:
    return {"bbox": list(region.bbox), "codes": list(region.codes),
            "wkb": [shapely.to_wkb(p, hex=True) for p in region.polygons]}


def region_from_json(data: dict[str, Any]) -> Region:
    """The region a staging job was given."""
    return Region(tuple(data["bbox"]), tuple(data["codes"]),  # type: ignore[arg-type]
                  tuple(shapely.from_wkb(h) for h in data["wkb"]))


def _upload(meta: dict[str, Any], folder: Path) -> StagedUpload:
    request = dict(meta["request"])
    request["kind"] = LayerKind(request["kind"])
    return StagedUpload(meta["id"], meta["owner"], datetime.fromisoformat(meta["created"]),
                        datetime.fromisoformat(meta["expires"]), UploadRequest(**request), meta["source_name"],
                        meta["sha256"], meta["size"], meta["report"], folder)


def _error_types() -> dict[str, type[LayerError]]:
    from layers import errors
    from layers.checks import KindCheckFailed

    found: dict[str, type[LayerError]] = {"KindCheckFailed": KindCheckFailed, "UnsafeUpload": UnsafeUpload}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, LayerError):
            found[value.__name__] = value
    return found


_ERRORS = _error_types()


def publish_staged(store: Any, staging: Staging, upload_id: str) -> Any:
    """Publish a staged upload as a new version of its layer (``store`` is a ``layers.store.Store``).

    The upload is claimed first, so two requests never publish it twice; when the publish fails it goes
    back to review and the layer keeps serving its previous version.
    """
    from layers.edits import layer_lock
    from layers.normalise import validity_provenance
    from layers.store import LayerMeta

    upload, folder = staging.claim(upload_id)
    published = False
    try:
        frame = pyogrio.read_dataframe(folder / "staged.gpkg")
        request = upload.request
        provenance = {"source": upload.source_name, "sha256": upload.sha256, "upload": upload.id,
                      "uploaded_by": upload.owner, "report": upload.report,
                      **validity_provenance((upload.report or {}).get("normalised"))}
        meta = LayerMeta(request.kind, request.title or request.layer_id,
                         request.description or f"{request.kind.value} layer loaded from {upload.source_name}",
                         request.attribution, provenance)
        with store.exclusive(layer_lock(request.layer_id)):  # never between an edit's read and its publish
            record = store.publish(request.layer_id, frame, meta)
        published = True
        return record
    finally:
        staging.release(upload_id, published)
