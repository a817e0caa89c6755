"""folium elements of our maps: layers backed by ``geo-maps.js``, the title card, legend and readiness hook.

Each element renders a few lines of JavaScript that call ``GeoMaps`` (``maps/static/geo-maps.js``); data
goes in as JSON text produced by ``maps.geodata`` so thousands of features cost one ``json`` encode.
"""

from __future__ import annotations

import html
import json
from typing import Any

from branca.element import Element, Figure, MacroElement
from folium.map import Layer, LayerControl
from folium.template import Template

from maps.styles import Legend, LegendEntry


def _js(value: Any) -> str:
    """JSON for a script: no ``<`` at all, so user text can neither end the script nor open a tag."""
    return script_safe(json.dumps(value, ensure_ascii=False))


def script_safe(json_text: str) -> str:
    """JSON text made safe inside ``<script>``: ``<``, ``>``, ``&`` and the JS line separators as escapes.

    Inside JSON these characters can only occur in strings, where ``\\u003c`` means the same character.
    """
    return (json_text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


class GeoJsonLayer(Layer):
    """Inline GeoJSON drawn by ``GeoMaps.geojson``: a style (or one style per value of a property), a popup
    renderer (``site``, ``risk``, ``zone``, ``properties``), permanent labels; its feature count is
    published in ``GeoMaps.state.layers[key]``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoMaps.geojson({{ this.key_js }}, {{ this.data }}, {{ this.opts_js }});
        {% endmacro %}
    """)

    def __init__(self, key: str, name: str, data: str, *, style: dict[str, Any] | None = None,
                 style_by: tuple[str, dict[str, dict[str, Any]]] | None = None, popup: str | None = None,
                 label: str | None = None, tooltip: str | None = None, points_below_zoom: float | None = None,
                 detail: tuple[float, dict[str, Any]] | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GeoJsonLayer"
        self.key_js = _js(key)
        self.data = script_safe(data)
        self.opts_js = _js(layer_options(style, style_by, popup, label, tooltip, points_below_zoom, detail))


def layer_options(style: dict[str, Any] | None, style_by: tuple[str, dict[str, dict[str, Any]]] | None,
                  popup: str | None, label: str | None, tooltip: str | None, points_below_zoom: float | None,
                  detail: tuple[float, dict[str, Any]] | None) -> dict[str, Any]:
    """The options ``GeoMaps.geojson`` takes: style (or one per value of a property), popup renderer, labels,
    dots below a zoom, and ``detail``: another style from a zoom on."""
    opts: dict[str, Any] = {"style": style or {}}
    if style_by is not None:
        opts["styleBy"] = {"property": style_by[0], "styles": style_by[1]}
    if popup:
        opts["popup"] = popup
    if label:
        opts["label"] = label
    if tooltip:
        opts["tooltip"] = tooltip
    if points_below_zoom is not None:
        opts["points"] = {"belowZoom": points_below_zoom, "radius": 5}
    if detail is not None:
        opts["detail"] = {"minZoom": detail[0], "style": detail[1]}
    return opts


class RemoteGeoJsonLayer(Layer):
    """GeoJSON fetched from the service when the layer is first shown (``GeoMaps.remote``): the page stays a
    light shell and draws it after the first paint. ``part`` picks one collection of a document holding several
    (one request for the four risk classes). The page is ready only when every shown layer has been drawn.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoMaps.remote({{ this.key_js }}, {{ this.url_js }}, {{ this.part_js }},
            {{ this.opts_js }});
        {% endmacro %}
    """)

    def __init__(self, key: str, name: str, url: str, *, part: str | None = None,
                 style: dict[str, Any] | None = None, popup: str | None = None,
                 detail: tuple[float, dict[str, Any]] | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RemoteGeoJsonLayer"
        self.key_js = _js(key)
        self.url_js = _js(url)
        self.part_js = _js(part)
        self.opts_js = _js(layer_options(style, None, popup, None, None, None, detail))


class VectorTileLayer(Layer):
    """A collection's vector tiles (Leaflet.VectorGrid, canvas) with click popups; tile and feature counts and
    loading state are published in ``GeoMaps.state.layers[key]``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = GeoMaps.vectorTiles({{ this.key_js }}, {{ this.url_js }},
            {{ this.layer_js }}, {{ this.opts_js }});
        {% endmacro %}
    """)

    def __init__(self, key: str, name: str, url: str, layer_name: str, *, style: dict[str, Any],
                 style_by: tuple[str, dict[str, dict[str, Any]]] | None = None,
                 only: tuple[str, list[Any]] | None = None, popup: str = "properties", show: bool = True,
                 attribution: str = "") -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "VectorTileLayer"
        self.key_js = _js(key)
        self.url_js = _js(url)
        self.layer_js = _js(layer_name)
        # Leaflet puts attributions into the page as HTML: the layer's (user-given) text is escaped first
        opts: dict[str, Any] = {"style": style, "popup": popup, "attribution": html.escape(attribution)}
        if style_by is not None:
            opts["styleBy"] = {"property": style_by[0], "styles": style_by[1]}
        if only is not None:
            opts["only"] = {"property": only[0], "values": list(only[1])}
        self.opts_js = _js(opts)


class SafeLayerControl(LayerControl):
    """folium's layer control with every layer name HTML-escaped (Leaflet shows a name as HTML)."""

    def render(self, **kwargs: Any) -> None:
        """Collect the map's layers under escaped names and render (folium's ``render`` minus raw names)."""
        self.reset()
        for item in self._parent._children.values():
            if not isinstance(item, Layer) or not item.control:
                continue
            target = self.overlays if item.overlay else self.base_layers
            target[html.escape(item.layer_name)] = item.get_name()
        MacroElement.render(self, **kwargs)


class PageContext(MacroElement):
    """``GeoMaps.init``: page language, translated labels and rule texts for the popups (in ``<head>``)."""

    _template = Template("""
        {% macro header(this, kwargs) %}
        <script>GeoMaps.init({{ this.context_js }});</script>
        {% endmacro %}
    """)

    def __init__(self, context: dict[str, Any]) -> None:
        super().__init__()
        self._name = "PageContext"
        self.context_js = _js(context)


class TitleCard(MacroElement):
    """The heading over the map: title, subtitle, a language link, a synthetic-data note and banners."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div class="gm-card" id="gm-card">{{ this.inner }}</div>
        {% endmacro %}
    """)

    def __init__(self, title: str, subtitle: str = "", *, lang_link: tuple[str, str] | None = None,
                 notes: list[str] | None = None, banners: list[str] | None = None) -> None:
        super().__init__()
        self._name = "TitleCard"
        parts = []
        if lang_link is not None:
            href, text = lang_link
            parts.append(f'<a class="gm-lang" id="gm-lang" href="{html.escape(href)}">{html.escape(text)}</a>')
        parts.append(f"<h1>{html.escape(title)}</h1>")
        if subtitle:
            parts.append(f"<p>{html.escape(subtitle)}</p>")
        for note in notes or []:
            parts.append(f'<p class="gm-synthetic">{html.escape(note)}</p>')
        for banner in banners or []:
            parts.append(f'<div class="gm-banner" role="alert">{html.escape(banner)}</div>')
        self.inner = "".join(parts)


def _rgba(colour: str, alpha: float) -> str:
    c = colour.lstrip("#")
    if len(c) != 6:
        return colour
    return f"rgba({int(c[0:2], 16)}, {int(c[2:4], 16)}, {int(c[4:6], 16)}, {alpha:g})"


def swatch_css(entry: LegendEntry) -> str:
    """A legend swatch drawn like its layer: the fill colour at the fill opacity, the outline colour (the page's
    script keeps it in step when the style changes with the zoom)."""
    style = entry.style or {}
    if entry.shape in ("line", "dashed"):
        return f"border-color:{style.get('color', entry.colour)}"
    fill = style.get("fillColor", entry.colour)
    alpha = float(style.get("fillOpacity", 1.0)) if style.get("fill", True) is not False else 0.0
    return f"background-color:{_rgba(fill, alpha)};border-color:{style.get('color', entry.colour)}"


def legend_html(legends: list[Legend]) -> str:
    """The legend box's inner HTML (escaped) from legend data."""
    out = []
    for legend in legends:
        out.append(f'<div class="gm-legend-box"><h4>{html.escape(legend.title)}</h4><div>')
        for e in legend.entries:
            shape = {"fill": "", "line": " gm-line", "dashed": " gm-dashed", "circle": " gm-circle"}[e.shape]
            swatch = f'<span class="gm-swatch{shape}" style="{html.escape(swatch_css(e))}"></span>'
            count = f' <span class="gm-count">({html.escape(str(e.count))})</span>' if e.count is not None else ""
            layer = f' data-layer="{html.escape(e.layer)}"' if e.layer else ""
            out.append(f'<div class="gm-entry"{layer}>{swatch}{html.escape(e.label)}{count}</div>')
        out.append("</div>")
        for note in legend.notes:
            out.append(f'<div class="gm-note">{html.escape(note)}</div>')
        out.append("</div>")
    return "".join(out)


class LegendControl(MacroElement):
    """A Leaflet control (bottom right) holding the legend."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: 'bottomright'});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'gm-legend');
                div.id = 'gm-legend';
                div.innerHTML = {{ this.inner_js }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        }());
        {% endmacro %}
    """)

    def __init__(self, legends: list[Legend]) -> None:
        super().__init__()
        self._name = "LegendControl"
        self.inner_js = _js(legend_html(legends))


class ReadyHook(MacroElement):
    """The last line of the page script: ``GeoMaps.finish(map)`` (marks the first full render)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        GeoMaps.finish({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "ReadyHook"


def add_to_header(figure: Figure, element: Element, name: str) -> None:
    """Put an element in the page ``<head>`` under a stable name."""
    figure.header.add_child(element, name=name)


