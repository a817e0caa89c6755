"""National sources (heritage, farmland, flood, watercourses, boundaries, plans) kept in step with their services."""

from layers.sources.fetch import Retry, SyncFailed
from layers.sources.model import SourceConfigError, SourceSpec, find_source, load_sources
from layers.sources.sync import SyncResult, sync_source

__all__ = ["Retry", "SourceConfigError", "SourceSpec", "SyncFailed", "SyncResult", "find_source", "load_sources",
           "sync_source"]
