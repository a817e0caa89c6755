"""The planner workspace's side panel: draw, upload or pick a site and read its report beside the map.

The panel is plain HTML from a Jinja2 template (autoescaped); its behaviour lives in the static
``geo-planner.js`` (no inline handlers), which finds the endpoints in the panel's ``data-`` attributes.
"""

from __future__ import annotations

from branca.element import Element, Figure

from maps.i18n import Lang, t
from maps.templating import render


def panel_html(lang: Lang, *, check_url: str, upload_url: str, pdf_url: str) -> str:
    """The panel's HTML."""
    keys = ("title", "draw", "upload", "candidates", "check_zone", "pdf", "checking", "error", "hide", "show",
            "hits", "site", "business_only")
    return render("planner_workspace.html", lang=lang, ui={k: t(f"ws.{k}", lang) for k in keys},
                  check_url=check_url, upload_url=upload_url, pdf_url=pdf_url)


def add_panel(figure: Figure, lang: Lang, tiles_url: str) -> None:
    """Put the panel in the page body (served pages only: it needs the service's site-check endpoints)."""
    base = tiles_url.rstrip("/")
    figure.html.add_child(Element(panel_html(lang, check_url=f"{base}/analyses/site-check",
                                             upload_url=f"{base}/analyses/site-check/upload",
                                             pdf_url=f"{base}/analyses/site-check.pdf")), name="gm_workspace")
