"""Charts of the programme indicators as SVG (matplotlib, rendered on the server: offline, the same picture on
the page and in the PDF). Text stays text in the SVG (``svg.fonttype: none``), so the numbers can be read,
searched and tested; every bar and point carries its value as a label.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt
import pandas as pd

from programme.indicators import REGION, Indicators

_LOCK = threading.Lock()  # pyplot's state is global: one figure at a time
_COLOURS = ("#1b6ca8", "#e07b00", "#2e8540", "#b0263c", "#6f4e9c", "#7a7a7a", "#0f8b8d")
_TEXT = {
    "land": ("Næringsareal i regionen (daa)", "Business land in the region (daa)"),
    "reserve_all": ("Arealreserve i alt", "Land reserve, all"),
    "reserve": ("herav uten konflikt", "of which without conflict"),
    "pre_approved": ("Ferdig regulert", "Pre-approved"),
    "farmland": ("Dyrka jord i reserver", "Cultivated land in reserves"),
    "enquiries": ("Henvendelser per kvartal", "Enquiries per quarter"),
    "received": ("Mottatt", "Received"),
    "established": ("Etablert", "Established"),
    "lost": ("Tapt", "Lost"),
    "withdrawn": ("Trukket", "Withdrawn"),
    "speed": ("Dager fra henvendelse (median)", "Days from enquiry (median)"),
    "first": ("Til første svar", "To first answer"),
    "offer": ("Til tomter tilbudt", "To sites offered"),
    "capacity": ("Kapasitetsbruk per kommune", "Capacity use per municipality"),
    "sectors": ("Henvendelser etter næring (NACE)", "Enquiries by sector (NACE)"),
}


def _t(key: str, lang: str) -> str:
    nb, en = _TEXT[key]
    return en if lang == "en" else nb


def _svg(fig: plt.Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "font.family": "DejaVu Sans"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG goes inline in HTML


def _figure(title: str) -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(7.2, 3.0), dpi=100)
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _lines(ax: plt.Axes, quarters: Sequence[str], series: list[tuple[str, list[float | None]]]) -> None:
    x = list(range(len(quarters)))
    for k, (label, values) in enumerate(series):
        points = [(i, v) for i, v in zip(x, values, strict=True) if v is not None and not pd.isna(v)]
        if not points:
            continue
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color=_COLOURS[k], label=label)
        last = points[-1]
        ax.annotate(f"{last[1]:,.0f}".replace(",", " "), last, textcoords="offset points", xytext=(4, 4),
                    fontsize=8, color=_COLOURS[k])
    ax.set_xticks(x, quarters, rotation=45, ha="right", fontsize=8)
    ax.legend(fontsize=8, frameon=False, loc="upper left")


def land_chart(ind: Indicators, lang: str = "nb") -> str:
    region = ind.land[ind.land["kommunenummer"] == REGION].set_index("quarter").reindex(ind.quarters)
    with _LOCK:
        fig, ax = _figure(_t("land", lang))
        everything = (region["reserve_daa"] + region["conflict_reserve_daa"]).tolist()
        _lines(ax, ind.quarters, [(_t("reserve_all", lang), everything),
                                  (_t("reserve", lang), region["reserve_daa"].tolist()),
                                  (_t("pre_approved", lang), region["pre_approved_daa"].tolist()),
                                  (_t("farmland", lang), region["farmland_in_reserves_daa"].tolist())])
        return _svg(fig)


def enquiries_chart(ind: Indicators, lang: str = "nb") -> str:
    region = ind.enquiries[ind.enquiries["kommunenummer"] == REGION].set_index("quarter").reindex(ind.quarters)
    with _LOCK:
        fig, ax = _figure(_t("enquiries", lang))
        x = list(range(len(ind.quarters)))
        ax.bar([i - 0.2 for i in x], region["received"].fillna(0), width=0.4, color=_COLOURS[0],
               label=_t("received", lang))
        bottom = [0.0] * len(x)
        for k, key in enumerate(("established", "lost", "withdrawn"), start=1):
            values = region[key].fillna(0).tolist()
            ax.bar([i + 0.2 for i in x], values, width=0.4, bottom=bottom, color=_COLOURS[k], label=_t(key, lang))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for i, v in zip(x, region["received"].fillna(0), strict=True):
            ax.annotate(f"{int(v)}", (i - 0.2, v), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, ind.quarters, rotation=45, ha="right", fontsize=8)
        ax.legend(fontsize=8, frameon=False, ncols=4, loc="upper left")
        return _svg(fig)


def speed_chart(ind: Indicators, lang: str = "nb") -> str:
    region = ind.enquiries[ind.enquiries["kommunenummer"] == REGION].set_index("quarter").reindex(ind.quarters)
    with _LOCK:
        fig, ax = _figure(_t("speed", lang))
        _lines(ax, ind.quarters, [(_t("first", lang), region["median_days_first_answer"].tolist()),
                                  (_t("offer", lang), region["median_days_to_offer"].tolist())])
        return _svg(fig)


def capacity_chart(ind: Indicators, names: dict[str, str], quarter: str, lang: str = "nb") -> str:
    rows = ind.capacity[(ind.capacity["quarter"] == quarter) & (ind.capacity["kommunenummer"] != REGION)]
    with _LOCK:
        fig, ax = _figure(f"{_t('capacity', lang)} – {quarter}")
        labels = [names.get(k, k) for k in rows["kommunenummer"]]
        values = [0.0 if pd.isna(v) else float(v) * 100 for v in rows["utilisation"]]
        colours = [_COLOURS[3] if v > 100 else _COLOURS[2] for v in values]
        ax.barh(labels, values, color=colours)
        ax.axvline(100, color="#333333", linewidth=0.8, linestyle="--")
        for i, v in enumerate(values):
            ax.annotate(f"{v:.0f} %", (v, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        return _svg(fig)


def sectors_chart(ind: Indicators, lang: str = "nb") -> str:
    totals = ind.sectors.groupby("nace_section")["received"].sum().sort_values(ascending=False)
    with _LOCK:
        fig, ax = _figure(_t("sectors", lang))
        ax.bar(list(totals.index), list(totals.values), color=_COLOURS[0])
        for i, v in enumerate(totals.values):
            ax.annotate(f"{int(v)}", (i, v), ha="center", va="bottom", fontsize=8)
        return _svg(fig)
