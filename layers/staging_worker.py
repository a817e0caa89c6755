"""The child process of a staged upload: read, normalise and check one file, write ``staged.gpkg`` and
``result.json``. Run as ``python -m layers.staging_worker JOB.json`` by ``layers.staging`` (time-limited)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from layers.checks import CheckContext, check_layer
from layers.crs import bounds_to_crs84
from layers.errors import LayerError
from layers.kinds import LayerKind
from layers.normalise import normalise
from layers.readers import choose_layer, count_features, read_layer, resolve_source


def run(job: dict[str, Any]) -> dict[str, Any]:
    """The report of one upload (raises ``LayerError`` for unreadable files)."""
    from layers.staging import region_from_json

    request = job["request"]
    kind = LayerKind(request["kind"])
    shown = job["shown"]
    source = resolve_source(job["source"])
    source = replace(source, path=Path(shown))  # messages name the upload, never a server path
    chosen = choose_layer(source, request["layer"])
    expected = count_features(source, chosen)
    raw = read_layer(source, chosen, encoding=request["encoding"], expected=expected)
    source_fields = [str(c) for c in raw.columns if c != raw.geometry.name]
    frame, report = normalise(raw, kind, shown, crs_override=request["crs"])
    context = CheckContext(region_from_json(job["region"]),
                           tuple(job["municipalities"]) if job["municipalities"] is not None else None, job["force"])
    checks = check_layer(frame, kind, report.field_map, context)
    bbox = tuple(float(v) for v in frame.total_bounds)
    document = {
        "sourceLayer": chosen, "driver": source.driver, "sourceFields": source_fields,
        "normalised": asdict(report), "bbox": list(bbox), "bboxCrs84": bounds_to_crs84(bbox),  # type: ignore[arg-type]
        "checks": asdict(checks), "publishable": checks.ok,
    }
    if checks.ok:
        frame.to_file(job["out"], driver="GPKG", layer="staged")
    return document


def main(path: str) -> int:
    job = json.loads(Path(path).read_text())
    out = Path(path).with_name("result.json")
    try:
        report = run(job)
        if not report["publishable"]:
            problems = "; ".join(report["checks"]["problems"])
            result = {"ok": False, "type": "KindCheckFailed", "report": report,
                      "message": f"{job['shown']}: refused as {job['request']['kind']}: {problems}"}
        else:
            result = {"ok": True, "report": report}
    except LayerError as exc:
        result = {"ok": False, "type": type(exc).__name__, "message": " ".join(str(exc).split())}
    except MemoryError:
        result = {"ok": False, "type": "LayerError", "message": f"{job['shown']}: too large to read in memory; "
                  "upload a smaller extract"}
    except Exception as exc:  # noqa: BLE001 - any other reader failure is a bad file, said in one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        result = {"ok": False, "type": "CorruptSource",
                  "message": f"{job['shown']}: cannot be read ({first}); check it in QGIS and export it again"}
    if "message" in result:  # never a server path in a message
        for path_text in (str(Path(job["source"]).resolve()), job["source"], str(Path(job["source"]).parent)):
            result["message"] = result["message"].replace(f"/vsizip/{path_text}", job["shown"])
            result["message"] = result["message"].replace(path_text, job["shown"])
    out.write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
