"""Land reserves over time: the accounting of every published version of ``business-areas``, per municipality.

Each publish of the derived collection is a version with its date (a new zoning plan, a new AR5, a rule
change); reading them all answers "how did the reserves and the dyrka jord inside them change?".
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd

from constraints.publish import BUSINESS_AREAS
from constraints.reserve import land_reserve
from layers.store import Store, VersionRecord

_CACHE_SIZE = 256  # published versions never change: their accounting is computed once per process
_cache: OrderedDict[tuple[object, ...], pd.DataFrame] = OrderedDict()
_cache_lock = threading.Lock()

HISTORY_COLUMNS: tuple[str, ...] = (
    "version", "published", "kommunenummer", "kommunenavn", "pre_approved_daa", "reserve_daa", "conflict_daa",
    "farmland_in_reserves_daa", "n_reserve",
)


def reserve_history(store: Store, *, max_versions: int = 50) -> pd.DataFrame:
    """One row per (version of ``business-areas``, municipality), oldest version first; areas in daa.

    Only the newest ``max_versions`` versions are read (each is a full read of the collection).
    """
    rows: list[pd.DataFrame] = []
    for record in sorted(store.versions(BUSINESS_AREAS), key=lambda v: v.version)[-max_versions:]:
        table = version_reserve(store, record)
        table.insert(0, "published", record.created)
        table.insert(0, "version", record.version)
        rows.append(table)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})
    return pd.concat(rows, ignore_index=True)[list(HISTORY_COLUMNS)]


def version_reserve(store: Store, record: VersionRecord) -> pd.DataFrame:
    """The land-reserve accounting of one published ``business-areas`` version (a fresh copy; computed once).

    A version is immutable, so its table is kept (keyed by where and when it was written) for every later
    request: the land-reserve page, CSVs, XLSX and the history read each version once per process.
    """
    key = (record.layer_id, record.version, record.location, record.created, record.feature_count)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached.copy()
    table = land_reserve(store.read_frame(record))
    with _cache_lock:
        _cache[key] = table
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return table.copy()
