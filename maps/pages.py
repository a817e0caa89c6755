"""Map pages by name, a cache of rendered pages, and the standalone export.

A rendered page depends on the layers' current versions, the rules, the language and the page options;
``PageCache`` keeps the last few so the planner map (buffers of thousands of features) is built once per
publish, not once per request. The export renders with every asset inline and no tile layers, so the file
works from disk with no server and no network (a basemap URL, if given, is the only request it makes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

from constraints.rules import RuleSet
from layers.store import LayerRecord, Store
from maps.errors import MapError, UnknownMap
from maps.i18n import Lang
from maps.investor import investor_map
from maps.investor_workspace import WORKSPACE_CSS, WORKSPACE_JS
from maps.page import PageOptions, render_page, with_nonce
from maps.planner import planner_map
from maps.preview import INLINE_LIMIT, preview_map

MAP_NAMES = ("investor", "planner")


def build_page(store: Store, name: str, options: PageOptions, rules: RuleSet) -> str:
    """Render the ``investor`` or ``planner`` map as HTML."""
    if name == "investor":
        m = investor_map(store, options)
        if getattr(m, "investor_workspace", False):
            return render_page(m, options, extra_css=WORKSPACE_CSS, extra_js=WORKSPACE_JS)
        return render_page(m, options)
    if name == "planner":
        return render_page(planner_map(store, rules, options), options, workspace=True)
    raise UnknownMap(f"no map named {name!r}; choose one of: {', '.join(MAP_NAMES)}")


def build_preview(store: Store, record: LayerRecord, options: PageOptions, inline_limit: int = INLINE_LIMIT) -> str:
    """Render the preview of one collection as HTML."""
    return render_page(preview_map(store, record, options, inline_limit), options)


@dataclass(frozen=True)
class ExportReport:
    """What ``export_page`` wrote."""

    path: Path
    name: str
    lang: Lang
    size_bytes: int


def export_page(store: Store, name: str, path: Path, rules: RuleSet, *, lang: Lang = "nb",
                basemap_url: str | None = None, basemap_attribution: str = "") -> ExportReport:
    """Write a standalone HTML file of a map (assets inline, no vector tiles); works opened from disk."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise MapError(f"{path}: the export is an HTML page; name the file *.html")
    if not path.parent.exists():
        raise MapError(f"{path.parent}: no such folder; create it or choose another output path")
    options = PageOptions(lang=lang, assets="inline", tiles_url=None, basemap_url=basemap_url or None,
                          basemap_attribution=basemap_attribution)
    page = with_nonce(build_page(store, name, options, rules), None)  # a file on disk has no CSP
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file
    return ExportReport(path, name, lang, len(page.encode("utf-8")))


class PageCache:
    """A small thread-safe LRU of rendered pages; concurrent requests for the same key build it once."""

    def __init__(self, max_entries: int = 24) -> None:
        self.max_entries = max_entries
        self._pages: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, build: Callable[[], str]) -> str:
        """The cached page for ``key``, or ``build()`` it (once, even under concurrent requests)."""
        with self._lock:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._pages:
                    return self._pages[key]
            page = build()
            with self._lock:
                self._pages[key] = page
                self._pages.move_to_end(key)
                while len(self._pages) > self.max_entries:
                    self._pages.popitem(last=False)
                self._building.pop(key, None)
            return page

    def clear(self) -> None:
        """Forget every page."""
        with self._lock:
            self._pages.clear()
