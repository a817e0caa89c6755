"""Enquiries out and in as CSV (plain and Norwegian Excel) and XLSX; a bad row registers nothing."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from programme.errors import InvalidEnquiry
from programme.exchange import COLUMNS, export_csv, export_xlsx, import_enquiries, read_rows
from programme.model import EnquiryIn
from programme.register import EnquiryRegister
from tests.programme.conftest import SALES


def _one(register: EnquiryRegister) -> None:
    register.create(SALES, EnquiryIn(company="Fjellkraft Hydrogen AS", nace="D35.1", lead_municipality="4026",
                                     needs={"land_daa": 42.5, "power_mw": 30, "jobs": 25,
                                            "preferred_municipalities": ["4026", "4005"]}))


def test_csv_variants_and_round_trip(sqlite_register: EnquiryRegister) -> None:
    _one(sqlite_register)
    enquiries = sqlite_register.list(SALES)
    plain = export_csv(enquiries).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(plain)))
    assert list(rows[0]) == list(COLUMNS) and rows[0]["land_daa"] == "42.5" and rows[0]["status"] == "new"
    excel = export_csv(enquiries, excel_no=True)
    assert excel.startswith("\ufeff".encode())
    text = excel.decode("utf-8-sig")
    header, first = text.split("\r\n")[:2]
    assert header.split(";") == list(COLUMNS)
    fields = first.split(";")
    assert fields[COLUMNS.index("land_daa")] == "42,5" and fields[COLUMNS.index("power_mw")] == "30"
    assert fields[COLUMNS.index("preferred_municipalities")] == "4026,4005"
    # both variants read back into the same enquiry
    for data in (plain.encode(), excel):
        [row] = read_rows(data, "x.csv")
        assert row["company"] == "Fjellkraft Hydrogen AS" and row["land_daa"] in ("42.5", "42,5")


def test_xlsx_export_and_import_with_status(sqlite_register: EnquiryRegister) -> None:
    _one(sqlite_register)
    data = export_xlsx(sqlite_register.list(SALES))
    ws = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in ws[1]] == list(COLUMNS) and ws["B2"].value == "Fjellkraft Hydrogen AS"
    rows = read_rows(data, "henvendelser.xlsx")
    rows[0].update(status="lost", decision_reason="valgte annen region")
    [made] = import_enquiries(sqlite_register, SALES, rows)
    assert made.status == "lost" and made.decision_reason == "valgte annen region"
    assert made.needs.land_daa == 42.5 and made.needs.preferred_municipalities == ["4026", "4005"]
    steps = [(h.from_status, h.to_status) for h in sqlite_register.history(SALES, made.id)]
    assert steps == [(None, "new"), ("new", "lost")]


@pytest.mark.parametrize(("change", "message"), [
    ({"lead_municipality": "0301"}, "row 3: lead_municipality"),
    ({"land_daa": "mye"}, "row 3: needs.land_daa"),
    ({"status": "godkjent"}, "row 3: unknown status 'godkjent'"),
    ({"status": "established", "decision_reason": ""}, "row 3: status 'established' needs a decision_reason"),
])
def test_a_bad_row_names_row_and_field_and_registers_nothing(sqlite_register: EnquiryRegister,
                                                              change: dict[str, str], message: str) -> None:
    good = {"company": "God AS", "lead_municipality": "3303", "land_daa": "12,5"}
    with pytest.raises(InvalidEnquiry, match=message):
        import_enquiries(sqlite_register, SALES, [good, {**good, **change}])
    assert sqlite_register.list(SALES) == []


def test_not_a_workbook() -> None:
    with pytest.raises(InvalidEnquiry, match="not a readable XLSX"):
        read_rows(b"PK\x03\x04 broken", "x.xlsx")
