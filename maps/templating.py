"""Jinja2 for the HTML pages and reports (``maps/templates``), always with autoescaping."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The package's template environment (autoescape on for .html)."""
    return Environment(loader=PackageLoader("maps", "templates"), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True)


def render(name: str, **context: Any) -> str:
    """Render a template by file name."""
    return environment().get_template(name).render(**context)
