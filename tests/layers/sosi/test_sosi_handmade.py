"""Hand-made (synthetic) SOSI files written by the tests: arcs, holes, reversed references, every TEGNSETT,
files that lie about their character set, a missing .SLUTT, a dangling REF, rings that do not close,
unknown KOORDSYS, and the attribute syntax (nesting, repeats, comments, .DEF, .TEKST)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import CRS

from layers.errors import CorruptSource, LayerChoiceRequired, MissingCRS
from layers.gpkg_store import GeoPackageStore
from layers.ingest import ingest
from layers.kinds import LayerKind
from layers.sosi import read, scan
from layers.sosi.geometry import ARC_TOLERANCE_M
from layers.sosi.koordsys import known_codes


def head(tegnsett: str = "UTF-8", koordsys: int = 22, enhet: str = "0.01", origo: str = "6600000 500000") -> str:
    return (f".HODE\n..TEGNSETT {tegnsett}\n..TRANSPAR\n...KOORDSYS {koordsys}\n...ORIGO-NØ {origo}\n"
            f"...ENHET {enhet}\n..SOSI-VERSJON 4.5\n")


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "test.sos") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def curve(ident: int, points: list[tuple[int, int]], objtype: str = "Grense") -> str:
    """A KURVE; ``points`` are (north, east) in file units (ENHET 0.01 → centimetres)."""
    return f".KURVE {ident}:\n..OBJTYPE {objtype}\n..NØ\n" + "".join(f"{n} {e}\n" for n, e in points)


# A 100 m x 100 m square (file units: cm) split into two curves, with a 20 m x 20 m hole.
SOUTH_EAST = [(0, 0), (0, 10000), (10000, 10000)]           # from SW along the south edge, up the east edge
NORTH_WEST_REVERSED = [(0, 0), (10000, 0), (10000, 10000)]   # stored from SW up the west edge: needs -2
HOLE = [(4000, 4000), (6000, 4000), (6000, 6000), (4000, 6000), (4000, 4000)]


def test_flate_with_reversed_reference_and_hole(tmp_path: Path) -> None:
    text = (head() + curve(1, SOUTH_EAST) + curve(2, NORTH_WEST_REVERSED) + curve(3, HOLE)
            + ".FLATE 4:\n..OBJTYPE Område\n..REF :1 -2 (:3)\n..NØ\n5000 5000\n.SLUTT\n")
    frame, report = read(write(tmp_path, text), "Område")
    polygon = frame.geometry.iloc[0]
    assert polygon.is_valid and len(polygon.interiors) == 1
    assert polygon.area == pytest.approx(100 * 100 - 20 * 20)
    assert polygon.bounds == (500000.0, 6600000.0, 500100.0, 6600100.0)  # east first, origin added
    assert report.rings.flipped == 0 and report.rings.closed == 0  # -2 did the reversing


def test_reference_with_wrong_sign_is_joined_the_way_it_fits(tmp_path: Path) -> None:
    text = (head() + curve(1, SOUTH_EAST) + curve(2, NORTH_WEST_REVERSED)
            + ".FLATE 4:\n..OBJTYPE Område\n..REF :1 :2\n.SLUTT\n")
    frame, report = read(write(tmp_path, text), "Område")
    assert frame.geometry.iloc[0].area == pytest.approx(10_000) and frame.geometry.iloc[0].is_valid
    assert report.rings.flipped == 1
    assert any("reversed 1" in w for w in report.warnings)


def test_ring_that_does_not_close_is_closed_and_counted(tmp_path: Path) -> None:
    open_ring = [(0, 0), (0, 10000), (10000, 10000), (10000, 0)]  # stops short of the start
    text = head() + curve(1, open_ring) + ".FLATE 2:\n..OBJTYPE Område\n..REF :1\n.SLUTT\n"
    frame, report = read(write(tmp_path, text), "Område")
    assert frame.geometry.iloc[0].area == pytest.approx(10_000)
    assert report.rings.closed == 1
    assert any("closed 1 FLATE ring" in w for w in report.warnings)


def test_dangling_reference_drops_that_flate_and_says_which(tmp_path: Path) -> None:
    square = [(0, 0), (0, 10000), (10000, 10000), (10000, 0), (0, 0)]
    text = (head() + curve(1, square) + ".FLATE 2:\n..OBJTYPE Område\n..REF :1\n"
            + ".FLATE 3:\n..OBJTYPE Område\n..REF :1 (:99)\n.SLUTT\n")
    frame, report = read(write(tmp_path, text), "Område")
    assert len(frame) == 1 and frame.area.iloc[0] == pytest.approx(10_000)
    assert report.rings.dangling == [".FLATE 3: :99"]
    assert any("dropped 1 FLATE" in w and ":99" in w for w in report.warnings)


def test_buep_arc_is_densified_within_the_tolerance(tmp_path: Path) -> None:
    # quarter circle of radius 100 m centred on the origin: (N 0, E 100) → (N 70.71, E 70.71) → (N 100, E 0)
    text = (head() + ".BUEP 1:\n..OBJTYPE Bue\n..NØ\n0 10000\n7071 7071\n10000 0\n.SLUTT\n")
    frame, report = read(write(tmp_path, text))
    coords = shapely.get_coordinates(frame.geometry.iloc[0]) - [500000, 6600000]
    radii = np.hypot(coords[:, 0], coords[:, 1])
    assert len(coords) > 20 and report.arcs == 1
    assert np.abs(radii - 100.0).max() < 0.01  # vertices on the circle (the 3 points are rounded to 1 cm)
    # the chord height between vertices stays within the stated tolerance
    step = np.hypot(*np.diff(coords, axis=0).T).max()
    assert 100.0 * (1 - math.cos(step / 100.0 / 2)) <= ARC_TOLERANCE_M + 1e-6
    assert frame.length.iloc[0] == pytest.approx(math.pi / 2 * 100, abs=0.02)


def test_bue_with_radius_turns_clockwise_when_positive(tmp_path: Path) -> None:
    # from (E 0, N 0) to (E 100, N 0): clockwise short arc bulges north (to the left... seen from above: over)
    text = (head(origo="0 0") + ".BUE 1:\n..OBJTYPE Bue\n..RADIUS 50\n..NØ\n0 0\n0 10000\n"
            + ".BUE 2:\n..OBJTYPE Bue\n..RADIUS -50\n..NØ\n0 0\n0 10000\n.SLUTT\n")
    frame, _ = read(write(tmp_path, text))
    clockwise, counter = frame.geometry
    assert shapely.get_coordinates(clockwise)[:, 1].max() == pytest.approx(50, abs=0.01)  # north of the chord
    assert shapely.get_coordinates(counter)[:, 1].min() == pytest.approx(-50, abs=0.01)  # south of it
    assert clockwise.length == pytest.approx(math.pi * 50, abs=0.02)


@pytest.mark.parametrize(("tegnsett", "codec"), [("ANSI", "latin-1"), ("ISO8859-1", "latin-1"),
                                                 ("ISO8859-10", "iso8859-10"), ("DOSN8", "cp865"),
                                                 ("UTF-8", "utf-8")])
def test_each_tegnsett(tmp_path: Path, tegnsett: str, codec: str) -> None:
    text = (head(tegnsett) + ".PUNKT 1:\n..OBJTYPE RpArealformålOmråde\n..FELTNAVN \"Bråtå Æsøy\"\n"
            "..NØ\n100 200\n.SLUTT\n")
    path = write(tmp_path, text, codec)
    info = scan(path)
    assert info.layers == {"RpArealformålOmråde": 1} and not info.warnings
    frame, _ = read(path)
    assert frame["FELTNAVN"].iloc[0] == "Bråtå Æsøy"
    assert frame.geometry.iloc[0].coords[0] == (500002.0, 6600001.0)


def test_nd7_brackets_are_norwegian_letters(tmp_path: Path) -> None:
    text = (head("ND7") + ".PUNKT 1:\n..OBJTYPE RpArealform}lOmr}de\n..FELTNAVN \"Br}t} [s|y \\\\stre ]s\"\n"
            "..NØ\n100 200\n.SLUTT\n").replace("NØ", "N\\").replace("ORIGO-N\\", "ORIGO-N\\")
    frame, _ = read(write(tmp_path, text, "ascii"))
    assert frame["OBJTYPE"].iloc[0] == "RpArealformålOmråde"
    assert frame["FELTNAVN"].iloc[0] == "Bråtå Æsøy ØØstre Ås"
    assert frame.geometry.iloc[0].coords[0] == (500002.0, 6600001.0)  # ..N\ is ..NØ in ND7


def test_file_declaring_8_bit_but_in_utf8_is_read_as_utf8_with_a_warning(tmp_path: Path) -> None:
    text = head("ISO8859-10") + ".PUNKT 1:\n..OBJTYPE Sted\n..NAVN \"Østre Æsøy\"\n..NØ\n1 2\n.SLUTT\n"
    path = write(tmp_path, text, "utf-8")
    frame, report = read(path)
    assert frame["NAVN"].iloc[0] == "Østre Æsøy"  # not "Ã\x98stre"
    assert any("says ISO8859-10 but the text is UTF-8" in w for w in report.warnings)


def test_file_declaring_utf8_but_in_latin1_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    text = head("UTF-8") + ".PUNKT 1:\n..OBJTYPE Sted\n..NAVN \"Østre\"\n..NØ\n1 2\n.SLUTT\n"
    path = write(tmp_path, text, "latin-1")
    with pytest.raises(CorruptSource, match=r"byte 0xD8 at offset \d+ is not UTF-8.*--encoding"):
        read(path)
    frame, _ = read(path, encoding="iso8859-10")
    assert frame["NAVN"].iloc[0] == "Østre"


def test_nd7_file_with_8_bit_bytes_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, head("ND7") + ".PUNKT 1:\n..OBJTYPE Sted\n..NAVN \"Øst\"\n..N\\\n1 2\n.SLUTT\n", "latin-1")
    with pytest.raises(CorruptSource, match="ND7 is 7-bit"):
        read(path)


def test_missing_slutt_is_a_warning_and_the_features_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, head() + ".PUNKT 1:\n..OBJTYPE Sted\n..NØ\n1 2\n.PUNKT 2:\n..OBJTYPE Sted\n..NØ\n3 4\n")
    frame, report = read(path)
    assert len(frame) == 2
    assert any("no .SLUTT" in w for w in report.warnings)


def test_attributes_nested_repeated_commented_and_skipped_groups(tmp_path: Path) -> None:
    text = (head() + "! a comment line\n.DEF\n..NAVN T30\n.OBJDEF\n..OBJTYPE T32\n"
            ".KURVE 1:\n..OBJTYPE Vegkant ! trailing comment\n..KVALITET\n...MÅLEMETODE 82\n...NØYAKTIGHET 25\n"
            "..KOMM 0604\n..MERKNAD \"Hei! ikke en kommentar\"\n..LINKADRESSE \"a\"\n..LINKADRESSE \"b\"\n"
            "..NØ\n0 0 ...KP 1\n..NØ\n100 0\n200 0 ...KP 2\n"
            ".TEKST 2:\n..OBJTYPE Tekst\n..STRENG \"x\"\n..NØ\n0 0\n.SYMBOL 3:\n..OBJTYPE Symbol\n..NØ\n0 0\n.SLUTT\n")
    info = scan(write(tmp_path, text))
    assert info.layers == {"Vegkant": 1}  # .TEKST/.SYMBOL/.DEF/.OBJDEF are not layers
    frame, report = read(info.path)
    row = frame.iloc[0]
    assert row["KVALITET.MÅLEMETODE"] == 82 and row["KVALITET.NØYAKTIGHET"] == 25
    assert row["KOMM"] == "0604"  # leading zero kept: a code, not a number
    assert row["MERKNAD"] == "Hei! ikke en kommentar"
    assert row["LINKADRESSE"] == ["a", "b"]
    assert row["OBJTYPE"] == "Vegkant"
    assert shapely.get_coordinates(frame.geometry.iloc[0]).tolist() == [[500000, 6600000], [500000, 6600001],
                                                                        [500000, 6600002]]
    assert any("skipped 1 .SYMBOL, 1 .TEKST" in w for w in report.warnings)


def test_several_objtypes_need_layer_and_the_error_lists_counts(tmp_path: Path) -> None:
    text = head() + curve(1, [(0, 0), (1, 1)], "A") + curve(2, [(0, 0), (1, 1)], "A") + curve(3, [(0, 0), (2, 2)], "B")
    with pytest.raises(LayerChoiceRequired, match=r"--layer NAME from: A \(2\), B \(1\)"):
        read(write(tmp_path, text + ".SLUTT\n"))
    with pytest.raises(LayerChoiceRequired, match=r"no OBJTYPE 'C'"):
        read(tmp_path / "test.sos", "C")


def test_unknown_koordsys_names_the_code_and_crs_fixes_it(tmp_path: Path) -> None:
    path = write(tmp_path, head(koordsys=999) + ".PUNKT 1:\n..OBJTYPE Sted\n..NØ\n1 2\n.SLUTT\n", name="x.sos")
    store = GeoPackageStore(tmp_path / "ws")
    with pytest.raises(MissingCRS, match=r"KOORDSYS 999 .*--crs"):
        ingest(store, path, "sted", LayerKind.other)
    assert store.list_layers() == []
    report = ingest(store, path, "sted", LayerKind.other, crs="25832")
    assert report.normalised.crs_in == "EPSG:25832" and report.driver == "SOSI"


def test_koordsys_table() -> None:
    codes = known_codes()
    expected = {22: 25832, 23: 25833, 21: 25831, 26: 25836, 205: 5105, 210: 5110, 230: 5130, 1: 27391,
                8: 27398, 50: 4230, 84: 4258}
    assert {c: codes[c].epsg for c in expected} == expected
    for entry in codes.values():  # every code resolves to a real CRS of the stated kind
        assert CRS.from_epsg(entry.epsg).is_geographic == entry.geographic


def test_coordinates_that_are_not_numbers_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, head() + ".KURVE 1:\n..OBJTYPE Grense\n..NØ\n0 0\n12a 5\n.SLUTT\n")
    with pytest.raises(CorruptSource, match=r"\.KURVE 1: coordinates that are not numbers"):
        read(path)


def test_utf8_byte_order_mark_and_crlf_line_ends(tmp_path: Path) -> None:
    text = (head() + ".PUNKT 1:\n..OBJTYPE Sted\n..NAVN \"Åsen\"\n..NØ\n100 200\n.SLUTT\n").replace("\n", "\r\n")
    path = tmp_path / "bom.sos"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    frame, report = read(path)
    assert frame["NAVN"].iloc[0] == "Åsen" and frame.crs.to_epsg() == 25832
    assert frame.geometry.iloc[0].coords[0] == (500002.0, 6600001.0) and not report.warnings


def test_node_mark_on_a_line_of_its_own_continues_the_coordinates(tmp_path: Path) -> None:
    text = head(origo="0 0", enhet="1") + ".KURVE 1:\n..OBJTYPE Grense\n..NØ\n0 0\n...KP 1\n0 10\n10 10\n.SLUTT\n"
    frame, _ = read(write(tmp_path, text))
    assert shapely.get_coordinates(frame.geometry.iloc[0]).tolist() == [[0, 0], [10, 0], [10, 10]]
