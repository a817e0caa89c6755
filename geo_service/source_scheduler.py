"""Sync the enabled national sources on a schedule inside ``geo-service serve``.

Every ``sources_sync_hours`` a background thread runs the syncs under the store's ``sources-sync`` lock, so
with several workers or replicas one runs them and the others find the run recent and skip it.
"""

from __future__ import annotations

import logging
import threading

from geo_service.settings import Settings
from layers.sources import load_sources
from layers.sources.run import run_syncs
from layers.store import Store

log = logging.getLogger("geo_service.sources")


class SourceScheduler:
    """A daemon thread; ``start`` does nothing when ``sources_sync_hours`` is 0."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def interval_s(self) -> float:
        return self.settings.sources_sync_hours * 3600.0

    def start(self) -> SourceScheduler:
        """Start the thread (when a schedule is set); returns ``self``."""
        if self.interval_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sources-sync", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end and wait up to ``timeout`` s (a sync in flight ends with the process)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def run_once(self) -> None:
        """One scheduled run: every enabled source, skipped if another process ran them within the interval."""
        specs = [s for s in load_sources(self.settings.effective_sources_file()) if s.enabled]
        report = run_syncs(self.store, specs, self.settings.sources_staging(), min_interval_s=self.interval_s * 0.9)
        if report.skipped_recent:
            log.info("national sources were synced recently by another process; skipped")
        for result in report.results:
            log.info(result.line())
        for source_id, message in report.failures:
            log.warning("sync of %s failed: %s", source_id, message)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep serving; say why in the log
                log.exception("national source sync failed; the current versions keep serving")
            if self._stop.wait(self.interval_s):
                return
