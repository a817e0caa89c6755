"""The site-check report for people: per theme and rule the outcome in words true for it, the numbers, who
objects and what to do next, plus the AR5 breakdown; as HTML (page, planner panel) and PDF.

The JSON of :func:`constraints.site.check_site` is the input; sentences come from ``site_texts.yaml`` (or the
finding's own ``text_nb``/``text_en`` when the rule set provides them). Every string reaches the page through
Jinja2 with autoescaping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from constraints.findings import M2_PER_DAA
from constraints.risk import Risk
from maps.assets import OWN_DIR
from maps.i18n import Lang, format_number
from maps.site_texts import label, next_step, outcome_of, rule_title, statement
from maps.templating import render

RISK_CLASS = {"RED": "red", "YELLOW": "yellow", "GREEN": "green", "NOT_MAPPED": "grey", "INTERNAL": "internal"}

UI: dict[str, dict[Lang, str]] = {
    "title": {"nb": "Arealanalyse av tomt", "en": "Site check"},
    "area": {"nb": "Areal", "en": "Area"},
    "municipality": {"nb": "Kommune", "en": "Municipality"},
    "unknown": {"nb": "ukjent", "en": "unknown"},
    "overall": {"nb": "Samlet vurdering", "en": "Overall"},
    "theme": {"nb": "Tema", "en": "Theme"},
    "rule": {"nb": "Regel", "en": "Rule"},
    "status": {"nb": "Status", "en": "Status"},
    "result": {"nb": "Resultat", "en": "Result"},
    "hit_area": {"nb": "Treffareal", "en": "Hit area"},
    "share": {"nb": "Andel", "en": "Share"},
    "distance": {"nb": "Avstand", "en": "Distance"},
    "zone": {"nb": "Sone brukt", "en": "Zone used"},
    "coverage": {"nb": "Dekning", "en": "Coverage"},
    "authority": {"nb": "Innsigelsesmyndighet", "en": "Objecting authority"},
    "legal_basis": {"nb": "Hjemmel", "en": "Legal basis"},
    "next": {"nb": "Hva nå", "en": "What to do next"},
    "ar5": {"nb": "Arealtyper (AR5)", "en": "Land types (AR5)"},
    "ar5_type": {"nb": "Arealtype", "en": "Land type"},
    "ar5_none": {"nb": "Ingen AR5-kartlag er lastet inn.", "en": "No AR5 layer is loaded."},
    "dyrka": {"nb": "Dyrka jord i alt", "en": "Cultivated land in total"},
    "total": {"nb": "Sum", "en": "Total"},
    "sources": {"nb": "Grunnlag", "en": "Sources"},
    "rules_version": {"nb": "Regelsett", "en": "Rule set"},
    "made": {"nb": "Laget", "en": "Made"},
    "pdf": {"nb": "Last ned PDF", "en": "Download PDF"},
    "map": {"nb": "Kart over tomten og treffene", "en": "Map of the site and the hits"},
    "synthetic": {"nb": "Syntetiske demodata – ikke reelle plandata",
                  "en": "Synthetic demo data – not real planning data"},
    "lang_switch": {"nb": "English", "en": "Norsk"},
    "assessment": {"nb": "Slik er området vurdert", "en": "How the site is assessed"},
    "disclaimer": {"nb": "Analysen bygger på kartlagte data og erstatter ikke dialog med myndighetene.",
                   "en": "The analysis rests on mapped data and does not replace talking to the authorities."},
}

RISK_LABEL: dict[str, dict[Lang, str]] = {
    "RED": {"nb": "Rød – sannsynlig innsigelse", "en": "Red – objection likely"},
    "YELLOW": {"nb": "Gul – mulig innsigelse", "en": "Yellow – objection possible"},
    "GREEN": {"nb": "Grønn – ingen kjent konflikt", "en": "Green – no known conflict"},
    "NOT_MAPPED": {"nb": "Ikke kartlagt", "en": "Not mapped"},
    "INTERNAL": {"nb": "Intern – kommunens eget hensyn, ikke innsigelse",
                 "en": "Internal – the municipality's own consideration, no objection"},
}

OVERALL_SENTENCE: dict[str, dict[Lang, str]] = {
    "RED": {"nb": "Minst én regel gir sannsynlig innsigelse.", "en": "At least one rule makes an objection likely."},
    "YELLOW": {"nb": "Ingen regel gir sannsynlig innsigelse, men minst én kan gi innsigelse.",
               "en": "No rule makes an objection likely, but at least one may draw one."},
    "NOT_MAPPED": {"nb": "Ingen kjent konflikt i kartlagte data, men ikke alt er kartlagt.",
                   "en": "No known conflict in the mapped data, but not everything is mapped."},
    "GREEN": {"nb": "Ingen kjent konflikt med kartlagte restriksjoner.",
              "en": "No known conflict with mapped constraints."},
}


@dataclass(frozen=True)
class RuleRow:
    """One rule's line in the report, every value ready to print."""

    rule_id: str
    theme: str
    theme_name: str
    title: str
    risk: str
    risk_class: str
    risk_label: str
    outcome: str
    outcome_label: str
    text: str
    hit_m2: str
    hit_daa: str
    share: str
    distance: str
    zone: str
    coverage: str
    authority: str
    legal_basis: str
    next_step: str


@dataclass(frozen=True)
class Ar5Line:
    """One AR5 class's line."""

    code: str
    name: str
    m2: str
    daa: str
    share: str
    dyrka_jord: bool


@dataclass(frozen=True)
class ReportView:
    """Everything a report template prints."""

    lang: Lang
    ui: dict[str, str]
    area_m2: str
    area_daa: str
    municipality: str
    risk: str
    risk_class: str
    risk_label: str
    overall: str
    rows: list[RuleRow]
    ar5: list[Ar5Line]
    ar5_total: tuple[str, str] | None
    ar5_dyrka: tuple[str, str, str] | None
    rules_version: str
    inputs: str
    made: str
    synthetic: bool = False
    map_png_b64: str | None = None
    assessment: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _m2(v: float, lang: Lang) -> str:
    return f"{format_number(v, 0, lang)} m²"


def _daa(v: float, lang: Lang) -> str:
    return f"{format_number(v, 1 if v >= 1 else 2, lang)} daa"


def _pct(v: float, lang: Lang) -> str:
    pct = v * 100
    text = format_number(pct, 1 if pct >= 1 or pct == 0 else 2, lang)
    return f"{text} %" if lang == "nb" else f"{text}%"


def _m(v: float | None, lang: Lang) -> str:
    if v is None:
        return "–"
    return f"{format_number(v, 0, lang)} m" if v < 1000 else f"{format_number(v / 1000, 1, lang)} km"


def _zone(zone_m: float, source: str, lang: Lang) -> str:
    kind = "default" if source == "default" else "municipality"
    return f"{format_number(zone_m, 0, lang)} m ({label('zone_source', kind, lang)})"


def rule_row(theme: str, rule: dict[str, Any], lang: Lang) -> RuleRow:
    """The printable row of one rule result (``check_site`` JSON)."""
    outcome = outcome_of(rule)
    hit_m2 = float(rule.get("hit_area_m2") or 0.0)
    values = {
        "hit_m2": _m2(hit_m2, lang), "hit_daa": _daa(hit_m2 / M2_PER_DAA, lang),
        "share": _pct(float(rule.get("share") or 0.0), lang), "distance": _m(rule.get("distance_m"), lang),
        "zone": _zone(float(rule.get("zone_m") or 0.0), str(rule.get("zone_m_source") or "default"), lang),
        "proximity": f"{format_number(float(rule.get('proximity_m') or 0.0), 0, lang)} m",
    }
    own = rule.get(f"text_{lang}")
    risk = str(rule.get("risk") or Risk.GREEN.value)
    inside_like = outcome in ("inside", "boundary", "exempt")
    return RuleRow(
        rule_id=str(rule["rule_id"]), theme=theme, theme_name=label("themes", theme, lang),
        title=rule_title(str(rule["rule_id"]), lang, rule), risk=risk, risk_class=RISK_CLASS.get(risk, "grey"),
        risk_label=RISK_LABEL.get(risk, {}).get(lang, risk), outcome=outcome,
        outcome_label=label("outcomes", outcome, lang),
        text=str(own) if own else statement(theme, outcome, lang, values),
        hit_m2=values["hit_m2"] if inside_like else "–", hit_daa=values["hit_daa"] if inside_like else "–",
        share=values["share"] if inside_like else "–", distance=values["distance"],
        zone=values["zone"] if float(rule.get("zone_m") or 0.0) > 0 else "–",
        coverage=label("coverage", rule.get("coverage"), lang),
        authority=str(rule.get("authority") or ""), legal_basis=str(rule.get("legal_basis") or ""),
        next_step=next_step(theme, outcome, lang),
    )


def report_view(report: dict[str, Any], lang: Lang, *, ar5: dict[str, Any] | None = None,
                synthetic: bool = False, map_png_b64: str | None = None,
                now: dt.datetime | None = None) -> ReportView:
    """The printable report from the site check's JSON and the AR5 breakdown's dict."""
    rows = [rule_row(theme["theme"], rule, lang) for theme in report["themes"] for rule in theme["rules"]]
    ar5_lines: list[Ar5Line] = []
    ar5_total = ar5_dyrka = None
    if ar5 is not None and ar5.get("layers"):
        for r in ar5["rows"]:
            key = r["code"] if r["code"] is not None else "unmapped"
            ar5_lines.append(Ar5Line(code="" if r["code"] is None else str(r["code"]),
                                     name=label("ar5_names", key, lang), m2=_m2(r["area_m2"], lang),
                                     daa=_daa(r["area_daa"], lang), share=_pct(r["share"], lang),
                                     dyrka_jord=bool(r["dyrka_jord"])))
        total = sum(r["area_m2"] for r in ar5["rows"])
        ar5_total = (_m2(total, lang), _daa(total / M2_PER_DAA, lang))
        site = float(ar5["site_area_m2"]) or 1.0
        ar5_dyrka = (_m2(ar5["dyrka_jord_m2"], lang), _daa(ar5["dyrka_jord_daa"], lang),
                     _pct(ar5["dyrka_jord_m2"] / site, lang))
    risk = str(report["objection_risk"])
    prov = report.get("provenance") or {}
    inputs = ", ".join(f"{lid} v{info.get('version')}" for lid, info in (prov.get("inputs") or {}).items())
    now = now or dt.datetime.now(dt.UTC)
    return ReportView(
        lang=lang, ui={k: v[lang] for k, v in UI.items()}, area_m2=_m2(report["area_m2"], lang),
        area_daa=_daa(report["area_daa"], lang),
        municipality=str(report.get("kommunenavn") or UI["unknown"][lang]),
        risk=risk, risk_class=RISK_CLASS.get(risk, "grey"), risk_label=RISK_LABEL[risk][lang],
        overall=OVERALL_SENTENCE[risk][lang], rows=rows, ar5=ar5_lines, ar5_total=ar5_total, ar5_dyrka=ar5_dyrka,
        rules_version=str(prov.get("rules_version") or ""), inputs=inputs,
        made=now.strftime("%d.%m.%Y %H:%M UTC") if lang == "nb" else now.strftime("%Y-%m-%d %H:%M UTC"),
        synthetic=synthetic, map_png_b64=map_png_b64, assessment=str(report.get(f"assessment_{lang}") or ""),
    )


def enrich(report: dict[str, Any]) -> dict[str, Any]:
    """The JSON report with, per rule, ``outcome``, ``text_nb``/``text_en`` and ``rule_title_nb``/``_en``
    (kept as they are when the rule set already gives them)."""
    for theme in report["themes"]:
        theme["theme_nb"] = label("themes", theme["theme"], "nb")
        theme["theme_en"] = label("themes", theme["theme"], "en")
        for rule in theme["rules"]:
            rule.setdefault("outcome", outcome_of(rule))
            for lang in ("nb", "en"):
                row = rule_row(theme["theme"], rule, lang)  # type: ignore[arg-type]
                rule.setdefault(f"text_{lang}", row.text)
                rule.setdefault(f"rule_title_{lang}", row.title)
                rule.setdefault(f"next_step_{lang}", row.next_step)
    return report


def render_report_panel(view: ReportView) -> str:
    """The report as an HTML fragment (the planner workspace's side panel)."""
    return render("site_report_body.html", r=view)


def render_report_page(view: ReportView, *, lang_switch_url: str | None = None,
                       static_url: str = "/static") -> str:
    """The report as a whole HTML page."""
    return render("site_report_page.html", r=view, lang_switch_url=lang_switch_url, static_url=static_url)


def render_report_print(view: ReportView) -> str:
    """The report as print HTML for the PDF (A4, map image)."""
    css = (OWN_DIR / "site-report.css").read_text(encoding="utf-8")
    return render("site_report_print.html", r=view, css=css)

