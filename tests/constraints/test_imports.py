"""The domain package stays free of the web framework and of the layers above it (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import constraints

FORBIDDEN = ("fastapi", "starlette", "uvicorn", "maps", "geo_service")


def test_constraints_imports_only_downwards() -> None:
    root = Path(constraints.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_default_rules_ship_with_the_package() -> None:
    assert (Path(constraints.__file__).parent / "default_rules.yaml").is_file()
