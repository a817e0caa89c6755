"""Indicator tables as files: CSV (UTF-8) and XLSX (openpyxl), with Norwegian column headings in XLSX."""

from __future__ import annotations

import io

import pandas as pd
from openpyxl import Workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADINGS_NB = {
    "quarter": "Kvartal", "kommunenummer": "Kommunenummer", "reserve_daa": "Arealreserve (daa)",
    "conflict_reserve_daa": "Reserve i konflikt (daa)", "pre_approved_daa": "Ferdig regulert (daa)",
    "farmland_in_reserves_daa": "Dyrka jord i reserver (daa)", "business_areas_version": "Versjon business-areas",
    "received": "Mottatt", "open_end": "Åpne ved kvartalsslutt", "established": "Etablert", "lost": "Tapt",
    "withdrawn": "Trukket", "decided": "Avgjort", "jobs_landed": "Arbeidsplasser i etableringer",
    "median_days_first_answer": "Median dager til første svar", "median_days_to_offer": "Median dager til tilbud",
    "landed_share": "Andel etablert av avgjorte", "nace_section": "NACE-hovedområde",
    "demand_hours": "Arbeid (t/uke)", "capacity_hours": "Kapasitet (t/uke)", "utilisation": "Kapasitetsbruk",
}


def table_bytes(frame: pd.DataFrame, fmt: str, name: str) -> tuple[bytes, str]:
    """``frame`` as CSV or XLSX bytes and the media type."""
    if fmt == "csv":
        return frame.to_csv(index=False, lineterminator="\n").encode("utf-8"), "text/csv; charset=utf-8"
    wb = Workbook()
    ws = wb.active
    ws.title = name[:31]
    ws.append([HEADINGS_NB.get(c, c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        ws.append([None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row])
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), XLSX
