"""Keeps derived layers fresh and answers site checks fast, for one server process.

The rule set is reloaded when its file changes; the constraint index (STRtrees over every constraint
layer) is rebuilt only when an input layer version or the rules change. A background thread checks
every ``analysis_refresh_seconds`` whether the derived collections are stale and republishes them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from constraints.index import ConstraintIndex
from constraints.publish import constraint_index, current_inputs, refresh_derived
from constraints.rules import RuleSet, load_rules
from geo_service.settings import Settings
from layers.store import Store, VersionRecord

log = logging.getLogger("geo_service.analysis")


class AnalysisService:
    """Rules, a cached constraint index and the refresh loop."""

    def __init__(self, store: Store, settings: Settings,
                 also: Sequence[Callable[[], list[VersionRecord]]] = ()) -> None:
        self.store = store
        self.settings = settings
        self._also = tuple(also)  # further derived layers refreshed after these (the site register)
        self._lock = threading.Lock()
        self._rules: tuple[tuple[Path | None, float], RuleSet] | None = None
        self._index: tuple[tuple[object, ...], ConstraintIndex] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rules(self) -> RuleSet:
        """The effective rules, reloaded when the override file appears, changes or goes away."""
        path = self.settings.effective_rules_file()
        key = (path, path.stat().st_mtime if path is not None and path.exists() else 0.0)
        cached = self._rules
        if cached is None or cached[0] != key:
            self._rules = cached = (key, load_rules(path))
        return cached[1]

    def index(self) -> ConstraintIndex:
        """The constraint index for the current input versions and rules (built once per change)."""
        rules = self.rules()
        inputs = current_inputs(self.store)
        key = (tuple(sorted(inputs.versions().items())), rules.hash())
        with self._lock:
            if self._index is None or self._index[0] != key:
                self._index = (key, constraint_index(self.store, rules, inputs))
            return self._index[1]

    def refresh(self) -> list[VersionRecord]:
        """Republish the derived collections if stale, then whatever depends on them (``also``)."""
        published = refresh_derived(self.store, self.rules())
        for refresh in self._also:
            published += refresh()
        return published

    def warm(self) -> None:
        """Build the constraint index in the background, so the first site check does not wait for it."""
        def build() -> None:
            try:
                self.index()
            except Exception:  # the first request builds it again and reports the error
                log.exception("warming the constraint index failed")

        threading.Thread(target=build, name="analysis-warm", daemon=True).start()

    def start(self) -> None:
        """Warm the constraint index and start the background refresh loop (no loop when the interval is 0)."""
        self.warm()
        if self.settings.analysis_refresh_seconds <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="analysis-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and wait for a running refresh to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _loop(self) -> None:
        while True:
            try:
                for record in self.refresh():
                    log.info("republished %s version %s", record.layer_id, record.version)
            except Exception:  # noqa: BLE001 - keep serving the last good version; say why in the log
                log.exception("refreshing derived layers failed; the previous versions keep serving")
            if self._stop.wait(self.settings.analysis_refresh_seconds):
                return
