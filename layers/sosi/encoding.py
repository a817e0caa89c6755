"""SOSI ``TEGNSETT`` to a text decoder, and the checks that keep a file that lies about it from turning
into mojibake.

ND7 is the Norwegian 7-bit variant of ISO 646 (NS 4551-1): ASCII with ``[\\]{|}`` standing for
``ÆØÅæøå``. DOSN8 is the Norwegian DOS code page, Python's ``cp865``. ``ANSI`` in SOSI means ISO 8859-1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from layers.errors import CorruptSource

ND7_TABLE = str.maketrans({"[": "Æ", "\\": "Ø", "]": "Å", "{": "æ", "|": "ø", "}": "å"})

_CODECS = {
    "ANSI": "latin-1",
    "ISO8859-1": "latin-1",
    "ISO8859-10": "iso8859-10",
    "DOSN8": "cp865",
    "ND7": "nd7",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
}
CHARSETS = frozenset(_CODECS)  # the ..TEGNSETT names, also accepted by --encoding
_TEGNSETT = re.compile(rb"\.\.TEGNSETT[ \t]+([^\s!]+)")
_NON_ASCII = re.compile(rb"[\x80-\xff]")


@dataclass
class Decoder:
    """Decodes the file's bytes; ``codec`` may change once, from a declared 8-bit set to UTF-8 (with a warning)."""

    declared: str
    codec: str
    source_name: str
    warnings: list[str]
    _checked: bool = False

    def decode(self, data: bytes, offset: int) -> str:
        """Decode one chunk starting at byte ``offset`` of the file."""
        if not self._checked and _NON_ASCII.search(data):
            self._check(data, offset)
        if self.codec == "nd7":
            return data.decode("ascii").translate(ND7_TABLE)
        try:
            return data.decode(self.codec)
        except UnicodeDecodeError as exc:
            raise CorruptSource(
                f"{self.source_name}: byte 0x{data[exc.start]:02X} at offset {offset + exc.start} is not "
                f"{self.declared} although ..TEGNSETT says so; fix the header's ..TEGNSETT line or pass "
                "--encoding iso8859-10 (or the file's real encoding) / filen er ikke i tegnsettet hodet oppgir"
            ) from None

    def _check(self, data: bytes, offset: int) -> None:
        """The first chunk with non-ASCII bytes decides whether the declaration is true."""
        self._checked = True
        first = _NON_ASCII.search(data)
        assert first is not None
        position = offset + first.start()
        if self.codec == "nd7":
            raise CorruptSource(
                f"{self.source_name}: ..TEGNSETT ND7 is 7-bit, but byte 0x{first.group()[0]:02X} at offset "
                f"{position} is not; fix ..TEGNSETT or pass --encoding (utf-8, iso8859-10, cp865) / "
                "ND7-filen har 8-bits tegn")
        if self.codec == "utf-8":
            return  # a decode error names the byte
        # Declared 8-bit: valid UTF-8 multi-byte text (Ã˜ for Ø in Latin-1) means the file is really UTF-8.
        # Latin-1/-10 or cp865 Norwegian text is practically never valid UTF-8.
        sample = _whole_lines(data)
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError:
            return
        self.warnings.append(
            f"..TEGNSETT says {self.declared} but the text is UTF-8 (from offset {position}); read as UTF-8 / "
            f"hodet sier {self.declared}, men teksten er UTF-8 og er lest som UTF-8")
        self.codec = "utf-8"


def _whole_lines(data: bytes) -> bytes:
    """``data`` cut at its last newline so that a multi-byte character is never split."""
    end = data.rfind(b"\n")
    return data if end < 0 else data[: end + 1]


def declared_tegnsett(head: bytes) -> str | None:
    """The ``..TEGNSETT`` value from the first bytes of the file (ASCII in every character set)."""
    match = _TEGNSETT.search(head)
    return match.group(1).decode("ascii", "replace").upper() if match else None


def decoder_for(head: bytes, source_name: str, encoding: str | None, warnings: list[str]) -> Decoder:
    """The decoder for a file: ``--encoding`` wins, then ``..TEGNSETT``; none declared → UTF-8 if valid, else ISO8859-10."""
    if encoding:
        codec = "nd7" if encoding.strip().upper() == "ND7" else _CODECS.get(encoding.strip().upper(), encoding)
        try:
            if codec != "nd7":
                b"".decode(codec)
        except LookupError:
            raise CorruptSource(f"--encoding {encoding!r} is not a known text encoding; use utf-8, iso8859-10, "
                                "latin-1, cp865 (DOSN8) or ND7") from None
        return Decoder(encoding, codec, source_name, warnings, _checked=True)
    declared = declared_tegnsett(head)
    if declared is None:
        warnings.append("the SOSI header has no ..TEGNSETT; assumed UTF-8 (ISO8859-10 if the text is not UTF-8) / "
                        "hodet mangler ..TEGNSETT")
        try:
            _whole_lines(head).decode("utf-8")
            return Decoder("UTF-8", "utf-8", source_name, warnings)
        except UnicodeDecodeError:
            return Decoder("ISO8859-10", "iso8859-10", source_name, warnings, _checked=True)
    codec = _CODECS.get(declared)
    if codec is None:
        raise CorruptSource(f"{source_name}: ..TEGNSETT {declared} is not a SOSI character set (ANSI, ISO8859-1, "
                            "ISO8859-10, DOSN8, ND7, UTF-8); fix the header or pass --encoding")
    return Decoder(declared, codec, source_name, warnings)
