"""Tile cache keyed by layer version: a byte-bounded in-memory LRU, optionally backed by a folder on disk.

A key names the layer *and its version* (``TileKey``), so publishing or rolling back a layer needs no
invalidation: the next request asks for the new version's key, and tiles of versions no longer current
simply age out of the LRU. Nothing in the cache can be stale because a version's data never changes.

The disk tier (``disk_dir``) keeps single-layer tiles across restarts and shares them between worker
processes: ``DIR/<layer>/<version>-<file token>/<properties>/<z>/<x>/<y>.mvt``, written atomically (temp
file + rename). The file token (from the version's GeoPackage name) keeps two workspaces sharing one
folder apart; old versions can be deleted folder by folder.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

ENTRY_OVERHEAD = 256  # bytes of bookkeeping counted per entry besides the tile bytes


class TileKey(NamedTuple):
    """One cached tile: layers and their versions, tile address, selected properties (``None``: all).

    A named tuple, not a dataclass: it is built and hashed on every request of the ASGI fast path.
    """

    layers: tuple[tuple[str, int], ...]  # (layer id, version) per layer, in request order
    z: int
    x: int
    y: int
    properties: tuple[str, ...] | None = None


@dataclass(eq=False)
class TileEntry:
    """A rendered tile (``data`` empty: no feature there) with its ETag and, once asked for, its gzip form."""

    data: bytes
    etag: str = ""
    gzipped: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.etag:
            self.etag = '"' + hashlib.blake2b(self.data, digest_size=12).hexdigest() + '"'

    @property
    def size(self) -> int:
        return len(self.data) + len(self.gzipped or b"") + ENTRY_OVERHEAD


def gzip_bytes(data: bytes) -> bytes:
    """gzip (RFC 1952) at level 6 with no timestamp, so equal tiles compress to equal bytes."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


class TileCache:
    """Thread-safe LRU of ``TileEntry`` bounded by ``max_bytes`` (tile bytes, gzip bytes and overhead)."""

    def __init__(self, max_bytes: int = 256 * 2**20, disk_dir: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self.disk_dir = Path(disk_dir) if disk_dir else None
        self._entries: OrderedDict[TileKey, TileEntry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0

    # -- memory ----------------------------------------------------------------------------------
    def get(self, key: TileKey) -> TileEntry | None:
        """The cached entry (now most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: TileKey, entry: TileEntry) -> TileEntry:
        """Store ``entry`` and evict least recently used entries beyond the bound; returns the entry kept."""
        if entry.size > self.max_bytes:
            return entry  # larger than the whole cache: serve it, keep nothing
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            self._evict()
        return entry

    def gzipped(self, key: TileKey, entry: TileEntry) -> bytes:
        """The entry's gzip form, made once and counted in the bound."""
        if entry.gzipped is None:
            packed = gzip_bytes(entry.data)
            with self._lock:
                if entry.gzipped is None:
                    entry.gzipped = packed
                    if self._entries.get(key) is entry:
                        self._bytes += len(packed)
                        self._evict()
        return entry.gzipped  # type: ignore[return-value]

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            _, old = self._entries.popitem(last=False)
            self._bytes -= old.size
            self.evictions += 1

    @property
    def bytes(self) -> int:
        """Bytes held now (never above ``max_bytes``)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    # -- disk ------------------------------------------------------------------------------------
    def disk_path(self, layer_id: str, version: int, location: str, z: int, x: int, y: int,
                  properties: tuple[str, ...] | None) -> Path | None:
        """Where a single-layer tile lives on disk, or None without a disk tier."""
        if self.disk_dir is None:
            return None
        props = "all" if properties is None else \
            "p-" + hashlib.blake2b(",".join(properties).encode(), digest_size=8).hexdigest()
        return self.disk_dir / layer_id / version_folder(version, location) / props / str(z) / str(x) / f"{y}.mvt"

    @staticmethod
    def read_disk(path: Path | None) -> bytes | None:
        """The tile bytes stored at ``path`` (empty tiles are empty files), or None."""
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    @staticmethod
    def write_disk(path: Path | None, data: bytes) -> None:
        """Store tile bytes atomically; a failure to write (disk full, read-only) only costs the cache."""
        if path is None:
            return
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)


def version_folder(version: int, location: str) -> str:
    """The folder of one layer version under ``<folder>/<layer id>/`` (cached tiles, coverage grid):
    ``<version>-<token of the version file>``, so a republished or rolled-back version never meets old files."""
    token = Path(location).stem.rsplit("-", 1)[-1] if location else "0"
    return f"{version}-{token}"


def version_of_folder(name: str) -> int | None:
    """The version of a ``version_folder`` name (``<version>-<token>``), else None."""
    head, sep, _ = name.partition("-")
    return int(head) if sep and head.isdigit() else None
