"""Stream a SOSI file as decoded text in whole records, never holding the whole file.

A record (feature, header, definition) starts at a line beginning with exactly one dot (``.KURVE 12:``)
and runs to the next one. Chunks are cut just before such a line, so every chunk holds whole records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from layers.sosi.encoding import Decoder

CHUNK_BYTES = 4 * 2**20
RECORD_START = re.compile(r"\n\.(?=[^.\s])")  # a literal prefix: re scans for it at C speed
_GROUP = re.compile(r"\.([^\s:!.]+)[ \t]*(-?\d*)")


def _cut(data: bytes) -> int:
    """Offset of the last record start in ``data`` (0 if none after the first byte)."""
    pos = len(data)
    while True:
        pos = data.rfind(b"\n.", 0, pos)
        if pos < 0:
            return 0
        if pos + 2 < len(data) and data[pos + 2:pos + 3] not in (b".", b" ", b"\r", b"\n", b"\t"):
            return pos + 1
        # "\n." at the very end is undecided (".KURVE" or "..NØ"?): look further back


def chunks(path: Path, decoder: Decoder, chunk_bytes: int | None = None) -> Iterator[str]:
    """Decoded text of ``path`` in pieces that each end at a record boundary."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    offset = 0
    rest = b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(chunk_bytes)
            if not block:
                break
            if offset == 0 and not rest and block.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark
                block, offset = block[3:], 3
            data = rest + block
            cut = _cut(data)
            if cut == 0:  # one huge record: keep reading
                rest = data
                continue
            yield decoder.decode(data[:cut], offset)
            offset += cut
            rest = data[cut:]
    if rest:
        yield decoder.decode(rest, offset)


def records(text: str) -> Iterator[str]:
    """The records of a chunk (any text before the first record start is skipped: comments, BOM)."""
    starts = [m.start() + 1 for m in RECORD_START.finditer(text)]
    if text.startswith(".") and text[1:2] not in (".", " ", "\n", "\r", "\t", ""):
        starts.insert(0, 0)
    for i, start in enumerate(starts):
        yield text[start: starts[i + 1] if i + 1 < len(starts) else len(text)]


def group_of(record: str) -> tuple[str, int | None]:
    """``(".KURVE 12:" ->) ("KURVE", 12)``."""
    m = _GROUP.match(record)
    if m is None:
        return "", None
    return m.group(1).upper(), (int(m.group(2)) if m.group(2) and m.group(2) != "-" else None)
