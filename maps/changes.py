"""The "what changed" page between two versions of a layer (and, for objection-risk, why a zone's risk moved)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from constraints.risk_changes import RiskChange
from layers.diff import LayerDiff
from maps.i18n import Lang
from maps.site_report import RISK_LABEL
from maps.site_texts import rule_title
from maps.templating import render

LIST_LIMIT = 500  # keys listed per group on the page (the JSON has them all)

UI: dict[str, dict[Lang, str]] = {
    "title": {"nb": "Endringer i {layer}: versjon {a} → {b}", "en": "Changes in {layer}: version {a} → {b}"},
    "added": {"nb": "Nye objekter", "en": "Features added"},
    "removed": {"nb": "Fjernede objekter", "en": "Features removed"},
    "changed": {"nb": "Endrede objekter", "en": "Features changed"},
    "unchanged": {"nb": "Uendret", "en": "Unchanged"},
    "key": {"nb": "Identifisert ved", "en": "Identified by"},
    "fields": {"nb": "Hva er endret", "en": "What changed"},
    "risk": {"nb": "Arealformål med endret innsigelsesrisiko", "en": "Zones whose objection risk changed"},
    "zone": {"nb": "Område", "en": "Zone"},
    "from": {"nb": "Før", "en": "Before"},
    "to": {"nb": "Nå", "en": "Now"},
    "why": {"nb": "Hvorfor", "en": "Why"},
    "more": {"nb": "… og {n} til (se JSON)", "en": "… and {n} more (see the JSON)"},
    "lang_switch": {"nb": "English", "en": "Norsk"},
    "geometry": {"nb": "geometri", "en": "geometry"},
}


def changes_json(layer_id: str, a: int, b: int, diff: LayerDiff, risk: list[RiskChange] | None) -> dict[str, Any]:
    """The diff as JSON."""
    out: dict[str, Any] = {"collection": layer_id, "from": a, "to": b, "key": diff.key,
                           "added": diff.added, "removed": diff.removed,
                           "changed": [asdict(c) for c in diff.changed], "unchanged": diff.unchanged,
                           "counts": {"added": len(diff.added), "removed": len(diff.removed),
                                      "changed": len(diff.changed), "unchanged": diff.unchanged}}
    if risk is not None:
        out["risk_changes"] = [{"zone_id": r.zone_id, "from": r.old_risk, "to": r.new_risk,
                                "rules": [{"rule_id": rid, "from": x, "to": y} for rid, x, y in r.rules]}
                               for r in risk]
    return out


def page(layer_title: str, a: int, b: int, diff: LayerDiff, risk: list[RiskChange] | None, lang: Lang, *,
         lang_switch_url: str | None, static_url: str) -> str:
    """The page (autoescaped template)."""
    ui = {k: v[lang] for k, v in UI.items()}
    title = ui["title"].format(layer=layer_title, a=a, b=b)

    def label(field: str) -> str:
        return ui["geometry"] if field == "geometry" else field

    changed = [{"key": c.key, "fields": ", ".join(label(f) for f in c.fields)} for c in diff.changed[:LIST_LIMIT]]
    risk_rows = None
    if risk is not None:
        risk_rows = [{"zone": r.zone_id, "from": RISK_LABEL[r.old_risk][lang], "to": RISK_LABEL[r.new_risk][lang],
                      "why": "; ".join(f"{rule_title(rid, lang)}: {RISK_LABEL[x][lang]} → {RISK_LABEL[y][lang]}"
                                       for rid, x, y in r.rules)} for r in risk[:LIST_LIMIT]]
    return render("layer_changes.html", lang=lang, ui=ui, title=title, diff=diff, changed=changed,
                  added=diff.added[:LIST_LIMIT], removed=diff.removed[:LIST_LIMIT], risk_rows=risk_rows,
                  more=lambda n: ui["more"].format(n=n), limit=LIST_LIMIT, key=label(diff.key),
                  lang_switch_url=lang_switch_url, static_url=static_url)
