"""The programme's pages (dashboard, enquiries, one enquiry, capacity board) and its printable report,
rendered with the package's Jinja2 templates (autoescaped: company names and free text are user input)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
import yaml
from jinja2 import pass_context

from layers.codes import KONGSBERGREGIONEN
from maps import programme_charts as charts
from maps.assets import OWN_DIR
from maps.pdf import html_to_pdf
from maps.templating import environment
from programme.indicators import REGION, Indicators, quarters
from programme.model import Event
from programme.workflow import workflow


@cache
def texts(lang: str) -> dict[str, str]:
    """Every label of the programme pages in ``lang`` (``nb`` or ``en``)."""
    data = yaml.safe_load(resources.files("maps").joinpath("programme_texts.yaml").read_text(encoding="utf-8"))
    key = "en" if lang == "en" else "nb"
    return {k: v[key] for k, v in data.items()}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def number(value: Any, lang: str, decimals: int = 1) -> str:
    """A number as the page's language writes it: ``12 345,6`` in bokmål, ``12,345.6`` in English."""
    if _missing(value):
        return "–"
    text = f"{float(value):,.{decimals}f}"
    return text if lang == "en" else text.replace(",", "\u202f").replace(".", ",")


@pass_context
def _daa(ctx: Any, value: Any) -> str:
    return number(value, ctx.get("lang", "nb"))


@pass_context
def _pct(ctx: Any, value: Any) -> str:
    return "–" if _missing(value) else f"{number(float(value) * 100, ctx.get('lang', 'nb'), 0)} %"


@pass_context
def _days(ctx: Any, value: Any) -> str:
    return number(value, ctx.get("lang", "nb"))


def _env() -> Any:
    env = environment()
    env.filters.update(daa=_daa, pct=_pct, days=_days)
    return env


def render(template: str, *, lang: str, root: str, heading: str, synthetic: bool, lang_link: str | None = None,
           error: str | None = None, **context: Any) -> str:
    """One programme page."""
    return _env().get_template(template).render(
        t=texts(lang), lang=lang, root=root, static_url=f"{root}/static", heading=heading, synthetic=synthetic,
        lang_link=lang_link, error=error, names=KONGSBERGREGIONEN, inline_css=context.pop("inline_css", None),
        **context)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def dashboard_context(ind: Indicators, lang: str, all_quarters: list[str]) -> dict[str, Any]:
    """What the dashboard and the report show: charts (SVG) and the region's tables."""
    last = ind.quarters[-1] if ind.quarters else ""
    region = {name: _records(frame[frame["kommunenummer"] == REGION]) if "kommunenummer" in frame else []
              for name, frame in ind.tables().items()}
    capacity = ind.capacity[ind.capacity["quarter"] == last] if len(ind.capacity) else ind.capacity
    return {
        "charts": {"land": charts.land_chart(ind, lang), "enquiries": charts.enquiries_chart(ind, lang),
                   "speed": charts.speed_chart(ind, lang),
                   "capacity": charts.capacity_chart(ind, KONGSBERGREGIONEN, last, lang),
                   "sectors": charts.sectors_chart(ind, lang)},
        "land": region["land"], "enquiries": region["enquiries"], "capacity": _records(capacity),
        "capacity_quarter": last, "first": ind.quarters[0] if ind.quarters else "", "last": last,
        "all_quarters": all_quarters, "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def report_pdf(ind: Indicators, lang: str, synthetic: bool, all_quarters: list[str]) -> bytes:
    """The printable report for the programme board: the dashboard for the chosen period as an A4 PDF."""
    css = (OWN_DIR / "programme.css").read_text(encoding="utf-8")
    html = render("programme_dashboard.html", lang=lang, root="", heading=texts(lang)["report_pdf"],
                  synthetic=synthetic, printing=True, inline_css=css,
                  **dashboard_context(ind, lang, all_quarters))
    return html_to_pdf(html)


def quarter_choices(first_day: Any, last_day: Any) -> list[str]:
    return quarters(first_day, last_day)


def describe(event: Event, lang: str) -> str:
    """One history line in words."""
    t = texts(lang)
    flow = workflow()
    if event.action == "created":
        return f"{t['new_enquiry']}: {event.detail.get('company', '')}"
    if event.action == "status":
        reason = event.detail.get("reason")
        text = f"{flow.status(event.from_status).label(lang) if event.from_status else ''} → " \
               f"{flow.status(event.to_status).label(lang) if event.to_status else ''}"
        return f"{text} ({reason})" if reason else text
    if event.action == "handover":
        to = event.detail.get("to", {})
        frm = event.detail.get("from", {})
        what = t["task_title"] if event.detail.get("task_id") else t["nav_enquiries"]
        return (f"{t['hand_over']} ({what}): {KONGSBERGREGIONEN.get(frm.get('municipality'), '')} → "
                f"{KONGSBERGREGIONEN.get(to.get('municipality'), '')} {to.get('planner') or ''}"
                + (f" – {event.detail['reason']}" if event.detail.get("reason") else ""))
    if event.action == "offer":
        return f"{t['offer_site']}: {event.detail.get('site_id', '')}"
    if event.action == "task":
        return f"{t['add_task']}: {event.detail.get('title', '')}"
    return event.action
