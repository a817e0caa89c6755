"""Land reserves over time: the accounting of every published version of ``business-areas``, per municipality.

Each publish of the derived collection is a version with its date (a new zoning plan, a new AR5, a rule
change); reading them all answers "how did the reserves and the dyrka jord inside them change?".
"""

from __future__ import annotations

import pandas as pd

from constraints.publish import BUSINESS_AREAS
from constraints.reserve import land_reserve
from layers.store import Store

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
        table = land_reserve(store.read_frame(record))
        table.insert(0, "published", record.created)
        table.insert(0, "version", record.version)
        rows.append(table)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})
    return pd.concat(rows, ignore_index=True)[list(HISTORY_COLUMNS)]
