"""Check that an optimisation of the analysis changed no result: save the published outputs once, compare later.

    python bench/check_analyse_results.py save WORKSPACE REF_DIR     # before changing anything
    geo-service analyse --force --workspace WORKSPACE                 # with the changed code
    python bench/check_analyse_results.py compare WORKSPACE REF_DIR   # exit 1 and the differences if any

What is compared: the current ``objection-risk``, ``business-areas`` and ``sites`` versions and the land reserve
computed from business-areas. Rows by feature id; numbers to 1e-6 relative; text, statuses and codes equal; the
``findings`` column parsed from JSON and compared finding by finding (numbers to 1e-6 relative); geometries
equal after normalisation (to 1e-6 m).
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from constraints.reserve import land_reserve
from layers.gpkg_store import GeoPackageStore

LAYERS = ("objection-risk", "business-areas", "sites")
JSON_COLUMNS = ("findings",)
RTOL = 1e-6


def snapshot(workspace: Path) -> dict[str, Any]:
    """The published results as plain frames (geometry as WKB)."""
    store = GeoPackageStore(workspace)
    out: dict[str, Any] = {}
    for layer_id in LAYERS:
        frame = store.read_frame(store.get_layer(layer_id).current)
        if layer_id == "business-areas":
            out["land-reserve"] = pd.DataFrame(land_reserve(frame))
        plain = pd.DataFrame(frame.drop(columns="geometry"))
        plain["geometry"] = shapely.to_wkb(frame.geometry.array)
        out[layer_id] = plain
    return out


def _close(a: Any, b: Any, path: str, problems: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            problems.append(f"{path}: keys {sorted(set(a) ^ set(b))} differ")
        for key in set(a) & set(b):
            _close(a[key], b[key], f"{path}.{key}", problems)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            problems.append(f"{path}: {len(a)} vs {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _close(x, y, f"{path}[{i}]", problems)
    elif isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        if not math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-9):
            problems.append(f"{path}: {a!r} vs {b!r}")
    elif a != b:
        problems.append(f"{path}: {a!r} vs {b!r}")


def compare_frames(name: str, ref: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    """Differences between two snapshots of one layer (at most a few lines per column)."""
    problems: list[str] = []
    if set(ref.columns) != set(new.columns):
        problems.append(f"{name}: columns differ: only before {sorted(set(ref.columns) - set(new.columns))}, "
                        f"only after {sorted(set(new.columns) - set(ref.columns))}")
    if len(ref) != len(new) or not ref.index.equals(new.index):
        return [*problems, f"{name}: rows differ ({len(ref)} vs {len(new)})"]
    for col in [c for c in ref.columns if c in new.columns]:
        a, b = ref[col], new[col]
        bad: list[str] = []
        if col == "geometry":
            ga = shapely.normalize(shapely.from_wkb(a.to_numpy()))
            gb = shapely.normalize(shapely.from_wkb(b.to_numpy()))
            same = shapely.equals_exact(ga, gb, tolerance=1e-6) | (shapely.is_empty(ga) & shapely.is_empty(gb))
            bad = [f"row {i}: geometry differs" for i in a.index[~same][:3]]
        elif col in JSON_COLUMNS:
            for i, x, y in zip(a.index, a.tolist(), b.tolist(), strict=True):
                found: list[str] = []
                _close(json.loads(x) if isinstance(x, str) else x, json.loads(y) if isinstance(y, str) else y,
                       f"row {i}", found)
                bad += found
                if len(bad) > 3:
                    break
        elif pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b) and a.dtype != bool:
            x, y = a.to_numpy(dtype=float, na_value=np.nan), b.to_numpy(dtype=float, na_value=np.nan)
            ok = np.isclose(x, y, rtol=RTOL, atol=1e-9, equal_nan=True)
            bad = [f"row {i}: {x[k]!r} vs {y[k]!r}" for k, i in enumerate(a.index) if not ok[k]][:3]
        else:
            ok = (a.astype(object).where(a.notna(), None) == b.astype(object).where(b.notna(), None)) | (
                a.isna() & b.isna())
            bad = [f"row {i}: {a[i]!r} vs {b[i]!r}" for i in a.index[~ok.to_numpy()][:3]]
        problems += [f"{name}.{col} {line}" for line in bad[:3]]
    return problems


def main() -> None:
    command, workspace, ref_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    ref_file = ref_dir / "results.pickle"
    if command == "save":
        ref_dir.mkdir(parents=True, exist_ok=True)
        ref_file.write_bytes(pickle.dumps(snapshot(workspace)))
        print(f"saved {', '.join(LAYERS)} and the land reserve of {workspace} to {ref_file}")
        return
    ref, new = pickle.loads(ref_file.read_bytes()), snapshot(workspace)
    problems = [p for name in ref for p in compare_frames(name, ref[name], new[name])]
    for line in problems[:40]:
        print(line)
    if problems:
        raise SystemExit(f"{len(problems)} differences")
    sizes = ", ".join(f"{name} {len(frame)} rows" for name, frame in ref.items())
    print(f"identical results ({sizes}; numbers to {RTOL:g} relative)")


if __name__ == "__main__":
    main()
