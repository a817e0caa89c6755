"""The land-reserve accounting for people: an HTML page with a table per municipality and status (with
totals) and a chart, and downloads as plain CSV, Norwegian Excel CSV and XLSX.

The numbers come from :func:`constraints.reserve.land_reserve` (one definition of area for every total,
:func:`constraints.reserve.counted_daa`); here they are only labelled, formatted and drawn.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from constraints.reserve import NATIONAL_FARMLAND_TARGET, RESERVE_COLUMNS
from maps.i18n import Lang, format_number
from maps.styles import STATUS_COLOUR
from maps.templating import render

HEADERS: dict[str, dict[Lang, str]] = {
    "kommunenummer": {"nb": "Kommunenummer", "en": "Municipality number"},
    "kommunenavn": {"nb": "Kommune", "en": "Municipality"},
    "pre_approved_daa": {"nb": "Ferdig regulert (daa)", "en": "Zoned and ready (daa)"},
    "reserve_daa": {"nb": "Arealreserve (daa)", "en": "Land reserve (daa)"},
    "conflict_daa": {"nb": "I konflikt (daa)", "en": "In conflict (daa)"},
    "conflict_pre_approved_daa": {"nb": "Konflikt, ferdig regulert (daa)", "en": "Conflict, zoned and ready (daa)"},
    "conflict_reserve_daa": {"nb": "Konflikt, arealreserve (daa)", "en": "Conflict, land reserve (daa)"},
    "business_total_daa": {"nb": "Næringsareal i alt (daa)", "en": "Business land in total (daa)"},
    "net_available_daa": {"nb": "Netto tilgjengelig (daa)", "en": "Net available (daa)"},
    "farmland_in_reserves_daa": {"nb": "Dyrka jord i arealreserver (daa)", "en": "Cultivated land in reserves (daa)"},
    "n_pre_approved": {"nb": "Antall ferdig regulert", "en": "Number zoned and ready"},
    "n_reserve": {"nb": "Antall arealreserver", "en": "Number of land reserves"},
    "n_conflict": {"nb": "Antall i konflikt", "en": "Number in conflict"},
}

SHOWN = ("kommunenavn", "pre_approved_daa", "reserve_daa", "conflict_daa", "business_total_daa",
         "net_available_daa", "farmland_in_reserves_daa", "n_pre_approved", "n_reserve", "n_conflict")

UI: dict[str, dict[Lang, str]] = {
    "title": {"nb": "Næringsarealer og arealreserver per kommune",
              "en": "Business land and land reserves per municipality"},
    "intro": {"nb": "Areal i dekar (1 daa = 1 000 m²). En arealreserve teller med den delen som ennå ikke er "
                    "regulert; regulerte deler telles som ferdig regulert.",
              "en": "Area in dekar (1 daa = 1,000 m²). A land reserve counts with the part not yet regulated; "
                    "regulated parts count as zoned and ready."},
    "total": {"nb": "Sum", "en": "Total"},
    "chart": {"nb": "Næringsareal per kommune og status", "en": "Business land per municipality and status"},
    "downloads": {"nb": "Last ned", "en": "Download"},
    "csv": {"nb": "CSV", "en": "CSV"},
    "csv_excel": {"nb": "CSV for norsk Excel", "en": "CSV for Norwegian Excel"},
    "xlsx": {"nb": "Excel (XLSX)", "en": "Excel (XLSX)"},
    "json": {"nb": "JSON", "en": "JSON"},
    "target": {"nb": NATIONAL_FARMLAND_TARGET["note_nb"], "en": NATIONAL_FARMLAND_TARGET["note_en"]},
    "target_share": {"nb": "Dyrka jord i arealreservene tilsvarer {share} av ett års nasjonale kvote.",
                     "en": "Cultivated land in the reserves equals {share} of one year's national quota."},
    "lang_switch": {"nb": "English", "en": "Norsk"},
    "version": {"nb": "Næringsarealer versjon", "en": "Business areas version"},
    "empty": {"nb": "Ingen næringsarealer er beregnet.", "en": "No business areas have been computed."},
    "history": {"nb": "Utvikling over tid", "en": "Change over time"},
}
STATUS_SERIES = (("pre_approved_daa", "pre-approved"), ("reserve_daa", "reserve"), ("conflict_daa", "conflict"))


def _labelled(table: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    return table[list(RESERVE_COLUMNS)].rename(columns={c: HEADERS[c][lang] for c in RESERVE_COLUMNS})


def csv_excel_no(table: pd.DataFrame) -> bytes:
    """CSV that Norwegian Excel opens in columns: ``;`` separated, decimal comma, UTF-8 with BOM, Norwegian
    headers, areas to 0.1 daa."""
    buf = io.StringIO()
    _labelled(table.round(1), "nb").to_csv(buf, index=False, sep=";", decimal=",", lineterminator="\r\n")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def xlsx(table: pd.DataFrame, lang: Lang = "nb") -> bytes:
    """The table as an Excel workbook (one sheet, headers in ``lang``, a totals row, numbers as numbers)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Arealreserve" if lang == "nb" else "Land reserve"
    ws.append([HEADERS[c][lang] for c in RESERVE_COLUMNS])
    for row in table[list(RESERVE_COLUMNS)].itertuples(index=False):
        ws.append([_cell(v) for v in row])
    totals = totals_row(table)
    ws.append([UI["total"][lang] if c == "kommunenavn" else _cell(totals.get(c)) for c in RESERVE_COLUMNS])
    for cell in ws[1] + ws[ws.max_row]:
        cell.font = Font(bold=True)
    for col, name in zip(ws.columns, RESERVE_COLUMNS, strict=True):
        ws.column_dimensions[col[0].column_letter].width = max(12, len(HEADERS[name][lang]) + 2)
        if name.endswith("_daa"):
            for cell in col[1:]:
                cell.number_format = "0.0"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def totals_row(table: pd.DataFrame) -> dict[str, float]:
    """Region totals of every numeric column."""
    return {c: float(table[c].sum()) if len(table) else 0.0 for c in RESERVE_COLUMNS
            if c.endswith("_daa") or c.startswith("n_")}


def chart_svg(table: pd.DataFrame, lang: Lang, title: str) -> str:
    """A stacked bar chart of business land per municipality and status, as inline SVG (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    names = [str(n or k or "–") for n, k in zip(table["kommunenavn"], table["kommunenummer"], strict=True)]
    fig = Figure(figsize=(7.5, 0.45 * max(len(names), 3) + 1.2))
    ax = fig.add_subplot()
    left = [0.0] * len(names)
    status_label = {"pre-approved": {"nb": "Ferdig regulert", "en": "Zoned and ready"},
                    "reserve": {"nb": "Arealreserve", "en": "Land reserve"},
                    "conflict": {"nb": "I konflikt", "en": "In conflict"}}
    for column, status in STATUS_SERIES:
        values = [float(v) for v in table[column]]
        ax.barh(names, values, left=left, color=STATUS_COLOUR[status], label=status_label[status][lang])
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("daa")
    ax.set_title(title, fontsize=11)
    ax.legend(loc="lower right", fontsize=8)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: format_number(v, 0, lang)))
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG goes inside HTML


def page(doc: dict[str, Any], table: pd.DataFrame, lang: Lang, *, links: dict[str, str],
         lang_switch_url: str | None, static_url: str) -> str:
    """The land-reserve HTML page."""
    ui = {k: v[lang] for k, v in UI.items()}
    rows = [{c: _fmt(c, row[c], lang) for c in SHOWN} | {"kommunenummer": row["kommunenummer"]}
            for _, row in table.iterrows()]
    totals = totals_row(table)
    total_row = {c: _fmt(c, totals[c], lang) for c in SHOWN if c in totals} | {"kommunenavn": ui["total"]}
    share = doc["national_farmland_target"]["share_of_one_year_national_quota"]
    pct = format_number(share * 100, 1, lang) + (" %" if lang == "nb" else "%")
    return render("land_reserve.html", lang=lang, ui=ui, headers=[HEADERS[c][lang] for c in SHOWN],
                  columns=SHOWN, rows=rows, total=total_row, chart=chart_svg(table, lang, ui["chart"]) if rows else "",
                  target_share=ui["target_share"].format(share=pct), links=links, lang_switch_url=lang_switch_url,
                  static_url=static_url, version=doc["provenance"].get("business_areas_version"))


def _fmt(column: str, value: Any, lang: Lang) -> str:
    if column.endswith("_daa"):
        return format_number(float(value or 0.0), 1, lang)
    if column.startswith("n_"):
        return format_number(float(value or 0), 0, lang)
    return "" if value is None else str(value)
