"""The official code lists in layers.codes: real values, lookups and colours."""

from __future__ import annotations

import inspect
import re

from layers import codes
from layers.codes import (
    AR5_AREALTYPE,
    AR5_DYRKA_JORD,
    AREALBRUKSSTATUS,
    AREALFORMAL_COLOUR,
    KP_AREALFORMAL,
    KP_AREALFORMAL_COLOUR,
    PBL1985_AREALBRUK,
    PLANSTATUS,
    RP_AREALFORMAL,
    VERNETYPE,
    arealformal_colour,
    arealformal_name,
)

HEX = re.compile(r"^#[0-9a-f]{6}$")


def test_list_sizes_match_the_official_lists() -> None:
    assert len(KP_AREALFORMAL) == 66
    assert len(RP_AREALFORMAL) == 224
    assert len(PBL1985_AREALBRUK) == 64
    assert len(AR5_AREALTYPE) == 12
    assert len(VERNETYPE) == 16
    assert len(AREALBRUKSSTATUS) == 3
    assert sorted(PLANSTATUS) == list(range(1, 9))


def test_keys_and_names_are_typed_and_non_empty() -> None:
    for table in (
        KP_AREALFORMAL,
        RP_AREALFORMAL,
        PBL1985_AREALBRUK,
        AR5_AREALTYPE,
        AREALBRUKSSTATUS,
        PLANSTATUS,
    ):
        assert all(isinstance(k, int) for k in table)
        assert all(isinstance(v, str) and v.strip() == v and v for v in table.values())
    assert all(isinstance(k, str) and k.isupper() for k in VERNETYPE)


def test_kommuneplan_codes() -> None:
    assert KP_AREALFORMAL[1300] == "Næringsbebyggelse"
    assert KP_AREALFORMAL[1110] == "Boligbebyggelse"
    assert KP_AREALFORMAL[1130] == "Sentrumsformål"
    assert KP_AREALFORMAL[1800] == "Kombinert bebyggelse og anleggsformål"
    assert KP_AREALFORMAL[5100].startswith("LNFR-areal for nødvendige tiltak for landbruk")
    assert KP_AREALFORMAL[5230] == "Spredt næringsbebyggelse"
    assert KP_AREALFORMAL[6001] == "Bruk og vern av sjø og vassdrag med tilhørende strandsone"
    assert "utgått etter 2011" in KP_AREALFORMAL[1000]


def test_reguleringsplan_business_codes() -> None:
    assert RP_AREALFORMAL[1300] == "Næringsbebyggelse"
    assert RP_AREALFORMAL[1310] == "Kontor"
    assert RP_AREALFORMAL[1340] == "Industri"
    assert RP_AREALFORMAL[1341] == "Kraftkrevende industri"
    assert RP_AREALFORMAL[1342] == "Datasenter"
    assert RP_AREALFORMAL[1350] == "Lager"
    assert RP_AREALFORMAL[1390] == "Annen næring"
    assert RP_AREALFORMAL[2010] == "Veg"
    assert RP_AREALFORMAL[1120] == "Fritidsbebyggelse"  # SLD spelling slip corrected


def test_pbl1985_codes_have_no_status_suffix() -> None:
    assert PBL1985_AREALBRUK[130] == "Erverv"
    assert PBL1985_AREALBRUK[133] == "Industri"
    assert PBL1985_AREALBRUK[200].startswith("Landbruks- natur og friluftsområder")
    assert not any(re.search(r"\((eksisterende|fremtidig)\)$", v) for v in PBL1985_AREALBRUK.values())


def test_ar5_and_dyrka_jord() -> None:
    assert AR5_AREALTYPE[21] == "Fulldyrka jord"
    assert AR5_AREALTYPE[22] == "Overflatedyrka jord"
    assert AR5_AREALTYPE[23] == "Innmarksbeite"
    assert AR5_AREALTYPE[30] == "Skog"
    assert AR5_AREALTYPE[60] == "Myr"
    assert AR5_DYRKA_JORD == frozenset({21, 22, 23})


def test_vernetype() -> None:
    assert VERNETYPE["AUT"] == "Automatisk fredet"
    assert VERNETYPE["VED"] == "Vedtaksfredet"
    assert VERNETYPE["FOR"] == "Forskriftsfredet"
    assert VERNETYPE["LIST"] == "Listeført objekt"
    assert VERNETYPE["IKKE"] == "Ikke fredet"


def test_status_lists() -> None:
    assert AREALBRUKSSTATUS == {1: "Nåværende", 2: "Framtidig", 3: "Videreutvikling av nåværende"}
    assert PLANSTATUS[1] == "Planlegging igangsatt"
    assert PLANSTATUS[2] == "Planforslag"
    assert "vedtatt" in PLANSTATUS[3].lower()
    assert PLANSTATUS[4] == "Opphevet"
    assert PLANSTATUS[8] == "Overstyrt"


def test_arealformal_name_looks_in_rp_then_kp_then_pbl1985() -> None:
    assert arealformal_name(1300) == "Næringsbebyggelse"
    assert arealformal_name(1340) == "Industri"  # RP only
    assert arealformal_name(1000) == KP_AREALFORMAL[1000]  # KP only
    assert arealformal_name(130) == "Erverv"  # PBL 1985 only
    assert arealformal_name(9999) is None


def test_colours() -> None:
    assert all(HEX.match(c) for c in AREALFORMAL_COLOUR.values())
    assert all(HEX.match(c) for c in KP_AREALFORMAL_COLOUR.values())
    assert AREALFORMAL_COLOUR[1300] == "#9966ff"  # reguleringsplan fill
    assert KP_AREALFORMAL_COLOUR[(1300, 1)] == "#cc99ff"
    assert KP_AREALFORMAL_COLOUR[(1300, 2)] == "#9966cc"
    assert arealformal_colour(1300) == "#9966ff"
    assert arealformal_colour(1300, 2) == "#9966cc"
    assert arealformal_colour(1800) is None  # combined formål are hatched, no single fill
    assert set(AREALFORMAL_COLOUR) <= set(RP_AREALFORMAL) | set(KP_AREALFORMAL)


def test_module_is_plain_data() -> None:
    source = inspect.getsource(codes)
    assert "import csv" not in source and "open(" not in source and "read_csv" not in source
