"""The malformed-file corpus (``tests/corpus.py``) through the path the CLI takes: each case is one line
``error: …`` naming the problem, exit code 2, no traceback, and every published layer untouched (versions, files,
content hashes). Most cases run in-process through ``user_errors`` + ``ingest`` (what ``layers add`` runs); a
handful run through the real ``geo-service`` console script, and disk full through a real file-size limit."""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from geo_service.cli_common import user_errors
from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind
from tests.corpus import malformed_files, malformed_options, plan

pytestmark = [pytest.mark.filterwarnings("ignore:Normalized/laundered field name"),
              pytest.mark.filterwarnings("ignore::RuntimeWarning")]
GEO_SERVICE = Path(sys.executable).with_name("geo-service")
CLI_CASES = ("billion laughs GML", "ring not closed [[0,0],[1,1]]", "rich markup in the file name")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("corpus")
    return {name: (path, expected) for name, path, expected in malformed_files(folder)}


@pytest.fixture
def store(tmp_path: Path) -> GeoPackageStore:
    """A workspace with two published layers (synthetic): plan v1, v2 and kulturminner v1."""
    store = GeoPackageStore(tmp_path / "ws")
    source = tmp_path / "plan.geojson"
    plan(3).to_file(source, driver="GeoJSON")
    ingest(store, source, "plan", LayerKind.zoning)
    ingest(store, source, "plan", LayerKind.zoning)
    ingest(store, source, "kulturminner", LayerKind.heritage)
    return store


def snapshot(store: GeoPackageStore) -> dict[str, object]:
    """Every layer's versions, current version, and the content hash of every version file; plus stray files."""
    out: dict[str, object] = {}
    for layer in store.list_layers():
        out[layer.id] = (layer.current.version, [
            (v.version, v.feature_count, hashlib.sha256(Path(v.location).read_bytes()).hexdigest())
            for v in store.versions(layer.id)])
    out["files"] = sorted(str(p.relative_to(store.workspace)) for p in (store.workspace / "layers").rglob("*"))
    return out


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: ") and "Traceback" not in text, text
    return lines[0]


def test_the_corpus_is_large_enough(corpus: dict[str, tuple[Path, str]], tmp_path: Path) -> None:
    assert len(corpus) + len(malformed_options(tmp_path)) >= 50


def test_every_malformed_file_is_one_line_exit_2_and_changes_nothing(
        corpus: dict[str, tuple[Path, str]], store: GeoPackageStore, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(store)
    problems = []
    for name, (path, expected) in corpus.items():
        capsys.readouterr()
        code = add_in_process(store, path)
        err = capsys.readouterr().err
        try:
            assert code == 2, f"exit {code}"
            line = one_line(err)
            assert expected in line, (expected, line)
            assert snapshot(store) == before
        except AssertionError as exc:
            problems.append(f"{name}: {exc}")
    assert problems == []


def add_in_process(store: GeoPackageStore, path: Path, **options: str) -> int:
    """What ``layers add`` runs (``user_errors`` around ``ingest``); the exit code (0 when it published)."""
    try:
        with user_errors():
            ingest(store, path, "plan", LayerKind.zoning, **options)
    except typer.Exit as done:
        return int(done.exit_code)
    return 0


def test_option_cases_are_one_line_exit_2(store: GeoPackageStore, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(store)
    for name, path, options, expected in malformed_options(tmp_path / "options"):
        capsys.readouterr()
        assert add_in_process(store, path, **options) == 2, name
        assert expected in one_line(capsys.readouterr().err), name
    assert snapshot(store) == before


def cli(*args: str | Path, cwd: Path, limit_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEO_SERVICE_")}
    env |= {"NO_COLOR": "1", "COLUMNS": "300", "TERM": "dumb"}

    def limit() -> None:  # a real file-size limit: writes beyond it fail with EFBIG, as on a full disk
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([str(GEO_SERVICE), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False, preexec_fn=limit)


@pytest.mark.parametrize("name", CLI_CASES)
def test_real_cli_prints_one_line(name: str, corpus: dict[str, tuple[Path, str]], store: GeoPackageStore,
                                  tmp_path: Path) -> None:
    path, expected = corpus[name]
    before = snapshot(store)
    result = cli("layers", "add", path, "--id", "plan", "--kind", "zoning", "-w", store.workspace, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert expected in one_line(result.stderr) and result.stdout == ""
    assert snapshot(store) == before


def test_disk_full_is_one_line_and_publishes_nothing(store: GeoPackageStore, tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes every write past 2 MB fail with EFBIG (treated like ENOSPC/EDQUOT)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    n = 20_000
    big = gpd.GeoDataFrame({"navn": ["Kåla" * 10] * n}, geometry=shapely.buffer(
        shapely.points(np.arange(n) * 10 + 540_000.0, np.full(n, 6_600_000.0)), 3), crs=25832)  # synthetic
    source = tmp_path / "big.gpkg"
    big.to_file(source, layer="big")
    before = snapshot(store)
    result = cli("layers", "add", source, "--id", "plan", "--kind", "zoning", "-w", store.workspace, cwd=tmp_path,
                 limit_bytes=2_000_000)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "no space left to write layer 'plan'" in line and "previous version keeps serving" in line
    assert snapshot(store) == before
    assert store.get_layer("plan").current.version == 2
