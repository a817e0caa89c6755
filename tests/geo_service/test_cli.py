"""The ``geo-service`` command line, run as GIS staff run it: the console script in a subprocess.

Synthetic data (written to ``tmp_path``) unless a test says it reads the real files in ``shared/data``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
N1000 = DATA / "n1000-kartverket-hmalmedal" / "n1000_kongsbergregionen_epsg25833.gpkg"
GEO_SERVICE = Path(sys.executable).with_name("geo-service")

pytestmark = [pytest.mark.filterwarnings("ignore:Normalized/laundered field name"),
              pytest.mark.filterwarnings("ignore:'crs' was not provided")]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``geo-service ARGS`` with a clean environment (no inherited GEO_SERVICE_*, no colour, wide)."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("GEO_SERVICE_") and k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    clean.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb", **(env or {})})
    if GEO_SERVICE.exists():
        command = [str(GEO_SERVICE)]
    else:  # installed without the console script: the same entry point
        command = [sys.executable, "-c", "from geo_service.cli import main; main()"]
    return subprocess.run([*command, *map(str, args)], check=False, cwd=cwd, env=clean, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failing command prints: exit code 2, ``error: ...``, nothing else, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert "\x1b[" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert result.stdout.strip() == ""
    return lines[0]


# -- synthetic sources -----------------------------------------------------------------------------
def plan_25833(path: Path, n: int = 2) -> Path:
    """Zoning polygons in EPSG:25833 (synthetic); the first is a bow-tie that needs repair."""
    bow_tie = shapely.Polygon([(200_000, 6_620_000), (200_010, 6_620_010), (200_010, 6_620_000),
                               (200_000, 6_620_010)])
    geoms = [bow_tie] + [shapely.box(200_100 + 20 * i, 6_620_000, 200_110 + 20 * i, 6_620_010) for i in range(n - 1)]
    names = ["Kåla", "Bråten", "Østre Æsval", "Moen"]
    frame = gpd.GeoDataFrame({"navn": [names[i % 4] for i in range(n)], "arealformal": ["1470"] * n},
                             geometry=geoms, crs="EPSG:25833")
    pyogrio.write_dataframe(frame, path)
    return path


def two_layer_gpkg(path: Path) -> Path:
    frame = gpd.GeoDataFrame({"navn": ["Kåla"]}, geometry=[shapely.box(540_000, 6_600_000, 540_010, 6_600_010)],
                             crs=25832)
    pyogrio.write_dataframe(frame, path, layer="RpArealformalOmrade")
    pyogrio.write_dataframe(frame, path, layer="RpGrense")
    return path


def shapefile_without_prj(folder: Path) -> Path:
    folder.mkdir()
    frame = gpd.GeoDataFrame({"navn": ["Kåla"], "formal": [1300]},
                             geometry=[shapely.box(540_000, 6_600_000, 540_010, 6_600_010)])
    pyogrio.write_dataframe(frame, folder / "plan.shp", encoding="UTF-8")
    assert not (folder / "plan.prj").exists()
    return folder / "plan.shp"


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A workspace that already serves ``plan`` version 1 (2 features), published through the API."""
    workspace = tmp_path / "ws"
    ingest(GeoPackageStore(workspace), plan_25833(tmp_path / "v1.geojson"), "plan", LayerKind.zoning)
    return workspace


def catalog(workspace: Path) -> list[tuple[str, int, int, list[int]]]:
    """(id, current version, features, all versions) of every layer, derived ones included."""
    store = GeoPackageStore(workspace)
    return [(r.id, r.current.version, r.current.feature_count, [v.version for v in store.versions(r.id)])
            for r in store.list_layers()]


def state(workspace: Path, layer_id: str = "plan") -> tuple[str, int, int, list[int]]:
    """The catalog entry of one layer (publishing also refreshes derived layers beside it)."""
    return next(entry for entry in catalog(workspace) if entry[0] == layer_id)


# -- layers add ------------------------------------------------------------------------------------
def test_add_prints_the_report(tmp_path: Path) -> None:
    source = plan_25833(tmp_path / "plan.geojson", n=3)
    result = run("layers", "add", source, "--id", "plan", "--kind", "zoning", "--workspace", tmp_path / "ws",
                 cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"published plan version 1 from {source} (layer 'plan', GeoJSON)"
    assert "features: 3 read, 3 published; repaired 1 invalid; dropped 0 empty, 0 collapsed" in lines
    assert "CRS: EPSG:25833 -> EPSG:25832" in lines
    assert "fields: arealformal <- arealformal" in lines
    assert any(line.startswith("bbox (EPSG:25832): ") for line in lines)
    assert any(re.fullmatch(r"took \d+\.\d\d s", line) for line in lines)
    assert state(tmp_path / "ws") == ("plan", 1, 3, [1])


def test_add_real_n1000_lakes(tmp_path: Path) -> None:
    """Real data (Kartverket N1000, read in place)."""
    if not N1000.is_file():
        pytest.skip(f"real data file {N1000} is missing (expected shared/data beside the repository)")
    result = run("layers", "add", N1000, "--id", "innsjo", "--kind", "watercourse", "--layer", "Innsjo",
                 "-w", tmp_path / "ws", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "features: 267 read, 267 published; repaired 0 invalid; dropped 0 empty, 0 collapsed" in lines
    assert "CRS: EPSG:25833 -> EPSG:25832" in lines
    assert "geometry: 267 MultiPolygon" in lines


def test_add_without_crs_then_with_crs(tmp_path: Path) -> None:
    source = shapefile_without_prj(tmp_path / "levering")
    failed = run("layers", "add", source, "--id", "plan", "--kind", "zoning", "-w", tmp_path / "ws", cwd=tmp_path)
    line = error_line(failed)
    assert str(source) in line and "--crs" in line

    result = run("layers", "add", source, "--id", "plan", "--kind", "zoning", "--crs", "25832",
                 "-w", tmp_path / "ws", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "CRS: EPSG:25832 -> EPSG:25832 (from --crs)" in result.stdout.splitlines()


# -- list, versions, rollback ----------------------------------------------------------------------
def test_list_versions_rollback(tmp_path: Path, published: Path) -> None:
    v2 = plan_25833(tmp_path / "v2.geojson", n=4)
    assert run("layers", "add", v2, "--id", "plan", "--kind", "zoning", "-w", published, cwd=tmp_path).returncode == 0

    listed = run("layers", "list", "-w", published, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if " plan " in line)
    assert re.search(r"plan\s*│\s*zoning\s*│\s*2\s*│\s*4\s*│", row), row

    versions = run("layers", "versions", "plan", "-w", published, cwd=tmp_path)
    assert versions.returncode == 0, versions.stderr
    rows = {line.split("│")[1].strip(): line for line in versions.stdout.splitlines() if line.count("│") >= 5}
    assert set(rows) == {"1", "2"}
    assert re.search(r"│\s*2\s*│\s*\*\s*│", rows["2"]) and "*" not in rows["1"]
    assert "v2.geojson" in rows["2"] and "v1.geojson" in rows["1"]

    rolled = run("layers", "rollback", "plan", "1", "-w", published, cwd=tmp_path)
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout.splitlines()[0] == "plan now serves version 1 (2 features)"
    assert state(published) == ("plan", 1, 2, [1, 2])

    versions = run("layers", "versions", "plan", "-w", published, cwd=tmp_path)
    current = [line for line in versions.stdout.splitlines() if re.search(r"│\s*\*\s*│", line)]
    assert len(current) == 1 and re.match(r"│\s*1\s*│", current[0])


def test_rollback_and_versions_errors(tmp_path: Path, published: Path) -> None:
    before = catalog(published)
    line = error_line(run("layers", "rollback", "plan", "5", "-w", published, cwd=tmp_path))
    assert line == "error: layer 'plan' has no version 5; versions: 1"
    line = error_line(run("layers", "versions", "elver", "-w", published, cwd=tmp_path))
    assert "no layer 'elver'" in line and "geo-service layers list" in line
    assert catalog(published) == before
    assert state(published) == ("plan", 1, 2, [1])


# -- failures: one line on stderr, exit code 2, nothing published ----------------------------------
def _dwg(d: Path) -> Path:
    (d / "plan.dwg").write_bytes(b"AC1032")
    return d / "plan.dwg"


FAILURES = {
    # name: (make the source, --kind, texts the line must contain besides the file name)
    "missing file": (lambda d: d / "finnes_ikke.gpkg", "zoning", ["file not found", "check the path"]),
    "unknown kind": (lambda d: plan_25833(d / "plan.geojson"), "reguleringsplan",
                     ["unknown layer kind 'reguleringsplan'", "use one of: municipality, zoning"]),
    "multi-layer without --layer": (lambda d: two_layer_gpkg(d / "plan.gpkg"), "zoning",
                                    ["2 layers", "--layer", "RpArealformalOmrade", "RpGrense"]),
    "no CRS": (lambda d: shapefile_without_prj(d / "levering"), "zoning",
               ["no coordinate reference system", "--crs"]),
    "unknown format": (_dwg, "zoning", ["unknown format '.dwg'", "supported"]),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_failure_is_one_line_exit_2(name: str, tmp_path: Path, published: Path) -> None:
    make, kind, texts = FAILURES[name]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    source = make(corpus)
    before = catalog(published)

    line = error_line(run("layers", "add", source, "--id", "plan", "--kind", kind, "-w", published, cwd=tmp_path))

    if name != "unknown kind":  # the kind is checked before the file is looked at
        assert str(source) in line
    for text in texts:
        assert text in line, (text, line)
    assert catalog(published) == before  # nothing published, nothing recomputed
    assert state(published) == ("plan", 1, 2, [1])


def test_usage_error_is_not_a_traceback(tmp_path: Path) -> None:
    result = run("layers", "add", "plan.gpkg", "--kind", "zoning", cwd=tmp_path)  # --id missing
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--id" in result.stderr


# -- where the workspace is -------------------------------------------------------------------------
def test_workspace_option_and_environment(tmp_path: Path) -> None:
    source = plan_25833(tmp_path / "plan.geojson")
    from_env, from_option = tmp_path / "ws-env", tmp_path / "ws-option"

    by_env = run("layers", "add", source, "--id", "env-plan", "--kind", "zoning", cwd=tmp_path,
                 env={"GEO_SERVICE_WORKSPACE": str(from_env)})
    assert by_env.returncode == 0, by_env.stderr
    by_option = run("layers", "add", source, "--id", "option-plan", "--kind", "zoning", "--workspace", from_option,
                    cwd=tmp_path, env={"GEO_SERVICE_WORKSPACE": str(from_env)})
    assert by_option.returncode == 0, by_option.stderr

    env_ids, option_ids = {r[0] for r in catalog(from_env)}, {r[0] for r in catalog(from_option)}
    assert "env-plan" in env_ids and "option-plan" not in env_ids
    assert "option-plan" in option_ids and "env-plan" not in option_ids  # the option wins over the environment
    assert not (tmp_path / "workspace").exists()

    listed = run("layers", "list", cwd=tmp_path, env={"GEO_SERVICE_WORKSPACE": str(from_env)})
    assert "env-plan" in listed.stdout and "option-plan" not in listed.stdout


def test_default_workspace_is_in_the_current_folder(tmp_path: Path) -> None:
    source = plan_25833(tmp_path / "plan.geojson")
    result = run("layers", "add", source, "--id", "plan", "--kind", "zoning", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert state(tmp_path / "workspace") == ("plan", 1, 2, [1])


# -- regression: messages were once rendered as rich markup ("[gammel]" vanished, "[/]" crashed) -----
@pytest.mark.parametrize("name", ["Kopi av plan [gammel].gpkg", "plan [/] 2024.gpkg"])
def test_error_message_with_brackets_is_printed_verbatim(name: str, tmp_path: Path) -> None:
    line = error_line(run("layers", "add", tmp_path / name, "--id", "plan", "--kind", "zoning",
                          "-w", tmp_path / "ws", cwd=tmp_path))
    assert name in line


def test_report_is_json_serialisable_provenance(tmp_path: Path) -> None:
    """What `layers add` stores as provenance can be read back (the `versions` source column uses it)."""
    source = plan_25833(tmp_path / "plan.geojson")
    assert run("layers", "add", source, "--id", "plan", "--kind", "zoning", cwd=tmp_path).returncode == 0
    version = GeoPackageStore(tmp_path / "workspace").versions("plan")[0]
    assert version.provenance["source"] == str(source.resolve())
    assert version.provenance["report"]["repaired"] == 1
    assert json.loads(json.dumps(version.provenance)) == version.provenance
