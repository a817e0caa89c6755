"""The staging area on its own: time limit, expiry, and cleanup after killed processes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from layers.checks import CheckContext, Region
from layers.kinds import LayerKind
from layers.staging import Staging, StagingLimits, UploadNotFound, UploadRequest, UploadTimeout

REGION = Region((415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0))


def geojson_bytes(n: int) -> bytes:
    frame = gpd.GeoDataFrame({"arealformal": [1300] * n},
                             geometry=[box(531_000 + i * 10, 6_611_000, 531_005 + i * 10, 6_611_005) for i in range(n)],
                             crs=25832)
    return frame.to_json().encode()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_ingest_time_limit(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staging", StagingLimits(ingest_seconds=0.001))
    with pytest.raises(UploadTimeout, match=r"plan.geojson: reading and checking took longer than 0 s"):
        staging.stage("plan.geojson", io.BytesIO(geojson_bytes(10)), UploadRequest("plan", LayerKind.zoning),
                      CheckContext(REGION), "kari")
    assert list(staging.root.iterdir()) == []


def test_expiry_and_cleanup_after_kill(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "staging", StagingLimits(expiry=timedelta(hours=1)))
    staged = staging.stage("../../plan.geojson", io.BytesIO(geojson_bytes(3)), UploadRequest("plan", LayerKind.zoning),
                           CheckContext(REGION), "kari")
    assert staged.source_name == "plan.geojson" and staged.report["normalised"]["features_out"] == 3
    assert staging.get(staged.id).owner == "kari"

    # a stage killed half-way (its writer is gone) and a publish killed after claiming
    killed = staging.root / ("a" * 32 + ".tmp")
    (killed / "source").mkdir(parents=True)
    (killed / "writer.pid").write_text(str(dead_pid()))
    _, claimed = staging.claim(staged.id)
    (claimed / "writer.pid").write_text(str(dead_pid()))
    live = staging.root / ("b" * 32 + ".tmp")
    live.mkdir()
    (live / "writer.pid").write_text(str(os.getpid()))  # still being written by a live process: kept

    assert staging.cleanup() == ["a" * 32 + ".tmp"]
    assert sorted(p.name for p in staging.root.iterdir()) == sorted([staged.id, "b" * 32 + ".tmp"])
    assert staging.get(staged.id).id == staged.id  # back to review

    later = datetime.now(UTC) + timedelta(hours=2)
    assert staging.cleanup(now=later) == [staged.id]
    with pytest.raises(UploadNotFound, match="published, discarded or has expired"):
        staging.get(staged.id)
