"""Keeps derived layers fresh and answers site checks fast, for one server process.

The rule set is reloaded when its file changes; the constraint index (STRtrees over every constraint
layer) is rebuilt only when an input layer version or the rules change. A background thread checks
every ``analysis_refresh_seconds`` whether the derived collections are stale and republishes them.

A refresh that fails (for any reason) leaves the last good versions serving; :meth:`AnalysisService.status`
then says they are *behind* and why. The failure is logged once; the same inputs are retried with a growing
pause (up to ``MAX_BACKOFF_SECONDS``), and at once when an input layer or the rules change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from constraints.index import ConstraintIndex
from constraints.publish import (
    AnalysisStatus,
    RefreshFailure,
    analysis_status,
    constraint_index,
    current_inputs,
    failure_reason,
    now_utc,
    refresh_derived,
    refresh_key,
)
from constraints.refresh_record import record_current_failure
from constraints.rules import RuleSet, load_rules
from geo_service.settings import Settings
from layers.store import Store, VersionRecord

log = logging.getLogger("geo_service.analysis")
MAX_BACKOFF_SECONDS = 3600.0
UNREADABLE: tuple[object, ...] = ("unreadable",)  # the failure key when the store or rules cannot be read


class AnalysisService:
    """Rules, a cached constraint index and the refresh loop."""

    def __init__(self, store: Store, settings: Settings,
                 also: Sequence[Callable[[], list[VersionRecord]]] = ()) -> None:
        self.store = store
        self.settings = settings
        self._also = tuple(also)  # further derived layers refreshed after these (the site register)
        self._also_failure: str | None = None  # the last failure of one of them, logged once
        self._lock = threading.Lock()
        self._rules: tuple[tuple[Path | None, float], RuleSet] | None = None
        self._index: tuple[tuple[object, ...], ConstraintIndex] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: RefreshFailure | None = None  # the last failed refresh, until one succeeds
        self._retry_at = 0.0  # monotonic time before which the failed inputs are not tried again

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
        """Republish the derived collections if stale, then those built on them (``also``); raises what a refresh
        raised (see :meth:`try_refresh`)."""
        published = refresh_derived(self.store, self.rules())
        for refresh in self._also:
            published += refresh()
        return published

    def _try_also(self) -> list[VersionRecord]:
        """Refresh the layers built on the derived ones; a failure is logged once and never raised."""
        published: list[VersionRecord] = []
        for refresh in self._also:
            try:
                published += refresh()
            except Exception as exc:
                reason = failure_reason(exc)
                if reason != self._also_failure:
                    log.error("refreshing %s failed; the previous version keeps serving: %s",
                              getattr(refresh, "__qualname__", "a derived layer"), reason, exc_info=exc)
                self._also_failure = reason
                continue
            self._also_failure = None
        return published

    def warm(self) -> None:
        """Build the constraint index in the background, so the first site check does not wait for it."""
        def build() -> None:
            try:
                self.index()
            except Exception:  # the first request builds it again and reports the error
                log.exception("warming the constraint index failed")

        threading.Thread(target=build, name="analysis-warm", daemon=True).start()

    def try_refresh(self) -> list[VersionRecord]:
        """Refresh unless these inputs failed recently, then the layers built on them; a failure is recorded and
        logged once, never raised."""
        return self._try_derived() + self._try_also()

    def _try_derived(self) -> list[VersionRecord]:
        try:
            rules = self.rules()
            key = refresh_key(current_inputs(self.store), rules)
        except Exception as exc:  # noqa: BLE001 - the store or the rule file is unreadable: say so, keep serving
            return self._failed(UNREADABLE, exc)
        failure = self.failure
        if failure is not None and failure.key == key and time.monotonic() < self._retry_at:
            return []
        try:
            published = refresh_derived(self.store, rules)
        except Exception as exc:  # noqa: BLE001 - keep serving the last good versions; status() says why
            return self._failed(key, exc)
        if failure is not None:
            log.info("derived layers are current again (after %d failed attempts)", failure.attempts)
        self.failure = None
        return published

    def _failed(self, key: tuple[object, ...], exc: Exception) -> list[VersionRecord]:
        old = self.failure
        same = old is not None and old.key == key
        attempts = old.attempts + 1 if same and old is not None else 1
        self.failure = RefreshFailure(key, failure_reason(exc), old.since if same and old is not None else now_utc(),
                                      attempts)
        pause = min(max(self.settings.analysis_refresh_seconds, 1.0) * 2 ** attempts, MAX_BACKOFF_SECONDS)
        self._retry_at = time.monotonic() + pause
        if not same:  # once per set of inputs, not every few seconds
            log.error("refreshing derived layers failed; the previous versions keep serving and are marked "
                      "behind: %s", self.failure.reason, exc_info=exc)
            if key != UNREADABLE:  # the other workers and processes read it from the audit log
                self._record(self.failure.reason)
        return []

    def _record(self, reason: str) -> None:
        try:
            rules = self.rules()
        except Exception:  # noqa: BLE001 - unreadable rules are reported by status() in every process alike
            return
        record_current_failure(self.store, rules, reason)

    def status(self) -> AnalysisStatus:
        """Whether the derived collections are current or behind (and why): for metadata and pages."""
        try:
            rules = self.rules()
        except Exception as exc:  # noqa: BLE001 - an invalid rule file: the results are behind, say why
            failure = self.failure
            return AnalysisStatus("behind", failure_reason(exc), failure.since if failure else now_utc(), failed=True)
        return analysis_status(self.store, rules, self.failure)

    def start(self) -> None:
        """Warm the constraint index and start the background refresh loop (no loop when the interval is 0)."""
        self.warm()
        if self.settings.analysis_refresh_seconds <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="analysis-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the loop and wait (at most ``timeout`` s) for a running refresh to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        while True:
            for record in self.try_refresh():
                log.info("republished %s version %s", record.layer_id, record.version)
            if self._stop.wait(self.settings.analysis_refresh_seconds):
                return
