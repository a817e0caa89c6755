"""A streaming reader for SOSI, Norway's national vector exchange format (3.x–5.0)."""

from layers.sosi.encoding import CHARSETS
from layers.sosi.reader import SosiReport, SosiScan, choose, read, scan

__all__ = ["CHARSETS", "SosiReport", "SosiScan", "choose", "read", "scan"]
