"""A result list of the site search as files: CSV (plain, and for Norwegian Excel: ``;``, decimal comma,
UTF-8 with BOM), XLSX (openpyxl), GeoPackage and GeoJSON (pyogrio), with the rank, score and key facts."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from openpyxl import Workbook

EXPORT_COLUMNS = ("rank", "score", "site_id", "navn", "site_type", "kommunenavn", "business_status",
                  "net_available_daa", "area_daa", "arealformal", "formalnavn", "objection_risk", "main_road",
                  "main_road_km", "rail_station_km", "airport_min", "substation_free_mw", "fibre", "speed_mbit",
                  "population_45min", "competence_10km_count", "bruksareal_m2", "pris", "leie")
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "gpkg": "application/geopackage+sqlite3", "geojson": "application/geo+json"}


def result_frame(frame: gpd.GeoDataFrame, ranked: list[tuple[int, str, float]]) -> gpd.GeoDataFrame:
    """The ranked rows ``(row, site id, score)`` of the register ``frame`` with :data:`EXPORT_COLUMNS`."""
    rows = frame.iloc[[r for r, _, _ in ranked]].copy()
    rows["rank"] = range(1, len(ranked) + 1)
    rows["score"] = [round(s, 1) for _, _, s in ranked]
    keep = [c for c in EXPORT_COLUMNS if c in rows.columns]
    return gpd.GeoDataFrame(rows[keep].reset_index(drop=True), geometry=rows.geometry.to_numpy(), crs=frame.crs)


def to_bytes(result: gpd.GeoDataFrame, fmt: str, *, excel_no: bool = False) -> bytes:
    """``result`` in one of :data:`FORMATS` (GeoPackage in EPSG:25832; GeoJSON in CRS84)."""
    table = pd.DataFrame(result.drop(columns="geometry"))
    if fmt == "csv":
        text = table.to_csv(index=False, sep=";" if excel_no else ",", decimal="," if excel_no else ".",
                            lineterminator="\r\n" if excel_no else "\n")
        return ("\ufeff" + text).encode("utf-8") if excel_no else text.encode("utf-8")
    if fmt == "xlsx":
        wb = Workbook()
        ws = wb.active
        ws.title = "Tomter"
        ws.append(list(table.columns))
        for row in table.itertuples(index=False):
            ws.append([None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row])
        ws.freeze_panes = "A2"
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    if fmt == "geojson":
        return result.to_crs("OGC:CRS84").to_json(drop_id=True, ensure_ascii=False).encode("utf-8")
    if fmt == "gpkg":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "tomter.gpkg"
            pyogrio.write_dataframe(result, path, layer="tomter", driver="GPKG")
            return path.read_bytes()
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
