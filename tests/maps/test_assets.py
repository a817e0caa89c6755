"""Offline-first assets: installed from npm, served or inlined, and no CDN link ever reaches a page."""

from __future__ import annotations

import folium
import pytest
from folium.plugins import Fullscreen

from maps import assets
from maps.errors import MapAssetsMissing, OfflineAssetError
from maps.page import PageOptions, new_map, render_page


def test_every_asset_is_installed() -> None:
    assets.check_assets()  # npm ci in maps/ (scripts/setup.sh) put them there
    for url_path in assets.ASSETS:
        assert assets.asset_path(url_path).stat().st_size > 0, url_path


def test_missing_assets_name_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(assets.ASSETS_DIR_ENV, str(tmp_path))
    with pytest.raises(MapAssetsMissing, match=r"npm ci"):
        assets.check_assets()


def test_linked_page_loads_only_our_static_files() -> None:
    options = PageOptions(basemap_url=None)
    page = render_page(new_map((530_000, 6_600_000, 540_000, 6_610_000), options), options)
    for cdn in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn", "unpkg", "https://", "http://"):
        assert cdn not in page
    for url_path in (*assets.PAGE_CSS, *assets.PAGE_JS):
        assert f"/static/{url_path}" in page


def test_inline_page_embeds_scripts_and_images() -> None:
    options = PageOptions(assets="inline", tiles_url=None, basemap_url=None)
    page = render_page(new_map((530_000, 6_600_000, 540_000, 6_610_000), options), options)
    assert "<script src" not in page and 'rel="stylesheet"' not in page
    assert "url(data:image/png;base64," in page  # Leaflet's layer-control icon
    assert "url(images/" not in page and "sourceMappingURL" not in page
    assert "L.vectorGrid" in page and "GeoMaps" in page


def test_basemap_is_configuration() -> None:
    url = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"
    page = render_page(new_map((530_000, 6_600_000, 540_000, 6_610_000), PageOptions(basemap_url=url)),
                       PageOptions(basemap_url=url))
    assert url in page
    bare = render_page(new_map((530_000, 6_600_000, 540_000, 6_610_000), PageOptions(basemap_url="")),
                       PageOptions(basemap_url=""))
    assert "L.tileLayer" not in bare


def test_an_unknown_cdn_plugin_is_refused() -> None:
    options = PageOptions(basemap_url=None)
    m = new_map((530_000, 6_600_000, 540_000, 6_610_000), options)
    Fullscreen().add_to(m)  # wants leaflet.fullscreen from a CDN, which we do not ship
    with pytest.raises(OfflineAssetError, match="Fullscreen"):
        render_page(m, options)


@pytest.mark.parametrize("html", [
    '<script src="https://cdn.example.org/x.js"></script>',
    '<link rel="stylesheet" href="//cdn.example.org/x.css">',
    "<style>@import url('https://fonts.example.org/a.css');</style>",
    "<style>.a{background:url(http://example.org/a.png)}</style>",
])
def test_assert_offline_catches_network_loads(html: str) -> None:
    with pytest.raises(OfflineAssetError):
        assets.assert_offline(html)


def test_assert_offline_allows_same_origin_and_data() -> None:
    assets.assert_offline('<script src="/static/geo-maps.js"></script><style>.a{background:url(data:,)}</style>')


def test_folium_class_defaults_are_untouched() -> None:
    before = list(folium.Map.default_js)
    options = PageOptions(basemap_url=None)
    render_page(new_map((530_000, 6_600_000, 540_000, 6_610_000), options), options)
    assert folium.Map.default_js == before  # we strip per instance, never folium's shared lists
