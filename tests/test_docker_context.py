"""The Docker image's code is complete: a wheel built from exactly what the Dockerfile copies serves the app.

No Docker engine runs here, so the test does what the image's ``pip install .`` does, on the same files: it reads
the final stage's ``COPY`` lines, builds a folder from them (the map assets of the ``map-assets`` stage are this
checkout's ``maps/node_modules``, installed from the same lock file), builds the wheel, and imports and serves the
app from the unpacked wheel alone (not from this checkout).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _final_stage_copies(dockerfile: str) -> list[tuple[str, str, str | None]]:
    """(source, destination, --from stage) of every COPY in the last stage."""
    stage = dockerfile.split("\nFROM ")[-1]
    copies = []
    for line in stage.splitlines():
        if not line.startswith("COPY "):
            continue
        words = shlex.split(line)
        stage_from = next((w.split("=", 1)[1] for w in words[1:] if w.startswith("--from=")), None)
        args = [w for w in words[1:] if not w.startswith("--")]
        *sources, dest = args
        copies += [(source, dest, stage_from) for source in sources]
    return copies


def test_the_image_copies_every_package_and_the_wheel_serves(tmp_path: Path) -> None:
    context = tmp_path / "app"
    context.mkdir()
    copies = _final_stage_copies((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {"**/node_modules", "**/__pycache__", ".venv"} <= set(ignored)  # the context, as Docker sends it
    assert ("sites", "./sites", None) in copies and ("programme", "./programme", None) in copies
    for source, dest, stage in copies:
        origin = ROOT / "maps" / "node_modules" if stage == "map-assets" else ROOT / source
        target = context / dest
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "node_modules"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / origin.name if dest.endswith("/") else target)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(context)], check=False, capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(site)
    assert {"maps/templates/page_base.html", "sites/__init__.py", "programme/__init__.py",
            "maps/node_modules/leaflet/dist/leaflet.js", "layers/migrations/0001_catalog.sql"} <= names
    probe = textwrap.dedent("""
        import sys
        from fastapi.testclient import TestClient
        import geo_service, sites, programme
        from geo_service.factory import create_app
        from geo_service.settings import Settings
        assert all(m.__file__.startswith(sys.argv[1]) for m in (geo_service, sites, programme)), geo_service.__file__
        settings = Settings(workspace=sys.argv[2], seed_demo=False, analysis_refresh_seconds=0)
        with TestClient(create_app(settings)) as client:
            paths = client.get("/openapi.json").json()["paths"]
            print(client.get("/conformance").status_code, client.get("/static/vendor/leaflet/leaflet.js").status_code,
                  any(p.startswith("/sites/") for p in paths), any(p.startswith("/programme/") for p in paths))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GEO_SERVICE_WORKSPACE")}
    env["PYTHONPATH"] = str(site)
    served = subprocess.run([sys.executable, "-c", probe, str(site), str(tmp_path / "ws")], check=False, capture_output=True,
                            text=True, timeout=300, cwd=tmp_path, env=env)
    assert served.returncode == 0, served.stderr[-3000:]
    assert served.stdout.split() == ["200", "200", "True", "True"]  # the sites and programme routes
