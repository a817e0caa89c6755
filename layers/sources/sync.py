"""Sync a national source into the store: download, map fields, filter to the region, publish only on change.

A new version is published only when the content hash (geometry + attributes, without extract dates)
differs from the current version's; its provenance records the URL, time, feature count, the server's
ETag/Last-Modified/timestamp and the newest extract date. Any failure publishes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from layers.errors import LayerError, LayerNotFound
from layers.normalise import normalise, validity_provenance
from layers.sources.fetch import Download, NotModified, Retry, SyncFailed, clear_staging, download, utc_now
from layers.sources.model import SourceSpec
from layers.store import LayerMeta, Store

PROVENANCE_KEY = "national_source"


@dataclass
class SyncResult:
    """What one sync did: ``published`` (a new version), ``unchanged`` or ``not-modified`` (HTTP 304)."""

    source_id: str
    status: str
    version: int | None = None
    features: int = 0
    pages: int = 0
    resumed_pages: int = 0
    warnings: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for the CLI and the log (bokmål / English)."""
        if self.status == "published":
            resumed = f", {self.resumed_pages} reused from an interrupted sync" if self.resumed_pages else ""
            return (f"{self.source_id}: published version {self.version} ({self.features} features, {self.pages} "
                    f"pages{resumed}) / ny versjon publisert")
        if self.status == "unchanged":
            return (f"{self.source_id}: unchanged ({self.features} features, same content as version {self.version}); "
                    "nothing published / uendret")
        return f"{self.source_id}: not modified (HTTP 304); nothing published / ikke endret"


def _previous(store: Store, spec: SourceSpec) -> tuple[int | None, dict[str, Any] | None]:
    try:
        current = store.get_layer(spec.target).current
    except LayerNotFound:
        return None, None
    provenance = current.provenance.get(PROVENANCE_KEY)
    return current.version, provenance if isinstance(provenance, dict) else None


def sync_source(store: Store, spec: SourceSpec, staging_root: Path, client: Any,
                retry: Retry | None = None) -> SyncResult:
    """Bring ``spec``'s collection in step with its service; see the module docstring."""
    version, previous = _previous(store, spec)
    folder = staging_root / spec.id
    result = download(spec, folder, previous, client, retry)
    if isinstance(result, NotModified):
        return SyncResult(spec.id, "not-modified", version, int((previous or {}).get("feature_count", 0)))
    frame = _read_pages(spec, result)
    frame = _map_fields(frame, spec)
    frame = _in_region(frame, spec)
    if len(frame) == 0:
        raise SyncFailed(f"{spec.id}: the service returned no features in the region (bbox {spec.region.bbox}, "
                         f"municipalities {spec.region.municipalities}); nothing was published")
    digest = content_hash(frame, spec.volatile_fields)
    if previous and previous.get("content_hash") == digest:
        clear_staging(folder)
        return SyncResult(spec.id, "unchanged", version, len(frame), len(result.pages), result.resumed_from)
    try:
        normalised, report = normalise(frame, spec.kind, f"{spec.id} ({spec.url})")
    except LayerError as exc:
        raise SyncFailed(f"{spec.id}: {exc}") from None
    provenance = {
        "source": spec.url,
        "source_layer": spec.collection or spec.typename,
        "driver": spec.protocol,
        "report": asdict(report),
        **validity_provenance(report),
        PROVENANCE_KEY: {
            "id": spec.id, "protocol": spec.protocol, "url": spec.url, "layer": spec.collection or spec.typename,
            "synced_at": utc_now(), "feature_count": len(normalised), "pages": len(result.pages),
            "first_page": result.urls[0] if result.urls else spec.url, "content_hash": digest,
            "etag": result.etag, "last_modified": result.last_modified, "source_timestamp": result.timestamp,
            "source_date": _newest(frame, ("datauttaksdato", "oppdateringsdato")), "licence": spec.licence,
            "verified": spec.verified,
        },
    }
    meta = LayerMeta(kind=spec.kind, title=spec.title,
                     description=f"{spec.title}: synced from {spec.url} ({spec.collection or spec.typename})",
                     attribution=spec.attribution, provenance=provenance)
    record = store.publish(spec.target, normalised, meta)
    clear_staging(folder)
    return SyncResult(spec.id, "published", record.version, len(normalised), len(result.pages),
                      result.resumed_from, list(report.warnings))


def _read_pages(spec: SourceSpec, result: Download) -> gpd.GeoDataFrame:
    frames = []
    for page in result.pages:
        try:
            if page.suffix == ".gml":
                if b"member" not in page.read_bytes()[:1_000_000] and page.stat().st_size < 1_000_000:
                    continue  # an empty last page
                frame = pyogrio.read_dataframe(page, WRITE_GFS="NO")
            else:
                frame = pyogrio.read_dataframe(page)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, RuntimeError) as exc:
            raise SyncFailed(f"{spec.id}: page {page.name} cannot be read ({str(exc).splitlines()[0]}); nothing was "
                             "published") from None
        if len(frame):
            frames.append(frame)
    if not frames:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    crs = frames[0].crs
    frames = [f if f.crs == crs else f.to_crs(crs) for f in frames]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry=frames[0].geometry.name, crs=crs)


def _map_fields(frame: gpd.GeoDataFrame, spec: SourceSpec) -> gpd.GeoDataFrame:
    renames = {src: dst for src, dst in spec.fields.items() if src in frame.columns and src != dst}
    clashing = [dst for dst in renames.values() if dst in frame.columns and dst not in renames]
    if clashing:
        frame = frame.drop(columns=clashing)
    return frame.rename(columns=renames)


def _in_region(frame: gpd.GeoDataFrame, spec: SourceSpec) -> gpd.GeoDataFrame:
    codes = spec.region.municipalities
    column = spec.municipality_field
    if not codes or not column or column not in frame.columns or len(frame) == 0:
        return frame
    values = frame[column].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    values = values.map(lambda v: v.split(".")[0].zfill(4) if v and v.split(".")[0].isdigit() else v)
    return frame.loc[values.isin(codes).to_numpy()].reset_index(drop=True)


def content_hash(frame: gpd.GeoDataFrame, volatile: list[str]) -> str:
    """SHA-256 of the features, independent of their order and of ``volatile`` columns (extract dates)."""
    geometry = frame.geometry.name
    columns = sorted(c for c in frame.columns if c != geometry and c not in volatile)
    wkb = shapely.to_wkb(shapely.set_precision(frame.geometry.values, 1e-7), hex=True)
    records = frame[columns].astype(object).where(frame[columns].notna(), None).to_dict("records")
    rows = sorted(hashlib.sha256((w + json.dumps(r, sort_keys=True, default=str)).encode()).hexdigest()
                  for w, r in zip(wkb, records, strict=True))
    return hashlib.sha256("".join(rows).encode()).hexdigest()


def _newest(frame: gpd.GeoDataFrame, columns: tuple[str, ...]) -> str | None:
    for column in columns:
        if column in frame.columns:
            values = pd.to_datetime(frame[column], errors="coerce", utc=True).dropna()
            if len(values):
                return values.max().isoformat()
    return None
