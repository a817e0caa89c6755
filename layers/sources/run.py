"""Run several syncs one at a time across every process on the store (``Store.exclusive``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from layers.errors import LayerError
from layers.sources.fetch import Retry
from layers.sources.model import SourceSpec
from layers.sources.sync import SyncResult, sync_source
from layers.store import Store

LOCK_NAME = "sources-sync"


@dataclass
class RunReport:
    """Results of a run: one per source synced, and the failures as ``(source id, message)``."""

    results: list[SyncResult] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped_recent: bool = False


def run_syncs(store: Store, specs: list[SourceSpec], staging_root: Path, *, retry: Retry | None = None,
              min_interval_s: float | None = None) -> RunReport:
    """Sync ``specs`` in order under the store's ``sources-sync`` lock; one failure does not stop the others.

    With ``min_interval_s`` (the scheduler) the run is skipped when another process finished one that recently.
    """
    report = RunReport()
    marker = staging_root / "last-run.json"
    with store.exclusive(LOCK_NAME):
        if min_interval_s is not None and _finished_within(marker, min_interval_s):
            report.skipped_recent = True
            return report
        staging_root.mkdir(parents=True, exist_ok=True)
        with httpx.Client(follow_redirects=True) as client:
            for spec in specs:
                try:
                    report.results.append(sync_source(store, spec, staging_root, client, retry))
                except LayerError as exc:
                    report.failures.append((spec.id, " ".join(str(exc).split())))
        marker.write_text(json.dumps({"finished": time.time(), "failures": len(report.failures)}), encoding="utf-8")
    return report


def _finished_within(marker: Path, seconds: float) -> bool:
    try:
        finished = float(json.loads(marker.read_text(encoding="utf-8"))["finished"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return time.time() - finished < seconds
