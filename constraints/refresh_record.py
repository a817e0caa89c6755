"""A failed derived refresh, written to the store's audit log so that every process can say why the analysis is behind.

The background refresh after ``geo-service layers add`` runs in its own process, and a server's refresh loop runs
in each worker: a failure known only to the process that hit it would leave the others saying "pending". The
failure is appended to the audit log (both stores have one) as ``action="refresh"``, ``result="failed"`` on
``objection-risk``, with the input versions and the rule-set hash it failed on. :func:`recorded_failure` finds
the newest such entry for the *current* inputs and rules; once an input or the rules change it no longer applies
(the refresh is pending again), and once a refresh succeeds the derived collections are current.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from layers.access import AuditEntry
from layers.store import Store

if TYPE_CHECKING:
    from constraints.publish import Inputs, RefreshFailure
    from constraints.rules import RuleSet

ACTOR = "system:derived-refresh"
ACTION = "refresh"
TARGET = "objection-risk"
_LOOK_BACK = 50  # audit entries of the target read to find the failures on the current inputs

log = logging.getLogger("geo_service.analysis")


def record_failure(store: Store, inputs: Inputs, rules: RuleSet, reason: str) -> None:
    """Append the failure to the audit log; never raises (the audit log must not be a second failure)."""
    detail: dict[str, Any] = {"error": reason[:500], "inputs": inputs.versions(), "rules": rules.hash()}
    try:
        store.append_audit(AuditEntry(ACTOR, ACTION, TARGET, "failed", None, detail=detail))
    except Exception:  # a read-only or full store: the log line below still says it
        log.exception("could not record the failed refresh in the audit log")


def record_current_failure(store: Store, rules: RuleSet, reason: str) -> None:
    """:func:`record_failure` for the store's current inputs; never raises."""
    from constraints.publish import current_inputs

    try:
        inputs = current_inputs(store)
    except Exception:  # the catalog is unreadable: nothing to key the failure on
        log.exception("could not read the inputs to record the failed refresh")
        return
    record_failure(store, inputs, rules, reason)


def recorded_failure(store: Store, inputs: Inputs, rules: RuleSet) -> RefreshFailure | None:
    """The failure recorded for exactly these inputs and rules (since its first attempt), or None."""
    from constraints.publish import RefreshFailure, refresh_key

    versions, rules_hash = inputs.versions(), rules.hash()
    try:
        entries = store.audit_entries(_LOOK_BACK, TARGET)
    except Exception:  # noqa: BLE001 - no audit log to read: the status falls back to "pending"
        return None
    matching = [e for e in entries if e.action == ACTION and e.result == "failed"
                and e.detail.get("inputs") == versions and e.detail.get("rules") == rules_hash]
    if not matching:
        return None
    newest, first = matching[0], matching[-1]  # newest first
    return RefreshFailure(refresh_key(inputs, rules), str(newest.detail.get("error", "")), _utc(first.at),
                          len(matching))


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
