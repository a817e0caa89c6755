"""Refuse dangerous uploads before anything reads them: zip bombs, path tricks, symlinks, deep nesting,
nested archives, and XML with a DTD (external entities, entity expansion).

A zip is checked from its directory (entry count, names, symlink bits, declared sizes and ratio) and then
every entry is decompressed once, counting bytes, so an archive that lies about its sizes is caught before
GDAL reads it. Nothing is extracted to disk.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from layers.errors import LayerError

_XML_SUFFIXES = (".gml", ".xml")
_ARCHIVES = (".zip", ".gz", ".tar", ".7z", ".rar", ".tgz")


class UnsafeUpload(LayerError):
    """The upload breaks a safety rule (zip bomb, path trick, symlink, nesting, XML entities)."""


class UploadTooLarge(UnsafeUpload):
    """The upload or its unpacked contents exceed the size limits."""


@dataclass(frozen=True)
class ZipLimits:
    """How much an uploaded archive may hold."""

    max_entries: int = 2_000
    max_uncompressed: int = 4 * 2**30
    max_ratio: float = 200.0


def check_zip(path: Path, shown: str, limits: ZipLimits) -> None:
    """Raise ``UnsafeUpload`` unless ``path`` is a zip we are willing to hand to GDAL."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeUpload(f"{shown}: not a readable zip archive ({exc}); zip it again") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise UnsafeUpload(f"{shown}: {len(entries)} entries in the zip, more than the {limits.max_entries} "
                               "allowed; zip only the layer's files")
        declared = sum(e.file_size for e in entries)
        compressed = max(path.stat().st_size, 1)
        _check_sizes(shown, declared, compressed, limits)
        for entry in entries:
            _check_entry(shown, entry)
        total = 0
        for entry in entries:
            if entry.is_dir():
                continue
            try:
                with archive.open(entry) as member:
                    total += _drain(member, shown, entry, limits.max_uncompressed - total)
                if entry.filename.lower().endswith(_XML_SUFFIXES):
                    with archive.open(entry) as again:
                        check_xml(again, f"{shown}: {entry.filename}")
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
                reason = "CRC mismatch" if "CRC" in str(exc) else str(exc).splitlines()[0][:120] if str(exc) else \
                    type(exc).__name__
                raise UnsafeUpload(f"{shown}: zip entry {entry.filename!r} cannot be unpacked ({reason}); "
                                   "download or zip it again") from None
        _check_sizes(shown, total, compressed, limits)


def _check_sizes(shown: str, uncompressed: int, compressed: int, limits: ZipLimits) -> None:
    if uncompressed > limits.max_uncompressed:
        raise UploadTooLarge(f"{shown}: unpacks to {uncompressed / 2**20:.0f} MiB, more than the "
                             f"{limits.max_uncompressed / 2**20:.0f} MiB allowed; upload a smaller extract")
    ratio = uncompressed / compressed
    if ratio > limits.max_ratio:
        raise UploadTooLarge(f"{shown}: compression ratio {ratio:.0f}:1 is above the {limits.max_ratio:.0f}:1 "
                             "allowed (a zip bomb?); zip the real data files")


def _check_entry(shown: str, entry: zipfile.ZipInfo) -> None:
    name = entry.filename
    posix = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or posix.is_absolute():
        raise UnsafeUpload(f"{shown}: entry {name!r} has an absolute path; zip relative paths only")
    if ".." in posix.parts:
        raise UnsafeUpload(f"{shown}: entry {name!r} climbs out of the archive ('..'); zip it again")
    mode = entry.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeUpload(f"{shown}: entry {name!r} is a symbolic link; zip the files themselves")
    parts = posix.parts
    gdb = next((i for i, p in enumerate(parts) if p.lower().endswith(".gdb")), None)
    depth = gdb + 1 if gdb is not None else len(parts) - (0 if entry.is_dir() else 1)
    if depth > 1:
        raise UnsafeUpload(f"{shown}: entry {name!r} is nested {depth} folders deep; at most one folder level "
                           "is allowed")
    if not entry.is_dir() and name.lower().endswith(_ARCHIVES):
        raise UnsafeUpload(f"{shown}: entry {name!r} is an archive inside the archive; upload it on its own")


def _drain(member: IO[bytes], shown: str, entry: zipfile.ZipInfo, budget: int) -> int:
    """Decompress one entry, counting bytes; stop as soon as it exceeds what it declared or the budget."""
    total = 0
    cap = min(entry.file_size, budget)
    while block := member.read(1 << 20):
        total += len(block)
        if total > cap:
            if total > entry.file_size:
                raise UnsafeUpload(f"{shown}: entry {entry.filename!r} unpacks to more than its declared "
                                   f"{entry.file_size} bytes (a zip bomb?); zip it again")
            raise UploadTooLarge(f"{shown}: the zip unpacks to more than the "
                                 f"{(budget + total) / 2**20:.0f} MiB allowed; upload a smaller extract")
    return total


def check_xml(stream: IO[bytes], shown: str) -> None:
    """Refuse XML (GML) that declares a DTD: entities could read server files or expand without bound.

    Only the prolog is parsed (up to the root element), with defusedxml, which forbids DTDs and entities.
    """
    try:
        for _event, _element in iterparse(stream, events=("start",), forbid_dtd=True, forbid_entities=True,
                                          forbid_external=True):
            return
    except DefusedXmlException:
        raise UnsafeUpload(f"{shown}: the XML declares a DTD or entities (<!DOCTYPE>/<!ENTITY>), which could "
                           "read files on the server; export the GML again without a DOCTYPE") from None
    except Exception as exc:  # noqa: BLE001 - any parse failure of the prolog: not XML we can read
        raise UnsafeUpload(f"{shown}: not well-formed XML ({str(exc).splitlines()[0][:200]}); "
                           "export the GML again") from None
