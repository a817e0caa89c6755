"""The real SOSI files of ``shared/data/sosi-samples-vegvesen`` (Statens vegvesen, outside the region), read
with the facts their README gives: counts, lengths, areas, first coordinates, CRS."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from pyproj import Transformer

from layers.errors import LayerChoiceRequired
from layers.sosi import read, scan

REPO = Path(__file__).resolve().parents[3]
# shared/data beside the repository (the main checkout), or beside the worktree folder's parent
_CANDIDATES = [REPO.parent / "shared" / "data", REPO.parent.parent / "shared" / "data"]
DATA = next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]) / "sosi-samples-vegvesen"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"real data folder {DATA} is missing")


def _read(name: str, layer: str | None = None):
    return read(DATA / name, layer)[0]


def test_vips_ansi_sosi3_lines_with_heights() -> None:
    info = scan(DATA / "VIPS.sos")
    assert info.codec == "latin-1" and info.header.version == "3.0" and info.koordsys.epsg == 25832
    assert info.header.transform.enhet == 0.001 and info.header.transform.origo_n == 6748140
    assert info.layers == {"FLATE": 1, "LINJE": 167}  # no OBJTYPE in this file: one layer per group
    lines = _read("VIPS.sos", "LINJE")
    assert len(lines) == 167 and lines.crs.to_epsg() == 25832
    assert lines.length.sum() == pytest.approx(22219.9, abs=0.1)
    first = shapely.get_coordinates(lines.geometry.iloc[0], include_z=True)[0]
    assert first.tolist() == pytest.approx([538861.915, 6748188.397, 241.452], abs=1e-6)
    assert lines["LTEMA"].iloc[0] == 1000 and lines["LTYPE"].iloc[0] == -8.02  # numbers stay numbers
    polygon = _read("VIPS.sos", "FLATE")
    assert len(polygon) == 1 and polygon.area.iloc[0] == pytest.approx(22262.9, abs=0.1)


def test_utsnitt_ntm10_nested_attributes() -> None:
    info = scan(DATA / "UTSNITT.SOS")
    assert info.koordsys.code == 210 and info.koordsys.epsg == 5110 and info.header.vert_datum == "NN54"
    area = _read("UTSNITT.SOS", "utsnitt")
    assert area.crs.to_epsg() == 5110
    assert area.area.iloc[0] == pytest.approx(366291.8, abs=0.1)
    assert area["measurement"].iloc[0] == "0.3642 km&sup2;"
    assert area["style.fill.color"].iloc[0] == "rgba(255, 165, 0, 0.5)"
    assert area["style.stroke.width"].iloc[0] == 2
    # NTM zone 10 puts it at Jevnaker (60.215 N, 10.361 E), where the E16 project is
    lon, lat = Transformer.from_crs(5110, 4326, always_xy=True).transform(*area.geometry.iloc[0].centroid.coords[0])
    assert lat == pytest.approx(60.215, abs=0.01) and lon == pytest.approx(10.361, abs=0.01)


def test_prosjektavgrensning_utf8_with_two_holes() -> None:
    info = scan(DATA / "prosjektavgrensning.sos")
    assert info.codec == "utf-8"
    with pytest.raises(LayerChoiceRequired, match=r"LaserDekningsområde \(1\), LaserDekningsområdeAvgrensning \(3\)"):
        read(DATA / "prosjektavgrensning.sos")
    frame = _read("prosjektavgrensning.sos", "LaserDekningsområde")
    polygon = frame.geometry.iloc[0]
    assert len(polygon.interiors) == 2 and polygon.is_valid
    assert polygon.area == pytest.approx(1_293_477_179.4, abs=0.5)
    row = frame.iloc[0]
    assert (row["DEKNINGSNUMMER"], row["OPPDRAGSGIVER"], row["FLYFIRMA"]) == ("42018", "Kartverket",
                                                                               "Blom Geomatics AS")
    minx, miny = polygon.bounds[:2]
    lon, lat = Transformer.from_crs(25832, 4326, always_xy=True).transform(minx, miny)
    assert lat == pytest.approx(59.97, abs=0.01) and lon == pytest.approx(9.45, abs=0.01)  # Krødsherad–Ringerike–Hole


def test_flystripe_utf8_lines() -> None:
    frame = _read("flystripe.sos")
    assert len(frame) == 156 and set(frame.geom_type) == {"LineString"}
    assert frame["FLYHØYDE"].iloc[0] == 1500 and frame["LASERINFORMASJON.LASERTYPE"].iloc[0] == "Riegl Q1560"


def test_klippefil_def_section_comments_and_origo() -> None:
    info = scan(DATA / "klippefil.sos")
    assert info.header.version == "4.1" and info.header.transform.origo_n == 1246089
    assert info.layers == {"Kartblad": 1, "SOSI_Objekt": 1}  # .DEF sections are not layers
    frame = _read("klippefil.sos", "Kartblad")
    assert frame.crs.to_epsg() == 5110
    assert frame.area.iloc[0] == pytest.approx(1_588_194.4, abs=0.1)
    assert frame["SHAPE_AREA"].iloc[0] == pytest.approx(1588190.13)  # its own figure, 4 m² off ours


def test_small_chunks_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records cut across 8 MB chunks in big files: force tiny chunks on a real file."""
    whole = _read("flystripe.sos")
    monkeypatch.setattr("layers.sosi.lexer.CHUNK_BYTES", 97)
    pieces = _read("flystripe.sos")
    assert len(pieces) == 156
    assert pieces.length.sum() == pytest.approx(whole.length.sum(), rel=1e-12)
