"""Interactive maps (folium / Leaflet) and the static assets they load, all served by the service itself.

``/maps/investor`` and ``/maps/planner`` (``?lang=en`` for English), ``/collections/{id}/map`` (layer
preview) and ``/static/...`` (Leaflet, Leaflet.VectorGrid, our stylesheet and script; nothing from a CDN).
Pages are cached per layer versions, rules, language and settings, so a publish makes the next request
rebuild exactly once.
"""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from constraints.rules import RuleSet
from geo_service.dependencies import LayerDep, SettingsDep, StoreDep
from geo_service.middleware import csp_nonce
from geo_service.settings import Settings
from layers.store import Store
from maps.assets import ASSETS, media_type, read_asset
from maps.i18n import LANGS, Lang, parse_lang
from maps.page import PageOptions, versions_key, with_nonce
from maps.pages import PageCache, build_page, build_preview
from maps.planner_data import RISK_GROUP, gzip_bytes, planner_data, warm

router = APIRouter(tags=["Maps"])

LangQuery = Annotated[str | None, Query(description="page language: nb (bokmål, default) or en")]
HTML_CACHE_CONTROL = "no-cache"  # pages change with every publish; the assets below do not
ASSET_CACHE_CONTROL = "public, max-age=86400"


def _cache(request: Request) -> PageCache:
    return request.app.state.map_pages  # made in the lifespan


def _rules(request: Request) -> RuleSet:
    return request.app.state.analysis.rules()


def _options(request: Request, settings: SettingsDep, lang: Lang) -> PageOptions:
    """Page options from the settings and the parameters that change the page, nothing else.

    The options are part of the page cache key, so they hold only what changes the page: the language
    (``?x=1`` and other unknown parameters neither change the page nor make a new cache entry). Links are
    relative to the page (same origin), never built from the Host header.
    """
    root = request.scope.get("root_path", "").rstrip("/")  # same origin: the page loads nothing from elsewhere
    return page_options(settings, lang, root, request.url.path)


def page_options(settings: Settings, lang: Lang, root: str, path: str) -> PageOptions:
    """The options of a served page at ``root`` + ``path`` (see :func:`_options`)."""
    other = "nb" if lang == "en" else "en"
    return PageOptions(lang=lang, assets="link", static_url=f"{root}/static", tiles_url=root,
                       basemap_url=settings.basemap_url or None, basemap_attribution=settings.basemap_attribution,
                       lang_switch_url=f"{root}{path}?{urlencode({'lang': other})}")


def _planner_key(store: Store, rules: RuleSet, options: PageOptions) -> tuple[Any, ...]:
    return ("planner", versions_key(store), rules.hash(), options)


def warm_planner(app: FastAPI) -> None:
    """Build the planner's data and its page in both languages for the current versions (in the caller's
    thread: the start-up warm-up thread or the refresh loop), so no visitor waits for them."""
    store, settings = app.state.store, app.state.settings
    rules = app.state.analysis.rules()
    data = planner_data(store, rules)
    if data.computed:
        data.gzipped(RISK_GROUP, gzip_bytes)
    for lang in LANGS:
        options = page_options(settings, lang, "", "/maps/planner")
        app.state.map_pages.get(_planner_key(store, rules, options),
                                lambda o=options: build_page(store, "planner", o, rules))
    data.zones()  # last: only a layer switched on needs them


def start_warming(app: FastAPI) -> None:
    """Warm the planner map in the background (when ``warm_maps`` is on)."""
    if app.state.settings.warm_maps:
        warm(app.state.store, app.state.analysis.rules, then=lambda: warm_planner(app))


def _page(request: Request, page: str, lang: str | None = None) -> HTMLResponse:
    """A cached page with this response's CSP nonce on its scripts; with ``lang``, a banner when the derived
    results it shows are behind their inputs (a refresh pending or failed: the last good results are shown)."""
    if lang is not None:
        page = with_analysis_banner(page, request.app.state.analysis.status().text(lang))
    return HTMLResponse(with_nonce(page, csp_nonce(request)), headers={"Cache-Control": HTML_CACHE_CONTROL})


def with_analysis_banner(page: str, text: str) -> str:
    """``page`` with ``text`` (escaped) as a banner at the top of the body; unchanged when ``text`` is empty."""
    if not text:
        return page
    banner = ('<div id="analysis-behind" role="alert" style="position:fixed;z-index:2000;top:0;left:50%;'
              'transform:translateX(-50%);background:#fff3cd;border:1px solid #d4a017;padding:6px 12px;'
              f'font:13px sans-serif;max-width:70%">{html.escape(text)}</div>')
    head, sep, rest = page.partition("<body>")
    return head + sep + banner + rest if sep else banner + page


@router.get("/maps/investor", response_class=HTMLResponse, summary="Business areas map for investors")
def investor(request: Request, store: StoreDep, settings: SettingsDep, lang: LangQuery = None) -> HTMLResponse:
    """Pre-approved business areas and land reserves with area, zoning, status and distances (bokmål; ``?lang=en``)."""
    options = _options(request, settings, parse_lang(lang))
    key = ("investor", versions_key(store), options)
    return _page(request, _cache(request).get(key, lambda: build_page(store, "investor", options, _rules(request))),
                 options.lang)


@router.get("/maps/planner", response_class=HTMLResponse, summary="Objection-risk map for planners")
def planner(request: Request, store: StoreDep, settings: SettingsDep, lang: LangQuery = None) -> HTMLResponse:
    """Objection risk per zoning area, constraint zones and findings with authority and legal basis."""
    options = _options(request, settings, parse_lang(lang))
    rules = _rules(request)
    key = _planner_key(store, rules, options)
    return _page(request, _cache(request).get(key, lambda: build_page(store, "planner", options, rules)), options.lang)


DATA_CACHE_CONTROL = "public, max-age=31536000, immutable"  # the URL names the data version


@router.get("/maps/planner/data/{group}", summary="A layer of the planner map (compact GeoJSON)")
def planner_layer(request: Request, group: str, store: StoreDep,
                  v: Annotated[str | None, Query(description="the data version the page names")] = None) -> Response:
    """The planner map's heavy layers, fetched by the page after its first paint: ``risk`` (the four risk classes,
    ``{"risk-RED": FeatureCollection, …}``), ``zone-<rule>`` (a rule's constraint zone per municipality) and
    ``features-<rule>`` (heritage sites as points). CRS84, 6 decimals; gzip when the client accepts it. With
    the current ``v`` the answer may be cached for good (a publish changes ``v``)."""
    data = planner_data(store, _rules(request))
    body = data.group(group)
    if body is None:
        names = ", ".join(data.group_names()) or "none (the objection risk has not been computed)"
        raise StarletteHTTPException(404, f"no planner layer {group!r}; choose one of: {names}")
    headers = {"Cache-Control": DATA_CACHE_CONTROL if v == data.token else "no-cache", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = data.gzipped(group, gzip_bytes)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


@router.get("/collections/{collectionId}/map", response_class=HTMLResponse, summary="Preview a collection on a map")
def collection_map(request: Request, layer: LayerDep, store: StoreDep, settings: SettingsDep,
                   lang: LangQuery = None) -> HTMLResponse:
    """The collection's current version on a map: inline GeoJSON when small, vector tiles when large."""
    options = _options(request, settings, parse_lang(lang))
    key = ("preview", layer.id, layer.current.version, settings.map_inline_limit, options)
    return _page(request, _cache(request).get(
        key, lambda: build_preview(store, layer, options, settings.map_inline_limit)))


@router.get("/static/{path:path}", include_in_schema=False)
def static_asset(path: str) -> Response:
    """Leaflet, its plugins and our own map script and stylesheet (only the listed files, nothing else)."""
    if path not in ASSETS:
        raise StarletteHTTPException(404, f"no static asset {path!r}")
    return Response(read_asset(path), media_type=media_type(path),
                    headers={"Cache-Control": ASSET_CACHE_CONTROL})
