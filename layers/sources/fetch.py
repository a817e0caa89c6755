"""Download a source page by page into a staging folder, with retries, resumption and conditional requests.

Pages are written to ``STAGING/<source id>/`` as they arrive, with ``state.json`` saying how far the download
got. A failed download leaves them there; the next sync of the same request continues after the last good
page. A download is only used when complete.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from layers.errors import LayerError
from layers.sources.model import SourceSpec

STAGING_MAX_AGE_S = 24 * 3600  # older partial downloads are started afresh
USER_AGENT = "geo-service sources sync (Kongsbergregionen)"
_MEMBER = re.compile(rb"<(?:[A-Za-z0-9_]+:)?member[\s>]")
_EXCEPTION_TEXT = re.compile(rb"<(?:[A-Za-z0-9_]+:)?ExceptionText>(.*?)</", re.DOTALL)
_TIMESTAMP = re.compile(rb'timeStamp="([^"]+)"')


class SyncFailed(LayerError):
    """A sync could not complete; nothing was published. The message names the URL and the cause."""


@dataclass
class Download:
    """A complete download: the page files and what the server said about the content."""

    pages: list[Path]
    urls: list[str]
    etag: str | None = None
    last_modified: str | None = None
    timestamp: str | None = None  # the server's timeStamp of the first page
    resumed_from: int = 0  # pages reused from an earlier, interrupted download


@dataclass
class NotModified:
    """The server answered 304 to the conditional request: nothing to do."""

    url: str


@dataclass
class _State:
    key: str
    started: float
    pages: int = 0
    next_url: str | None = None
    urls: list[str] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    timestamp: str | None = None
    done: bool = False


@dataclass
class Retry:
    """How hard to try: attempts per request and the first backoff (doubled each time)."""

    attempts: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 60.0
    sleep: Callable[[float], None] = time.sleep


def _request_key(spec: SourceSpec) -> str:
    parts = [spec.protocol, spec.url, spec.collection, spec.typename, spec.output_format, spec.srs_name,
             spec.region.bbox, spec.page_size]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def _suffix(spec: SourceSpec) -> str:
    if spec.protocol == "oapif" or (spec.output_format and "json" in spec.output_format.lower()):
        return ".json"
    return ".gml"


def _first_request(spec: SourceSpec) -> tuple[str, dict[str, str]]:
    bbox = spec.region.bbox
    if spec.protocol == "oapif":
        params = {"limit": str(spec.page_size), "f": "json"}
        if bbox:
            params["bbox"] = ",".join(f"{v:g}" for v in bbox)
        return f"{spec.url.rstrip('/')}/collections/{spec.collection}/items", params
    params = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": spec.typename or "",
              "count": str(spec.page_size), "startIndex": "0", "srsName": spec.srs_name}
    if spec.output_format:
        params["outputFormat"] = spec.output_format
    if bbox:  # lat/lon order for the EPSG URN (WFS 2.0 follows the authority's axis order)
        params["bbox"] = f"{bbox[1]:g},{bbox[0]:g},{bbox[3]:g},{bbox[2]:g},urn:ogc:def:crs:EPSG::4326"
    return spec.url, params


def _load_state(folder: Path, key: str) -> _State | None:
    path = folder / "state.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        state = _State(**data)
    except (OSError, ValueError, TypeError):
        return None
    if state.key != key or state.done or time.time() - state.started > STAGING_MAX_AGE_S:
        return None  # another request, a complete download that was not published, or too old: start afresh
    if not all((folder / f"page-{i:05d}{_page_suffix(folder, i)}").exists() for i in range(state.pages)):
        return None
    return state


def _page_suffix(folder: Path, i: int) -> str:
    for suffix in (".json", ".gml"):
        if (folder / f"page-{i:05d}{suffix}").exists():
            return suffix
    return ""


def _save_state(folder: Path, state: _State) -> None:
    tmp = folder / "state.json.tmp"
    tmp.write_text(json.dumps(asdict(state)), encoding="utf-8")
    tmp.replace(folder / "state.json")


def clear_staging(folder: Path) -> None:
    """Remove a staging folder once its pages are published (or found unchanged)."""
    shutil.rmtree(folder, ignore_errors=True)


def download(spec: SourceSpec, folder: Path, previous: dict[str, Any] | None, client: httpx.Client,
             retry: Retry | None = None) -> Download | NotModified:
    """Fetch every page of ``spec`` into ``folder``; resume an interrupted download of the same request."""
    retry = retry or Retry()
    key = _request_key(spec)
    folder.mkdir(parents=True, exist_ok=True)
    state = _load_state(folder, key)
    resumed = 0
    if state is None:
        for old in folder.glob("page-*"):
            old.unlink()
        state = _State(key=key, started=time.time())
        _save_state(folder, state)
    else:
        resumed = state.pages
    url, params = _first_request(spec)
    suffix = _suffix(spec)
    while not state.done:
        if spec.protocol == "oapif" and state.pages > 0:
            if state.next_url is None:
                break
            page_url, page_params = state.next_url, {}
        else:
            page_url, page_params = url, dict(params)
            if spec.protocol == "wfs2":
                page_params["startIndex"] = str(state.pages * spec.page_size)
        headers = {}
        if state.pages == 0 and previous:  # conditional request: only a fresh download of the first page
            if previous.get("etag"):
                headers["If-None-Match"] = str(previous["etag"])
            if previous.get("last_modified"):
                headers["If-Modified-Since"] = str(previous["last_modified"])
        response = _get(client, page_url, page_params, headers, retry)
        shown = str(response.request.url)
        if response.status_code == 304 and state.pages == 0:
            clear_staging(folder)
            return NotModified(shown)
        body = response.content
        count, next_url = _check_page(spec, body, shown)
        page = folder / f"page-{state.pages:05d}{suffix}"
        tmp = page.with_suffix(page.suffix + ".tmp")
        tmp.write_bytes(body)
        tmp.replace(page)
        if state.pages == 0:
            state.etag = response.headers.get("ETag")
            state.last_modified = response.headers.get("Last-Modified")
            state.timestamp = _timestamp(spec, body)
        state.pages += 1
        state.urls.append(shown)
        if spec.protocol == "oapif":
            state.next_url = urljoin(shown, next_url) if next_url else None
            state.done = next_url is None or count == 0
        else:
            state.done = count < spec.page_size
        _save_state(folder, state)
    pages = [folder / f"page-{i:05d}{_page_suffix(folder, i)}" for i in range(state.pages)]
    return Download(pages, state.urls, state.etag, state.last_modified, state.timestamp, resumed)


def _get(client: httpx.Client, url: str, params: dict[str, str], headers: dict[str, str],
         retry: Retry) -> httpx.Response:
    """GET with retries and exponential backoff on network errors, cut-off bodies, 429 and 5xx."""
    problem = ""
    for attempt in range(retry.attempts):
        if attempt:
            retry.sleep(retry.backoff_s * 2 ** (attempt - 1))
        try:
            response = client.get(url, params=params or None, headers={"User-Agent": USER_AGENT, **headers},
                                  timeout=retry.timeout_s)
        except httpx.TimeoutException:
            problem = f"no answer within {retry.timeout_s:g} s"
            continue
        except httpx.TransportError as exc:  # refused, reset, or a body shorter than its Content-Length
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            continue
        if response.status_code == 429 or response.status_code >= 500:
            problem = f"HTTP {response.status_code}{_exception_text(response.content)}"
            continue
        if response.status_code >= 400:
            raise SyncFailed(f"{response.request.url}: HTTP {response.status_code}"
                             f"{_exception_text(response.content)}; check the source's url and layer name")
        return response
    shown = str(httpx.URL(url, params=params) if params else httpx.URL(url))
    raise SyncFailed(f"{shown}: failed after {retry.attempts} attempts ({problem}); nothing was published, the "
                     "pages downloaded so far are kept and the next sync continues from there")


def _exception_text(body: bytes) -> str:
    if b"ExceptionReport" not in body[:4000] and b"ExceptionText" not in body[:4000]:
        return ""
    texts = [t.decode("utf-8", "replace").strip() for t in _EXCEPTION_TEXT.findall(body)]
    return f" (OGC exception: {'; '.join(t for t in texts if t) or 'no text'})"


def _check_page(spec: SourceSpec, body: bytes, shown: str) -> tuple[int, str | None]:
    """Feature count and ``next`` link of a page; an exception report or a cut-off body is an error."""
    report = _exception_text(body)
    if report:
        raise SyncFailed(f"{shown}: the service answered with an exception report{report}; check the layer name "
                         "and the bbox")
    if _suffix(spec) == ".json":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise SyncFailed(f"{shown}: the answer is not complete JSON ({len(body)} bytes; cut off?); nothing was "
                             "published, run the sync again") from None
        if not isinstance(data, dict) or not isinstance(data.get("features"), list):
            raise SyncFailed(f"{shown}: the answer is not a GeoJSON FeatureCollection; check the url")
        links = data.get("links") or []
        next_url = next((link.get("href") for link in links if isinstance(link, dict) and link.get("rel") == "next"
                         and link.get("href")), None)
        return len(data["features"]), next_url
    try:
        parser = ET.XMLParser()
        parser.feed(body)
        parser.close()
    except ET.ParseError as exc:
        raise SyncFailed(f"{shown}: the GML answer is not complete XML ({exc}; {len(body)} bytes, cut off?); "
                         "nothing was published, run the sync again") from None
    return len(_MEMBER.findall(body)), None


def _timestamp(spec: SourceSpec, body: bytes) -> str | None:
    if _suffix(spec) == ".json":
        try:
            value = orjson.loads(body).get("timeStamp")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return str(value) if value else None
    match = _TIMESTAMP.search(body[:8000])
    return match.group(1).decode() if match else None


def utc_now() -> str:
    """Now, as an ISO 8601 UTC timestamp."""
    return datetime.now(UTC).isoformat(timespec="seconds")
