"""Typed errors of the data-in layer. Each message names the problem and the fix, in one line."""

from __future__ import annotations


class LayerError(Exception):
    """Base of every error raised by ``layers``; the message is shown to users as is."""


class SourceNotFound(LayerError):
    """The file or folder to ingest does not exist."""


class UnknownFormat(LayerError):
    """The file is not in a format we read."""


class CorruptSource(LayerError):
    """The file exists and looks like a known format, but cannot be read."""


class SourceTooLarge(LayerError):
    """The source exceeds what a layer may hold (fields, text length): refused before anything is written."""


class InvalidOption(LayerError):
    """A command option has a value that cannot be used (e.g. an unknown ``--encoding``)."""


class StoreFull(LayerError):
    """The store ran out of space (disk full, file size or quota limit); nothing was published."""


class MissingCRS(LayerError):
    """The source declares no coordinate reference system."""


class NoFeatures(LayerError):
    """The source (or the chosen layer) has no usable features."""


class LayerChoiceRequired(LayerError):
    """A multi-layer source needs ``--layer``, or the named layer does not exist."""


class InvalidLayerId(LayerError):
    """A collection id that cannot be used in URLs and table names."""


class LayerNotFound(LayerError):
    """No published layer has this id."""


class VersionNotFound(LayerError):
    """The layer has no such version."""


class FeatureNotFound(LayerError):
    """The layer version has no feature with this id."""


class InvalidQuery(LayerError):
    """A query parameter (bbox, crs, filter) cannot be used; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter

    def __reduce__(self) -> tuple[type[InvalidQuery], tuple[str, str]]:
        """Picklable, so it crosses from a render process to the service process as itself."""
        return type(self), (self.parameter, str(self))
