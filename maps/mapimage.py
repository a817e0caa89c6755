"""Server-side static map images (PNG) from the service's own layers: no basemap, no internet.

Used by printable reports (site check; investor fact sheets): a site and its surroundings drawn with
matplotlib in the working CRS (EPSG:25832, metres, so the scale bar is exact), with a scale bar, a north
arrow and a legend of what is drawn.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from layers.crs import WORKING_EPSG


@dataclass(frozen=True)
class MapLayer:
    """Geometries drawn in one style; ``label`` (if any) goes in the legend."""

    geoms: Sequence[BaseGeometry]
    facecolor: str = "none"
    edgecolor: str = "#333333"
    linewidth: float = 0.8
    alpha: float = 1.0
    hatch: str | None = None
    label: str | None = None
    markersize: float = 18.0


def nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10ⁿ m) of about a quarter of the span."""
    target = max(span_m / 4, 1.0)
    power = 10 ** math.floor(math.log10(target))
    return max(f * power for f in (1, 2, 5) if f * power <= target)


def map_png(layers: Sequence[MapLayer], extent: tuple[float, float, float, float], *,
            width_in: float = 7.0, height_in: float = 4.6, dpi: int = 110, decimal_comma: bool = True) -> bytes:
    """Draw ``layers`` (bottom first) over ``extent`` (working CRS) as a PNG with scale bar and north arrow."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
    xmin, ymin, xmax, ymax = extent
    handles = []
    for layer in layers:
        geoms = [g for g in layer.geoms if g is not None and not g.is_empty]
        if not geoms:
            continue
        series = gpd.GeoSeries(geoms, crs=WORKING_EPSG)
        kind = series.geom_type.str.replace("Multi", "")
        polys, lines, points = series[kind == "Polygon"], series[kind == "LineString"], series[kind == "Point"]
        if len(polys):
            polys.plot(ax=ax, facecolor=layer.facecolor, edgecolor=layer.edgecolor, linewidth=layer.linewidth,
                       alpha=layer.alpha, hatch=layer.hatch)
        if len(lines):
            lines.plot(ax=ax, color=layer.edgecolor, linewidth=layer.linewidth, alpha=layer.alpha)
        if len(points):
            points.plot(ax=ax, color=layer.facecolor if layer.facecolor != "none" else layer.edgecolor,
                        markersize=layer.markersize, edgecolor=layer.edgecolor, alpha=layer.alpha)
        if layer.label:
            handles.append(Patch(facecolor=layer.facecolor, edgecolor=layer.edgecolor, hatch=layer.hatch,
                                 alpha=layer.alpha, label=layer.label))
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_facecolor("#f4f6f2")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    # scale bar, bottom left
    length = nice_length(xmax - xmin)
    x0, y0 = xmin + (xmax - xmin) * 0.04, ymin + (ymax - ymin) * 0.05
    ax.plot([x0, x0 + length], [y0, y0], color="#000000", linewidth=3, solid_capstyle="butt")
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + (ymax - ymin) * 0.02, text.replace(".", ",") if decimal_comma else text,
            ha="center", va="bottom", fontsize=8)
    # north arrow, top left (the grid is EPSG:25832: north is up to within a degree in the region)
    ax.annotate("N", xy=(0.05, 0.95), xytext=(0.05, 0.83), xycoords="axes fraction", ha="center",
                va="center", fontsize=10, fontweight="bold",
                arrowprops={"arrowstyle": "-|>", "color": "#000000", "linewidth": 1.5})
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.92)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
