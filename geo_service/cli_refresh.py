"""The derived refresh after ``geo-service layers add``: in a background process, one at a time, or waited for.

``layers add`` returns once the layer is published; the derived collections (objection-risk, business-areas and
the site register built on them) are refreshed by a detached ``geo-service analyse --queued`` process. Many
quick publishes never pile up refreshes: a queued process first takes the ``derived-refresh-queue`` lock without
waiting (if another process already holds it, that one has not yet looked at the inputs and will see this
publish too, so this one exits), waits for the refresh running now, releases the queue lock and refreshes. So at
most one refresh runs and one waits. ``--wait`` refreshes in the foreground instead and says what was recomputed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from rich.text import Text

from constraints.publish import BUSINESS_AREAS, DERIVED_LOCK, OBJECTION_RISK, failure_reason
from constraints.publish import is_stale as derived_stale
from constraints.rules import load_rules
from geo_service.cli_common import err, out
from geo_service.settings import Settings
from layers.errors import LayerNotFound
from layers.locks import try_exclusive
from layers.store import Store
from sites.config import load_sites_config
from sites.publish import is_stale as sites_stale

QUEUE_LOCK = "derived-refresh-queue"
LOG_NAME = "derived-refresh.log"


def start_refresh(store: Store, settings: Settings) -> bool:
    """Start a background refresh if a derived collection is stale; True when one was started."""
    try:
        stale = derived_stale(store, load_rules(settings.effective_rules_file())) or sites_stale(
            store, load_sites_config(settings.effective_sites_config()))
    except Exception as exc:  # noqa: BLE001 - the refresh would fail the same way: say so now, keep the publish
        err.print(Text("warning: ", style="bold yellow") + Text(
            f"the analysis is behind: {failure_reason(exc)}. The previous objection-risk and business-areas "
            "versions keep serving; run `geo-service analyse` after fixing the cause."),
                  highlight=False, soft_wrap=True)
        return False
    if not stale:
        return False
    command = [sys.executable, "-c", "from geo_service.cli import main; main()", "analyse", "--queued",
               "--workspace", str(settings.workspace.resolve())]
    if settings.rules_file is not None:
        command += ["--rules", str(settings.rules_file.resolve())]
    log = _log_file(store, settings)
    with open(log if log is not None else os.devnull, "ab") as sink:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                         start_new_session=True, close_fds=True)
    where = f" (log: {log})" if log is not None else ""
    out.print(f"refreshing objection-risk and business-areas in the background{where}; "
              "`geo-service layers add … --wait` waits for it", highlight=False, soft_wrap=True)
    return True


def _log_file(store: Store, settings: Settings) -> Any:
    workspace = getattr(store, "workspace", None)
    if workspace is None:
        return None
    folder = settings.workspace.resolve() / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / LOG_NAME


def wait_turn(store: Store) -> bool:
    """For a queued refresh: False when another one is already waiting (it will see our publish); else wait
    until the refresh running now (if any) is done and return True."""
    with try_exclusive(store, QUEUE_LOCK) as first:
        if not first:
            return False
        with store.exclusive(DERIVED_LOCK):
            pass
    return True


def report_engine(store: Store) -> None:
    """One line per derived collection: how its current version was computed (what was recomputed)."""
    for layer_id in (OBJECTION_RISK, BUSINESS_AREAS):
        try:
            record = store.get_layer(layer_id).current
        except LayerNotFound:
            continue
        out.print(f"{layer_id} v{record.version}: {describe(record.provenance.get('engine') or {})}",
                  highlight=False, soft_wrap=True)


def describe(engine: dict[str, Any]) -> str:
    """What a derived version's ``engine`` provenance says about how it was computed, in one phrase."""
    mode = engine.get("mode")
    zones = engine.get("zones", engine.get("recomputed_zones", "?"))
    if mode == "incremental":
        changed = "; ".join(f"{k}: {_counts(v)}" for k, v in (engine.get("changed_layers") or {}).items())
        zoning = ", ".join(engine.get("zoning_changed") or [])
        what = "; ".join(p for p in (changed, f"zoning {zoning}" if zoning else "") if p)
        return f"incremental, {engine.get('recomputed_zones')} of {zones} zones recomputed ({what})"
    if mode == "unchanged":
        return (f"nothing recomputed: no rule reads {', '.join(engine.get('unread_layers') or [])}; "
                "the previous results are current")
    if mode == "full":
        reason = engine.get("full_reason") or ""
        return f"full recompute of {zones} zones" + (f" ({reason})" if reason else "")
    return "computed (no details recorded)"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items() if n)
