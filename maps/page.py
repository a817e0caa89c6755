"""What every map page shares: options, the base map (basemap optional), reading layers, rendering offline.

A page is built as a folium ``Map`` and rendered by :func:`render_page`, which swaps folium's CDN links for
our own assets (``maps.assets``) and refuses HTML that would load anything from the network.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd

from layers.errors import LayerNotFound
from layers.kinds import LayerKind
from layers.store import LayerRecord, Store
from maps.assets import WORKSPACE_CSS, WORKSPACE_JS, AssetMode, assert_offline, localise
from maps.elements import LegendControl, PageContext, ReadyHook, SafeLayerControl, TitleCard
from maps.geodata import centre_latlon, leaflet_bounds
from maps.i18n import Lang, labels, t
from maps.styles import Legend

DEFAULT_BASEMAP_URL = "https://cache.kartverket.no/v1/wmts/1.0.0/topo/default/webmercator/{z}/{y}/{x}.png"
DEFAULT_BASEMAP_ATTRIBUTION = "© Kartverket"
REGION_EXTENT = (415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0)  # Kongsbergregionen, EPSG:25832 (DOMAIN.md)
SYNTHETIC_PREFIX = "SYNTETISKE DEMODATA"
_RAIL = re.compile(r"jernbane|railway|\brail\b|\bbane\b", re.IGNORECASE)


@dataclass(frozen=True)
class PageOptions:
    """How a page is rendered.

    ``tiles_url`` is the service's base URL for vector tiles (``""`` = same origin); ``None`` means the page
    must stand alone (export), so layers that need tiles are left out and the legend says so.
    ``basemap_url`` ``None`` or ``""`` draws no basemap: the page then makes no request at all.
    """

    lang: Lang = "nb"
    assets: AssetMode = "link"
    static_url: str = "/static"
    tiles_url: str | None = ""
    basemap_url: str | None = DEFAULT_BASEMAP_URL
    basemap_attribution: str = DEFAULT_BASEMAP_ATTRIBUTION
    lang_switch_url: str | None = None

    @property
    def standalone(self) -> bool:
        """True for an export that must work from disk (no server behind it)."""
        return self.tiles_url is None


def new_map(bounds: tuple[float, float, float, float], options: PageOptions) -> folium.Map:
    """A map fitted to working-CRS ``bounds``, with a scale bar, canvas rendering and the basemap if any."""
    m = folium.Map(location=centre_latlon(bounds), zoom_start=9, tiles=None, control_scale=True,
                   prefer_canvas=True, zoom_snap=0.25, fade_animation=False)  # tiles show when drawn
    if options.basemap_url:
        folium.TileLayer(options.basemap_url, attr=html.escape(options.basemap_attribution), name="Basemap",
                         max_zoom=19, max_native_zoom=18, overlay=False, control=False).add_to(m)
    m.fit_bounds(leaflet_bounds(bounds), padding=(12, 12))
    return m


def decorate(m: folium.Map, options: PageOptions, *, title: str, subtitle: str = "", legends: list[Legend],
             notes: list[str] | None = None, banners: list[str] | None = None,
             context: dict[str, Any] | None = None, label_prefixes: tuple[str, ...] = ()) -> None:
    """Add the title card, legend, layer control, context for ``GeoMaps`` and the readiness hook."""
    figure = m.get_root()
    figure.title = html.escape(title)
    lang_link = None
    if options.lang_switch_url is not None:
        lang_link = (options.lang_switch_url, t("lang.switch", options.lang))
    m.add_child(TitleCard(title, subtitle, lang_link=lang_link, notes=notes, banners=banners))
    ctx = {"lang": options.lang, "labels": labels(label_prefixes, options.lang), "rules": {}}
    ctx.update(context or {})
    m.add_child(PageContext(ctx))
    if legends:
        m.add_child(LegendControl(legends))
    SafeLayerControl(collapsed=True, position="topright").add_to(m)  # opens on hover or tap; never covers popups
    m.add_child(ReadyHook())


NONCE_PLACEHOLDER = "__GEO_SERVICE_CSP_NONCE__"
"""Stands for the Content-Security-Policy nonce in a rendered page; each response puts its own in."""
_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


def render_page(m: folium.Map, options: PageOptions, *, workspace: bool = False,
                extra_css: tuple[str, ...] = (), extra_js: tuple[str, ...] = ()) -> str:
    """The page as HTML with our own assets (linked or inline); raises if anything would load off the page.
    ``workspace`` adds the planner workspace's drawing tool and report styles (served pages only).

    Every ``<script>`` carries ``nonce="NONCE_PLACEHOLDER"``: the service swaps in the response's CSP nonce
    (``with_nonce``), an export drops it. ``extra_css``/``extra_js`` add other assets (e.g. the investor
    workspace), linked or inline. User text cannot forge a script tag: it is escaped everywhere.
    """
    figure = m.get_root()
    planner = workspace and not options.standalone
    localise(figure, options.assets, options.static_url, extra_css=(*(WORKSPACE_CSS if planner else ()), *extra_css),
             extra_js=(*(WORKSPACE_JS if planner else ()), *extra_js))
    page = figure.render()
    assert_offline(page)
    return _SCRIPT_TAG.sub(f'<script nonce="{NONCE_PLACEHOLDER}"', page)


def with_nonce(page: str, nonce: str | None) -> str:
    """A rendered page with its scripts allowed by ``nonce`` (``None``: the attribute removed)."""
    if nonce is None:
        return page.replace(f' nonce="{NONCE_PLACEHOLDER}"', "")
    return page.replace(NONCE_PLACEHOLDER, nonce)


def layers_of(store: Store, kind: LayerKind) -> list[LayerRecord]:
    """Published layers of one kind, by id."""
    return sorted((r for r in store.list_layers() if r.kind == kind), key=lambda r: r.id)


def read_optional(store: Store, layer_id: str) -> tuple[LayerRecord, gpd.GeoDataFrame] | None:
    """A layer and its current features, or ``None`` when it is not published."""
    try:
        record = store.get_layer(layer_id)
    except LayerNotFound:
        return None
    return record, store.read_frame(record.current)


def municipalities(store: Store) -> gpd.GeoDataFrame | None:
    """Every municipality layer's features as one frame (``None`` if there is none)."""
    frames = [store.read_frame(r.current) for r in layers_of(store, LayerKind.municipality)]
    if not frames:
        return None
    if len(frames) == 1:
        return frames[0]
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)


def railway_layers(store: Store) -> list[LayerRecord]:
    """Layers that hold railways: a road or other layer whose id or title says so."""
    return [r for r in store.list_layers() if r.kind in (LayerKind.road, LayerKind.other)
            and (_RAIL.search(r.id) or _RAIL.search(r.title))]


def region_bounds(store: Store, fallback: tuple[float, float, float, float] | None = None) -> tuple[float, ...]:
    """The extent to fit: the municipality layers' union, else ``fallback``, else Kongsbergregionen."""
    boxes = [r.current.bbox for r in layers_of(store, LayerKind.municipality)]
    if boxes:
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                max(b[3] for b in boxes))
    return fallback or REGION_EXTENT


def is_synthetic(records: list[LayerRecord]) -> bool:
    """Whether any of the layers is labelled as synthetic demo data."""
    return any(r.description.startswith(SYNTHETIC_PREFIX) for r in records)


def versions_key(store: Store) -> tuple[tuple[str, int], ...]:
    """Every layer's current version: a page built from them is valid until one changes."""
    return tuple(sorted(store.current_versions().items()))
