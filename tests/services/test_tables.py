"""Reading uploaded tables (eventsys/services/tables.py): rows and their line numbers from
CSV text in any encoding and delimiter, or from each worksheet of a workbook; a clear
ServiceError for everything else. The invitation lists (test_invitation_import.py) and the
attendance reports (test_attendance_report.py) test what their columns mean.

Messages come from flask_babel's gettext, which answers in English outside an app context,
so these tests need no app.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsys.services import tables
from eventsys.services.errors import ServiceError

FIELDS = {tables.key(alias): field for field, aliases in {
    "name": ("name", "姓名"), "email": ("email", "邮箱"), "when": ("join time",)}.items()
    for alias in aliases}


def understood(cells: list[str]) -> int:
    columns = tables.recognise(cells, FIELDS)[0]
    return len(columns) if "email" in columns else 0


def read(data: bytes, filename: str = "list.csv", search_rows: int = 10
         ) -> list[list[tables.Row]]:
    return [list(rows) for rows in tables.sheets(filename, data, understood=understood,
                                                 search_rows=search_rows)]


def refused(data: bytes, filename: str = "list.csv") -> str:
    with pytest.raises(ServiceError) as caught:
        read(data, filename)
    return caught.value.message


def xlsx(*sheets: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for index, rows in enumerate(sheets):
        sheet = book.create_sheet(f"Sheet{index + 1}")
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# Text ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "gb18030"])
def test_encodings(encoding):
    text = "姓名,邮箱\r\n王小明,wang@example.cn\r\n"
    assert read(text.encode(encoding)) == [[(1, ["姓名", "邮箱"]),
                                            (2, ["王小明", "wang@example.cn"])]]


def test_windows_1252_is_told_from_gb18030():
    data = "Name;Email\r\nGonçalves;g@example.pt\r\nKovács;k@example.hu\r\n".encode("cp1252")
    assert read(data)[0][1:] == [(2, ["Gonçalves", "g@example.pt"]),
                                 (3, ["Kovács", "k@example.hu"])]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_under_which_the_header_is_understood(delimiter):
    text = delimiter.join(["Name", "Email", "Join Time"]) + "\r\n" + delimiter.join(
        ['"Wang, Wei"', "wang@example.cn", "2026-12-07 09:00"]) + "\r\n"
    rows = read(text.encode())[0]
    assert rows[0][1] == ["Name", "Email", "Join Time"]
    assert rows[1][1][0] == "Wang, Wei"


def test_a_header_below_a_summary_decides_the_delimiter():
    text = ("Meeting; Topic; notes, more, commas, here\r\n\r\n"
            "Name;Email\r\nAnn;ann@example.org\r\n")
    assert read(text.encode())[0][-1] == (4, ["Ann", "ann@example.org"])


def test_excel_sep_line_and_line_numbers_of_quoted_newlines():
    text = 'sep=;\r\nName;Email\r\n"Ann\r\nSmith";ann@example.org\r\n\r\nBo;bo@example.org\r\n'
    assert read(text.encode())[0] == [(2, ["Name", "Email"]),
                                      (3, ["Ann\r\nSmith", "ann@example.org"]),
                                      (5, []), (6, ["Bo", "bo@example.org"])]


def test_nonblank_skips_empty_rows():
    rows = [(1, ["a"]), (2, ["", " "]), (3, []), (4, ["b", ""])]
    assert list(tables.nonblank(rows)) == [(1, ["a"]), (4, ["b", ""])]


def test_an_unclosed_quote_is_a_clear_error():
    data = b'Name,Email\r\n"Ann,ann@example.org\r\n' + b"x" * 140_000
    assert refused(data).startswith("The CSV file could not be read")


# Workbooks -------------------------------------------------------------------------------

def test_each_worksheet_is_a_table_with_cells_as_excel_shows_them():
    data = xlsx([["Notes"]], [["Name", "Email", "Join Time", "Minutes", "Guest"],
                              ["Ann", "ann@example.org", datetime(2026, 12, 7, 9, 0, 15), 65.0,
                               True], ["Bo", None, date(2026, 12, 7), 1.5, False],
                              [None, None, time(9, 5), None, None]])
    sheets = read(data, "report.xlsx")
    assert sheets[0] == [(1, ["Notes"])]
    assert sheets[1][1:] == [
        (2, ["Ann", "ann@example.org", "2026-12-07 09:00:15", "65", "TRUE"]),
        (3, ["Bo", "", "2026-12-07", "1.5", "FALSE"]),
        (4, ["", "", "09:05:00"])]


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    (b"%PDF-1.7\n", "This file is a PDF file, not a list."),
    (b"\x89PNG\r\n\x1a\n", "This file is a PNG file, not a list."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "This is an old Excel workbook (.xls)"),
    (zip_of({"photo.jpg": b"\xff\xd8\xff"}), "This zip archive is not an Excel workbook."),
    (zip_of({"xl/workbook.bin": b"\x00"}), "This is a binary Excel workbook (.xlsb)."),
    (zip_of({"xl/workbook.xml": b"<", "xl/big.xml": bytes(101 * 1024 * 1024)}),
     "This Excel workbook could not be read"),
    (b"<html><table><tr><td>x</td></tr>", "This file is a web page or XML"),
    (b"   \r\n ", "The file is empty."),
    (bytes(range(256)) * 4, "This file is neither CSV text nor an Excel workbook"),
])
def test_what_is_not_a_table_is_said_clearly(data, message):
    assert refused(data).startswith(message)


def test_a_damaged_workbook_and_text_named_xlsx():
    data = xlsx([["Name", "Email"], ["Ann", "ann@example.org"]])
    assert refused(data[: len(data) // 2], "r.xlsx").startswith(
        "This Excel workbook could not be read")
    assert "named like an Excel workbook" in refused(b"Name,Email\r\n", "r.xlsx")


def test_the_size_limit():
    assert refused(b"a" * (tables.MAX_BYTES + 1)).startswith(
        "The file is too big (5.0 MB); the limit is 5 MB.")
    assert tables.too_big(20 * 1024 * 1024).message.startswith("The file is too big (20.0 MB)")


# Headers and cells -----------------------------------------------------------------------

def test_recognise_whole_headers_first_then_parts_and_lists_the_rest():
    columns, names, ignored = tables.recognise(
        ["姓名 Name", "E-mail", "Email / 邮箱", "Join Time (UTC)", "Notes", ""], FIELDS)
    assert columns == {"name": 0, "email": 1, "when": 3}
    assert names == {"name": "姓名 Name", "email": "E-mail", "when": "Join Time (UTC)"}
    assert ignored == ["Email / 邮箱", "Notes"]


@pytest.mark.parametrize(("text", "formula"), [
    ("=SUM(A1:A2)", True), ("+cmd|' /C calc'!A0", True), ("-2+3", True), ("@A1", True),
    ("-", False), ("+Plus Ltd", False), ("Ann", False), ("+86 139 0000 0000", False),
])
def test_formulas(text, formula):
    assert tables.looks_like_formula(text) is formula


def test_key_and_shown():
    assert tables.key("Côte d'Ivoire") == "cotedivoire"
    assert tables.key(" E-Mail ") == "email"
    assert tables.shown("x" * 61) == "x" * 59 + "…"


# Properties ------------------------------------------------------------------------------

_VALID = xlsx([["Name", "Email"], ["Ann", "ann@example.org"]])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["a.csv", "a.xlsx", "a"]),
       data=st.one_of(st.binary(max_size=3000), st.text(max_size=500).map(str.encode),
                      st.binary(max_size=200).map(lambda b: _VALID[:300] + b + _VALID[300:])))
def test_any_bytes_give_rows_or_a_service_error(name, data):
    try:
        for rows in tables.sheets(name, data, understood=understood, search_rows=10):
            for line, cells in rows:
                assert line >= 1 and all(isinstance(cell, str) for cell in cells)
    except ServiceError as error:
        assert error.message
