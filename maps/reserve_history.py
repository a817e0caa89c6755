"""Land reserves over time for people: a chart and a table per municipality and published version of
``business-areas`` (reserve and pre-approved daa, dyrka jord inside reserves)."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from maps.i18n import Lang, format_number
from maps.templating import render

UI: dict[str, dict[Lang, str]] = {
    "title": {"nb": "Arealreserver over tid", "en": "Land reserves over time"},
    "intro": {"nb": "Hver publisering av næringsarealene er en versjon med dato. Areal i dekar.",
              "en": "Every publish of the business areas is a version with its date. Area in dekar."},
    "version": {"nb": "Versjon", "en": "Version"},
    "published": {"nb": "Publisert", "en": "Published"},
    "municipality": {"nb": "Kommune", "en": "Municipality"},
    "reserve": {"nb": "Arealreserve (daa)", "en": "Land reserve (daa)"},
    "pre_approved": {"nb": "Ferdig regulert (daa)", "en": "Zoned and ready (daa)"},
    "farmland": {"nb": "Dyrka jord i reserver (daa)", "en": "Cultivated land in reserves (daa)"},
    "chart_reserve": {"nb": "Arealreserve per kommune", "en": "Land reserve per municipality"},
    "chart_farmland": {"nb": "Dyrka jord i arealreservene", "en": "Cultivated land in the land reserves"},
    "back": {"nb": "Tilbake til arealregnskapet", "en": "Back to the land accounts"},
    "lang_switch": {"nb": "English", "en": "Norsk"},
    "empty": {"nb": "Næringsarealene er ikke beregnet ennå.", "en": "The business areas are not computed yet."},
}


def _date(value: Any, lang: Lang) -> str:
    ts = pd.Timestamp(value)
    return ts.strftime("%d.%m.%Y %H:%M") if lang == "nb" else ts.strftime("%Y-%m-%d %H:%M")


def chart_svg(history: pd.DataFrame, column: str, title: str, lang: Lang) -> str:
    """Lines per municipality over the versions (inline SVG; text is escaped by matplotlib's SVG writer)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.4))
    ax = fig.add_subplot()
    versions = sorted(history["version"].unique())
    labels = [f"v{v}" for v in versions]
    for name, group in history.groupby("kommunenavn", sort=True):
        series = group.set_index("version")[column].reindex(versions).fillna(0.0)
        ax.plot(labels, series.to_numpy(dtype=float), marker="o", label=str(name))
    ax.set_title(title, fontsize=11)
    ax.set_ylabel("daa")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: format_number(v, 0, lang)))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def page(history: pd.DataFrame, lang: Lang, *, back_url: str, lang_switch_url: str | None,
         static_url: str) -> str:
    """The history page: two charts and the table (newest version first)."""
    ui = {k: v[lang] for k, v in UI.items()}
    rows = [{"version": int(r["version"]), "published": _date(r["published"], lang),
             "kommunenavn": r["kommunenavn"] or r["kommunenummer"] or "–",
             "reserve": format_number(float(r["reserve_daa"]), 1, lang),
             "pre_approved": format_number(float(r["pre_approved_daa"]), 1, lang),
             "farmland": format_number(float(r["farmland_in_reserves_daa"]), 1, lang)}
            for _, r in history.sort_values(["version", "kommunenummer"], ascending=[False, True]).iterrows()]
    charts = [] if history.empty else [chart_svg(history, "reserve_daa", ui["chart_reserve"], lang),
                                       chart_svg(history, "farmland_in_reserves_daa", ui["chart_farmland"], lang)]
    return render("reserve_history.html", lang=lang, ui=ui, rows=rows, charts=charts, back_url=back_url,
                  lang_switch_url=lang_switch_url, static_url=static_url,
                  versions=sorted(int(v) for v in history["version"].unique()))


def history_json(history: pd.DataFrame) -> dict[str, Any]:
    """The history as JSON: one entry per version with its date and municipalities."""
    out = []
    for version, group in history.groupby("version", sort=True):
        out.append({"version": int(version), "published": pd.Timestamp(group["published"].iloc[0]).isoformat(),
                    "municipalities": [{"kommunenummer": r["kommunenummer"], "kommunenavn": r["kommunenavn"],
                                        "reserve_daa": round(float(r["reserve_daa"]), 3),
                                        "pre_approved_daa": round(float(r["pre_approved_daa"]), 3),
                                        "farmland_in_reserves_daa": round(float(r["farmland_in_reserves_daa"]), 3)}
                                       for _, r in group.iterrows()]})
    return {"unit": "daa (1 daa = 1 000 m²)", "versions": out}
