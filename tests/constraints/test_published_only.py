"""``published_only``: the analysis behind ``analyse`` skips the nearest-feature search where nothing shows it.

SYNTHETIC DATA: the small region of ``test_fast_paths`` (400 zones, fields, streams, heritage, one municipality).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from constraints.index import ConstraintIndex
from constraints.inputs import ConstraintLayer
from constraints.measure import FULL
from constraints.overlay import analyse_zones
from constraints.rules import load_rules
from layers.kinds import LayerKind
from tests.constraints.test_fast_paths import region


def test_published_findings_are_the_same_and_only_far_clear_distances_are_left_out() -> None:
    layers = region()
    zoning = layers.pop("arealplan")[1]
    constraints = {lid: ConstraintLayer(lid, kind, frame) for lid, (kind, frame) in layers.items()}
    assert all(kind != LayerKind.zoning for kind, _ in layers.values())
    rules = load_rules()
    index = ConstraintIndex(constraints, rules)
    full = analyse_zones(zoning, constraints, rules, index=index)
    lean = analyse_zones(zoning, constraints, rules, index=index, published_only=True)
    assert len(full) == len(lean) > 1000
    shown = ((full["risk"] != "GREEN") | (full["outcome"] == "exempt")).to_numpy()
    assert shown.any() and (~shown).any()
    # every finding keeps its risk, outcome and texts; the published ones are equal in every column
    for col in ("zone_id", "rule_id", "risk", "outcome", "coverage", "text_nb", "text_en"):
        assert full[col].astype(str).tolist() == lean[col].astype(str).tolist(), col
    pd.testing.assert_frame_equal(full[shown].reset_index(drop=True), lean[shown].reset_index(drop=True))
    # what differs: clear findings on fully covered zones whose nearest feature lies beyond the band
    differs = ~np.isclose(full["distance_m"].to_numpy(float), lean["distance_m"].to_numpy(float), equal_nan=True)
    assert differs.any()  # the workload has far zones, so the search was really skipped
    assert not shown[differs].any()
    assert (lean["coverage"].to_numpy()[differs] == FULL).all()
    assert np.isnan(lean["distance_m"].to_numpy(float)[differs]).all()
    assert (full["distance_m"].to_numpy(float)[differs] > lean["proximity_m"].to_numpy(float)[differs]).all()
