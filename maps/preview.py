"""Layer preview: any collection on a map, so GIS staff can eyeball a freshly loaded layer.

Up to ``inline_limit`` features travel inline as GeoJSON (every attribute in the popup); larger layers
are drawn from the service's vector tiles (attributes from the tile in the popup). Zoning is coloured
with the official arealformål colours, everything else with one colour per layer kind.
"""

from __future__ import annotations

import folium

from layers.store import LayerRecord, Store
from maps.elements import GeoJsonLayer, VectorTileLayer
from maps.geodata import feature_collection, records
from maps.i18n import format_number, t
from maps.page import PageOptions, decorate, is_synthetic, new_map
from maps.styles import Legend, LegendEntry, preview_style, zoning_colours

INLINE_LIMIT = 5_000
MAX_POPUP_FIELDS = 40


def _zoning_style_by(record: LayerRecord, base: dict) -> tuple[str, dict[str, dict]] | None:
    if "arealformal" not in record.current.fields:
        return None
    return "arealformal", {code: base | {"fillColor": colour, "color": colour}
                           for code, colour in zoning_colours().items()}


def preview_map(store: Store, record: LayerRecord, options: PageOptions, inline_limit: int = INLINE_LIMIT) -> folium.Map:
    """A map of one collection's current version (see the module docstring)."""
    lang = options.lang
    version = record.current
    bounds = version.bbox if all(abs(v) < 1e12 for v in version.bbox) else None
    m = new_map(bounds or (415_935.0, 6_585_656.0, 560_058.0, 6_708_484.0), options)
    style = preview_style(record.kind.value, version.geometry_type)
    style_by = _zoning_style_by(record, style)
    fields = list(version.fields)[:MAX_POPUP_FIELDS]
    name = f"{record.title or record.id} (v{version.version})"
    if version.feature_count <= inline_limit or options.standalone:
        frame = store.read_frame(version)
        m.add_child(GeoJsonLayer("layer", name,
                                 feature_collection(frame.geometry.values, records(frame, fields),
                                                    ids=frame.index.tolist()),
                                 style=style, style_by=style_by, popup="properties"))
    else:
        url = (f"{options.tiles_url}/collections/{record.id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
               f"?properties={','.join(fields)}")
        m.add_child(VectorTileLayer("layer", name, url, record.id, style=style, style_by=style_by,
                                    popup="properties", attribution=record.attribution))
    count = format_number(version.feature_count, 0, lang)
    legend = Legend(record.title or record.id,
                    (LegendEntry(f"{t('layer.features', lang)}: {count}", style.get("fillColor", style.get("color")),
                                 "circle" if "Point" in version.geometry_type
                                 else "line" if "Line" in version.geometry_type else "fill"),),
                    notes=tuple(n for n in (record.attribution,) if n))
    notes = [t("synthetic", lang)] if is_synthetic([record]) else []
    decorate(m, options, title=f"{t('preview.title', lang)}: {record.id}",
             subtitle=f"{record.title} · {record.kind.value} · v{version.version} · {count} {version.geometry_type}",
             legends=[legend], notes=notes)
    return m
