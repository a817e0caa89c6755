"""Offline-first browser assets: Leaflet and its plugins come from the service, never from a CDN.

Third-party files are installed at build time from npm (``maps/package.json`` and ``package-lock.json``;
``npm ci`` in ``maps/`` is run by ``scripts/setup.sh`` and the Dockerfile) into ``maps/node_modules``; our own
stylesheet and script live in ``maps/static``. A page links them in one of two ways:

* ``link``: ``<script src>``/``<link href>`` under the service's static mount (``/static/...``), cacheable;
* ``inline``: the files' text embedded in the page, with Leaflet's images as ``data:`` URIs, so a standalone
  export works from disk (``file://``) with no server and no network.

folium's default template pulls jQuery, Bootstrap, Font Awesome and awesome-markers from CDNs; ``localise``
strips every such link from a figure (refusing one it does not know) and puts our assets in its place, and
``assert_offline`` checks the final HTML: no script, stylesheet, image or import may point off the page.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from branca.element import Element, Figure
from folium.elements import JSCSSMixin

from maps.errors import MapAssetsMissing, OfflineAssetError

AssetMode = Literal["link", "inline"]

PACKAGE_DIR = Path(__file__).resolve().parent
OWN_DIR = PACKAGE_DIR / "static"
ASSETS_DIR_ENV = "GEO_SERVICE_MAP_ASSETS_DIR"  # another node_modules folder (e.g. a shared build cache)


@dataclass(frozen=True)
class Asset:
    """One file a page may need: its path under the static mount and where it is installed."""

    url_path: str  # e.g. "vendor/leaflet/leaflet.js"
    package: str | None  # npm package it comes from; None for our own files in maps/static
    source: str  # path inside the package (or inside maps/static)


_LEAFLET_IMAGES = ("layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")

ASSETS: dict[str, Asset] = {
    a.url_path: a
    for a in (
        Asset("vendor/leaflet/leaflet.js", "leaflet", "dist/leaflet.js"),
        Asset("vendor/leaflet/leaflet.css", "leaflet", "dist/leaflet.css"),
        *(Asset(f"vendor/leaflet/images/{name}", "leaflet", f"dist/images/{name}") for name in _LEAFLET_IMAGES),
        Asset("vendor/leaflet.vectorgrid/leaflet.vectorgrid.js", "leaflet.vectorgrid",
              "dist/Leaflet.VectorGrid.bundled.min.js"),
        Asset("vendor/leaflet-geoman/leaflet-geoman.js", "@geoman-io/leaflet-geoman-free", "dist/leaflet-geoman.min.js"),
        Asset("vendor/leaflet-geoman/leaflet-geoman.css", "@geoman-io/leaflet-geoman-free",
              "dist/leaflet-geoman.css"),
        *(Asset(f"vendor/swagger-ui/{name}", "swagger-ui-dist", name)  # /docs
          for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")),
        Asset("vendor/redoc/redoc.standalone.js", "redoc", "bundles/redoc.standalone.js"),  # /redoc
        Asset("geo-maps.css", None, "geo-maps.css"),
        Asset("geo-maps.js", None, "geo-maps.js"),
        Asset("programme.css", None, "programme.css"),
        Asset("factsheet.css", None, "factsheet.css"),
        Asset("investor-workspace.css", None, "investor-workspace.css"),
        Asset("investor-workspace.js", None, "investor-workspace.js"),
        Asset("geo-planner.js", None, "geo-planner.js"),
        Asset("site-report.css", None, "site-report.css"),
    )
}
"""Every file the static mount serves, by URL path (nothing else under it is reachable)."""

PAGE_CSS = ("vendor/leaflet/leaflet.css", "geo-maps.css")
PAGE_JS = ("vendor/leaflet/leaflet.js", "vendor/leaflet.vectorgrid/leaflet.vectorgrid.js", "geo-maps.js")
WORKSPACE_CSS = ("vendor/leaflet-geoman/leaflet-geoman.css", "site-report.css")
WORKSPACE_JS = ("vendor/leaflet-geoman/leaflet-geoman.js", "geo-planner.js")
"""The planner workspace's extras (drawing, site report); only on served pages, never in a standalone export."""

# folium's and its plugins' CDN links that the pages replace with the files above or do not need at all
# (jQuery, Bootstrap, glyphicons, Font Awesome and awesome-markers: the maps use none of them).
REPLACED_CDN_NAMES = frozenset({
    "leaflet", "leaflet_css", "jquery", "bootstrap", "bootstrap_css", "glyphicons_css", "awesome_markers",
    "awesome_markers_css", "awesome_markers_font_css", "awesome_rotate_css", "vectorGrid",
})


def node_modules_dir() -> Path:
    """Where the npm packages are installed: ``$GEO_SERVICE_MAP_ASSETS_DIR`` or ``maps/node_modules``."""
    override = os.environ.get(ASSETS_DIR_ENV)
    return Path(override) if override else PACKAGE_DIR / "node_modules"


def asset_path(url_path: str) -> Path:
    """The installed file behind a static URL path; ``KeyError`` for a path that is not an asset."""
    asset = ASSETS[url_path]
    if asset.package is None:
        return OWN_DIR / asset.source
    return node_modules_dir() / asset.package / asset.source


def check_assets() -> None:
    """Raise ``MapAssetsMissing`` naming the missing files and the fix, if any asset is not installed."""
    missing = [p for p in ASSETS if not asset_path(p).is_file()]
    if missing:
        raise MapAssetsMissing(
            f"map assets are not installed ({', '.join(missing[:3])}{' …' if len(missing) > 3 else ''} missing "
            f"under {node_modules_dir()}): run `npm ci` in maps/ (bash scripts/setup.sh does it)")


def media_type(url_path: str) -> str:
    """Content type of an asset."""
    if url_path.endswith(".js"):
        return "text/javascript; charset=utf-8"
    if url_path.endswith(".css"):
        return "text/css; charset=utf-8"
    return mimetypes.guess_type(url_path)[0] or "application/octet-stream"


OFFLINE_PATCHES: dict[str, tuple[tuple[bytes, bytes], ...]] = {
    # ReDoc's sidebar shows its maker's logo from a CDN (unconditionally): an empty image instead, which
    # ReDoc's own onError handler then leaves out
    "vendor/redoc/redoc.standalone.js": ((b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"data:,"),),
}
"""Third-party files that would reach the network as shipped, and the bytes that keep them offline."""


def read_asset(url_path: str) -> bytes:
    """The bytes of an asset (``KeyError`` if unknown, ``MapAssetsMissing`` if not installed)."""
    path = asset_path(url_path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        check_assets()
        raise
    for old, new in OFFLINE_PATCHES.get(url_path, ()):
        data = data.replace(old, new)
    return data


_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")


@lru_cache(maxsize=8)
def _inline_text(url_path: str, mtime_ns: int) -> str:
    text = read_asset(url_path).decode("utf-8")
    if url_path.endswith(".js"):
        # No source-map comment (a browser with devtools would fetch it) and no "</script" inside a script.
        return _SOURCE_MAP.sub("", text).replace("</script", "<\\/script")
    base = url_path.rsplit("/", 1)[0]

    def data_uri(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "#")):
            return match.group(0)
        target = f"{base}/{ref}" if "/" in url_path else ref
        encoded = base64.b64encode(read_asset(target)).decode("ascii")
        return f"url(data:{media_type(target)};base64,{encoded})"

    return _CSS_URL.sub(data_uri, text).replace("</style", "<\\/style")


def inline_text(url_path: str) -> str:
    """An asset's text ready to embed: JS without source-map comments, CSS with images as data: URIs."""
    return _inline_text(url_path, asset_path(url_path).stat().st_mtime_ns)


def head_html(mode: AssetMode, static_url: str = "/static", *, extra_css: tuple[str, ...] = (),
              extra_js: tuple[str, ...] = ()) -> str:
    """The ``<head>`` part that loads Leaflet, Leaflet.VectorGrid and our own stylesheet and script
    (plus ``extra_css``/``extra_js`` assets, linked or inlined like the others).

    It also declares an empty favicon, so a browser does not ask the server (or the disk) for one.
    """
    check_assets()
    icon = '<link rel="icon" href="data:,"/>\n'
    if mode == "inline":
        css = "".join(f"<style>/* {p} */\n{inline_text(p)}</style>\n" for p in (*PAGE_CSS, *extra_css))
        js = "".join(f"<script>/* {p} */\n{inline_text(p)}</script>\n" for p in (*PAGE_JS, *extra_js))
        return icon + css + js
    base = static_url.rstrip("/")
    css = "".join(f'<link rel="stylesheet" href="{base}/{p}"/>\n' for p in (*PAGE_CSS, *extra_css))
    js = "".join(f'<script src="{base}/{p}"></script>\n' for p in (*PAGE_JS, *extra_js))
    return icon + css + js


def _walk(element: Element) -> list[Element]:
    out = [element]
    for child in list(element._children.values()):
        out.extend(_walk(child))
    return out


def localise(figure: Figure, mode: AssetMode, static_url: str = "/static", *, extra_css: tuple[str, ...] = (),
             extra_js: tuple[str, ...] = ()) -> None:
    """Replace every CDN link of the figure's elements with our own assets (``head_html``).

    Raises ``OfflineAssetError`` for a CDN resource we neither ship nor know to be unneeded, so a new
    plugin cannot quietly make the maps depend on the network.
    """
    for element in _walk(figure):
        if not isinstance(element, JSCSSMixin):
            continue
        for name, url in [*element.default_js, *element.default_css]:
            if name not in REPLACED_CDN_NAMES:
                raise OfflineAssetError(
                    f"{type(element).__name__} wants {name!r} from {url}; ship it in maps/package.json and "
                    "maps.assets.ASSETS first (the maps never load from a CDN)")
        element.default_js = []  # instance attributes: folium's class-level lists stay untouched
        element.default_css = []
    figure.header.add_child(Element(head_html(mode, static_url, extra_css=extra_css, extra_js=extra_js)),
                            name="geo_maps_assets", index=1)


_EXTERNAL = re.compile(
    r"""(?:<script[^>]+\bsrc\s*=\s*["']?|<link[^>]+\bhref\s*=\s*["']?|<img[^>]+\bsrc\s*=\s*["']?"""
    r"""|@import\s+(?:url\()?["']?|url\(\s*["']?)(?:https?:)?//""",
    re.IGNORECASE,
)


def assert_offline(html: str) -> None:
    """Raise ``OfflineAssetError`` if the page loads a script, stylesheet, image or CSS import from the network."""
    match = _EXTERNAL.search(html)
    if match:
        start = max(0, match.start() - 40)
        raise OfflineAssetError(f"the page would load from the network: …{html[start:match.end() + 60]}…")
