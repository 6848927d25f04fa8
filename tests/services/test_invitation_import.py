"""Reading invitation lists (eventsys/services/invitation_import.py): pure, no database.

Messages come from flask_babel's gettext, which answers in English outside an app context,
so these tests need no app.
"""

from __future__ import annotations

import csv
import io
import random
import unicodedata
import zipfile
from datetime import date, datetime

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsys.i18n import country_choices, country_name
from eventsys.services import invitation_import
from eventsys.services.errors import ServiceError
from eventsys.services.invitation_import import (
    MAX_ROWS,
    Invitee,
    Problem,
    country_code,
    locale_of,
    parse,
    role_of,
)

HEADER = ["Name", "Email", "Organisation", "Country", "Role", "Language"]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(*sheets: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for index, rows in enumerate(sheets):
        sheet = book.create_sheet(f"Sheet{index + 1}")
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def only_problem(result) -> Problem:
    assert not result.invitees and len(result.problems) == 1, result
    return result.problems[0]


def refused(filename: str, data: bytes) -> str:
    with pytest.raises(ServiceError) as caught:
        parse(filename, data)
    return caught.value.message


@pytest.fixture
def site_speaks_chinese(monkeypatch):
    monkeypatch.setattr(invitation_import, "available_locales", lambda: ["en", "zh"])


# Encodings and delimiters ----------------------------------------------------------------

def test_utf8_csv_maps_headers_and_reports_the_rest():
    data = csv_bytes([
        ["Full Name", "E-Mail Address", "Company", "Nation", "Category", "Lang", "Phone", ""],
        ["  Ada   Lovelace ", " ADA@Example.ORG ", "Analytical  Engines", "gb", "Speaker", "EN",
         "+44 20 7946 0958", ""],
    ])
    result = parse("list.csv", data)
    assert result.invitees == [Invitee(line=2, name="Ada Lovelace", email="ada@example.org",
                                       organisation="Analytical Engines", country="GB",
                                       role="speaker", locale="en")]
    assert result.problems == []
    assert result.columns == {"name": "Full Name", "email": "E-Mail Address",
                              "organisation": "Company", "country": "Nation",
                              "role": "Category", "language": "Lang"}
    assert result.ignored_columns == ["Phone"]


def test_utf8_with_bom_and_columns_in_any_order():
    data = b"\xef\xbb\xbf" + csv_bytes([["email", "country", "name"],
                                        ["b@example.org", "", "Bo"]])
    result = parse("list.csv", data)
    assert result.invitees == [Invitee(2, "Bo", "b@example.org", None, None, "participant",
                                       None)]
    assert result.columns == {"email": "email", "country": "country", "name": "name"}


def test_utf16_tab_separated_as_excel_unicode_text_writes_it():
    data = csv_bytes([["姓名", "电子邮件", "机构"], ["王小明", "wang@example.cn", "中关村"]],
                     encoding="utf-16", delimiter="\t")
    assert data.startswith(b"\xff\xfe")
    result = parse("list.txt", data)
    assert [(i.name, i.email, i.organisation) for i in result.invitees] == [
        ("王小明", "wang@example.cn", "中关村")]


def test_utf16_without_byte_order_mark():
    data = csv_bytes([["Name", "Email"], ["Ann", "ann@example.org"]], encoding="utf-16-le")
    assert [i.email for i in parse("list.csv", data).invitees] == ["ann@example.org"]


def test_gb18030_from_chinese_excel():
    rows = [["姓名", "邮箱", "单位", "国家", "角色"],
            ["张三", "zhang@example.cn", "深圳湾科技园", "中国", "演讲嘉宾"],
            ["朱镕基", "zhu@example.cn", "清华大学", "CN", "嘉宾"],  # 镕 is GBK, not GB2312
            ["李四", "li@example.cn", "IBM中国", "美国", "参会者"]]
    result = parse("名单.csv", csv_bytes(rows, encoding="gb18030"))
    assert [(i.name, i.organisation, i.country, i.role) for i in result.invitees] == [
        ("张三", "深圳湾科技园", "CN", "speaker"),
        ("朱镕基", "清华大学", "CN", "guest"),
        ("李四", "IBM中国", "US", "participant")]
    assert result.columns["name"] == "姓名"


def test_windows_1252_from_european_excel():
    rows = [["Name", "Email", "Organisation", "Country"],
            ["João Gonçalves", "joao@example.pt", "Associação para a Inovação", "Brasil"],
            ["Kovács Anna", "anna@example.hu", "Müßig GmbH", "Hungary"],
            ["Søren Ærø", "soren@example.dk", "São Paulo Tech Park", "Denmark"],
            ["Hélène Dupont", "helene@example.fr", "Café Ltd", "Côte d'Ivoire"]]
    result = parse("list.csv", csv_bytes(rows, encoding="cp1252"))
    assert result.problems == []
    assert [(i.name, i.organisation, i.country) for i in result.invitees] == [
        ("João Gonçalves", "Associação para a Inovação", "BR"),
        ("Kovács Anna", "Müßig GmbH", "HU"),
        ("Søren Ærø", "São Paulo Tech Park", "DK"),
        ("Hélène Dupont", "Café Ltd", "CI")]


@pytest.mark.parametrize(("cell", "encoding"), [
    ("Saint Kitts és Nevis", "cp1252"),  # GBK accepts "\xe9s" as one rare ideograph
    ("Äußeres Ozeanien", "cp1252"),
    ("Norður-Makedónía", "cp1252"),
    ("王", "gb18030"),
    ("蘇格蘭", "gb18030"),  # traditional characters, mostly outside GB2312
    ("IBM中国", "gb18030"),
])
def test_legacy_encoding_is_guessed_from_a_single_row(cell, encoding):
    data = csv_bytes([["Name", "Email"], [cell, "a@example.org"]], encoding=encoding)
    assert parse("list.csv", data).invitees[0].name == cell


def test_old_mac_line_endings():
    data = b"Name,Email\rAnn,ann@example.org\rBo,bo@example.org\r"
    assert [(i.line, i.name) for i in parse("list.csv", data).invitees] == [(2, "Ann"),
                                                                           (3, "Bo")]


def test_semicolon_delimited_with_commas_in_cells():
    data = (b"Name;Email;Organisation\n"
            b"Smith, John;john@example.org;Acme, Inc.\n")
    result = parse("list.csv", data)
    assert [(i.name, i.organisation) for i in result.invitees] == [("Smith, John",
                                                                   "Acme, Inc.")]


def test_excel_sep_line_sets_the_delimiter_and_counts_as_a_line():
    data = b"sep=;\r\nName;Email\r\nAnn;ann@example.org\r\n"
    assert [i.line for i in parse("list.csv", data).invitees] == [3]


def test_quoted_newlines_blank_lines_and_trailing_columns_keep_line_numbers():
    data = (b'Name,Email,Organisation,,\r\n'
            b'"Ann\r\nLee",ann@example.org,"Two\r\nLines",,\r\n'
            b'\r\n'
            b'Bob,bob@,,,\r\n'
            b'\r\n'
            b'Cy,cy@example.org\r\n')
    result = parse("list.csv", data)
    assert [(i.line, i.name, i.organisation) for i in result.invitees] == [
        (2, "Ann Lee", "Two Lines"), (8, "Cy", None)]  # Ann's row spans lines 2 to 4
    assert [p.line for p in result.problems] == [6]
    assert result.ignored_columns == []


def test_a_title_above_the_header_is_passed_over():
    data = b"Invitees, Shenzhen Bay Park\n\nName,Email\nAnn,ann@example.org\n"
    assert [i.line for i in parse("list.csv", data).invitees] == [4]


# Workbooks -------------------------------------------------------------------------------

def test_xlsx_numbers_dates_and_booleans_read_as_text():
    data = xlsx_bytes([[*HEADER, "Since"],
                       ["Ann", "ann@example.org", 1234, "de", "VIP", None,
                        datetime(2024, 5, 1)],
                       ["Bob", "bob@example.org", 12.5, None, None, None, date(2024, 5, 1)],
                       [42, "c@example.org", True, None, None, None, None]])
    result = parse("list.xlsx", data)
    assert [(i.line, i.name, i.organisation, i.country, i.role) for i in result.invitees] == [
        (2, "Ann", "1234", "DE", "vip"),
        (3, "Bob", "12.5", None, "participant"),
        (4, "42", "TRUE", None, "participant")]
    assert result.ignored_columns == ["Since"]


def test_xlsx_formulas():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "Email", "Organisation"])
    sheet.append(["Ann", "ann@example.org", '=UPPER("acme")'])  # cached value patched in below
    sheet.append(["=HYPERLINK(\"http://x.test\",\"Bob\")", "bob@example.org", None])
    sheet.append(["Cy", "cy@example.org", None])
    sheet["C4"].value = "=1+2"
    sheet["C4"].data_type = "s"  # text that only looks like a formula (typed after a ')
    out = io.BytesIO()
    book.save(out)
    data = _with_cached_value(out.getvalue(), '<f>UPPER("acme")</f><v></v>', "ACME")

    result = parse("list.xlsx", data)
    # Excel's last calculated value is what the organiser sees.
    assert [(i.name, i.organisation) for i in result.invitees] == [("Ann", "ACME")]
    # openpyxl stores no calculated value: the cell reads as empty.
    assert result.problems[0].line == 3
    assert result.problems[0].reasons == ("missing name",)
    assert result.problems[1].line == 4
    assert result.problems[1].reasons == ("a spreadsheet formula, not text: '=1+2'",)


def _with_cached_value(data: bytes, formula_xml: str, value: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                xml = content.decode()
                assert formula_xml in xml
                xml = xml.replace(formula_xml, formula_xml.replace("<v></v>",
                                                                   f"<v>{value}</v>"))
                content = xml.replace('<c r="C2">', '<c r="C2" t="str">').encode()
            target.writestr(item, content)
    return out.getvalue()


def test_xlsx_first_sheet_with_an_email_column_is_read():
    data = xlsx_bytes([["Summary"], ["42 people"]],
                      [[], ["Name", "Email"], ["Ann", "ann@example.org"]])
    result = parse("list.xlsx", data)
    assert [(i.line, i.name) for i in result.invitees] == [(3, "Ann")]


def test_xlsx_named_csv_is_still_read_as_a_workbook():
    data = xlsx_bytes([["Name", "Email"], ["Ann", "ann@example.org"]])
    assert [i.name for i in parse("list.csv", data).invitees] == ["Ann"]


# Headers ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "expected"), [
    (["Participant", "Mail", "Institution", "Country/Region", "Type", "Locale"],
     ["name", "email", "organisation", "country", "role", "language"]),
    (["名字", "电子邮件", "公司", "国家/地区", "类别", "语言"],
     ["name", "email", "organisation", "country", "role", "language"]),
    (["姓名 Name", "Email / 邮箱", "Park", "Country (required)", "角色Role", "Language*"],
     ["name", "email", "organisation", "country", "role", "language"]),
    (["NAME", "e_mail", "Organization", "country", "ROLE", "language"],
     ["name", "email", "organisation", "country", "role", "language"]),
])
def test_header_variants(headers, expected):
    result = parse("list.csv", csv_bytes([headers, ["Ann", "ann@example.org"]]))
    assert list(result.columns) == expected
    assert list(result.columns.values()) == headers


def test_second_header_for_a_field_and_unknown_headers_are_ignored():
    data = csv_bytes([["Email", "Name", "Mail", "Organisation Type", "Job title"],
                      ["ann@example.org", "Ann", "other@example.org", "university", "CEO"]])
    result = parse("list.csv", data)
    assert result.columns == {"email": "Email", "name": "Name"}
    assert result.ignored_columns == ["Mail", "Organisation Type", "Job title"]
    assert result.invitees[0].email == "ann@example.org"


@pytest.mark.parametrize(("headers", "row", "name"), [
    (["First name", "Last name", "Email"], ["Ada", "Lovelace", "a@example.org"],
     "Ada Lovelace"),
    (["Surname", "Given name", "Email"], ["Lovelace", "Ada", "a@example.org"], "Ada Lovelace"),
    (["Forename", "Family name", "Email"], ["Ada", "", "a@example.org"], "Ada"),
    (["姓", "名", "邮箱"], ["王", "小明", "a@example.org"], "王小明"),
    (["Name", "First name", "Last name", "Email"], ["Ada King", "Ada", "Lovelace",
                                                    "a@example.org"], "Ada King"),
    (["Name", "First name", "Last name", "Email"], ["", "Ada", "Lovelace", "a@example.org"],
     "Ada Lovelace"),
])
def test_first_and_last_name_columns(headers, row, name):
    result = parse("list.csv", csv_bytes([headers, row]))
    assert [i.name for i in result.invitees] == [name]


# Rows that are refused, and why ----------------------------------------------------------

@pytest.mark.parametrize(("row", "reasons"), [
    (["", "a@example.org", "", "", ""], ("missing name",)),
    (["-", "a@example.org", "", "", ""], ("missing name",)),
    (["Ann", "", "", "", ""], ("missing email address",)),
    (["Ann", "bob@", "", "", ""], ("not an email address: 'bob@'",)),
    (["Ann", "a@b.org\r\nBcc: x@y.org", "", "", ""],
     ("not an email address: 'a@b.org\r\nBcc: x@y.org'",)),
    (["Ann", "a@b.org, c@d.org", "", "", ""], ("not an email address: 'a@b.org, c@d.org'",)),
    (["Ann", "Ann <a@b.org>", "", "", ""], ("not an email address: 'Ann <a@b.org>'",)),
    (["Ann", "a" * 250 + "@b.org", "", "", ""],
     ("the email address is longer than 254 characters",)),
    (["A" * 201, "a@example.org", "", "", ""], ("the name is longer than 200 characters",)),
    (["Ann", "a@example.org", "O" * 201, "", ""],
     ("the organisation is longer than 200 characters",)),
    (["Ann", "a@example.org", "", "Atlantis", ""], ("unknown country 'Atlantis'",)),
    (["Ann", "a@example.org", "", "", "boss"],
     ("unknown role 'boss' (participant, speaker, guest or VIP)",)),
    (["Ann\x07", "a@example.org", "", "", ""], ("Name contains characters that are not allowed",)),
    (['=HYPERLINK("http://evil.test","Ann")', "a@example.org", "", "", ""],
     ("a spreadsheet formula, not text: '=HYPERLINK(\"http://evil.test\",\"Ann\")'",)),
    (["Ann", "a@example.org", "+cmd|' /C calc'!A0", "", ""],
     ("a spreadsheet formula, not text: '+cmd|' /C calc'!A0'",)),
    (["", "bob@", "", "Atlantis", ""],
     ("missing name", "not an email address: 'bob@'", "unknown country 'Atlantis'")),
])
def test_each_reason(row, reasons):
    data = csv_bytes([["Name", "Email", "Organisation", "Country", "Role"], row])
    problem = only_problem(parse("list.csv", data))
    assert problem.line == 2
    assert problem.reasons == reasons
    assert problem.values == dict(zip(["name", "email", "organisation", "country", "role"],
                                      row, strict=True))


def test_listed_twice_keeps_the_first():
    data = csv_bytes([["Name", "Email"], ["Ann", "bad@"], ["Ann", "Ann@Example.org"],
                      ["Ann L.", "ann@example.org"], ["Ann", " ann@EXAMPLE.org"]])
    result = parse("list.csv", data)
    assert [(i.line, i.name) for i in result.invitees] == [(3, "Ann")]
    assert [(p.line, p.reasons) for p in result.problems] == [
        (2, ("not an email address: 'bad@'",)),
        (4, ("listed twice (first on line 3)",)),
        (5, ("listed twice (first on line 3)",))]


@pytest.mark.parametrize("text", [
    "=1+2", "=HYPERLINK(\"x\")", "=", "@SUM(A1)", "+cmd|' /C calc'!A0", "-2+3", "+A1",
    "-$B$2", "+Sheet1!A1", "-(1)", "@A1:B2", "\t=1+2",
])
def test_formulas_are_refused(text):
    data = csv_bytes([["Name", "Email", "Organisation"], ["Ann", "a@example.org", text]])
    assert only_problem(parse("list.csv", data)).reasons[0].startswith(
        "a spreadsheet formula, not text")


@pytest.mark.parametrize("text", ["+Plus Ltd", "-", "- Smith & Co", "@home", "+44 20 7946",
                                  "-5", "Smith (UK)", "A=B Ltd"])
def test_things_that_only_start_like_formulas_are_text(text):
    data = csv_bytes([["Name", "Email", "Organisation"], ["Ann", "a@example.org", text]])
    result = parse("list.csv", data)
    assert result.problems == []
    assert result.invitees[0].organisation == (None if text == "-" else text)


def test_pasted_addresses_lose_invisible_characters_and_mailto():
    data = csv_bytes([["Name", "Email"], ["Ann", "\u200bmailto:Ann@Example.org\u00a0"]])
    assert parse("list.csv", data).invitees[0].email == "ann@example.org"


def test_names_are_normalised_to_composed_characters():
    data = csv_bytes([["Name", "Email"], [unicodedata.normalize("NFD", "José"), "j@example.org"]])
    assert parse("list.csv", data).invitees[0].name == "José"


# Countries, roles, languages -------------------------------------------------------------

@pytest.mark.parametrize(("text", "code"), [
    ("cn", "CN"), ("CHN", "CN"), ("deu", "DE"), ("China", "CN"), ("中国", "CN"),
    ("中國", "CN"), ("United Kingdom", "GB"), ("UK", "GB"), ("USA", "US"),
    ("United States of America", "US"), ("The Netherlands", "NL"), ("Deutschland", "DE"),
    ("Hong Kong", "HK"), ("中国香港", "HK"), ("south korea", "KR"), ("Cote d'Ivoire", "CI"),
    ("Czech Republic", "CZ"), ("Turkey", "TR"), ("Türkiye", "TR"), ("  fr ", "FR"),
    ("Atlantis", None), ("XX", None), ("ZZ", None), ("EU", None),
])
def test_countries(text, code):
    assert country_code(text) == code


def test_every_country_name_in_english_and_chinese_is_its_code():
    for locale in ("en", "zh"):
        for code, _name in country_choices(locale):
            assert country_code(country_name(code, locale)) == code, (locale, code)


@pytest.mark.parametrize(("text", "role"), [
    ("VIP", "vip"), ("vips", "vip"), ("Speaker", "speaker"), ("SPEAKERS", "speaker"),
    ("guest", "guest"), ("Guests", "guest"), ("participant", "participant"),
    ("Participants", "participant"), ("嘉宾", "guest"), ("演讲嘉宾", "speaker"),
    ("讲者", "speaker"), ("参会者", "participant"), ("贵宾", "vip"), ("boss", None),
])
def test_roles(text, role):
    assert role_of(text) == role


@pytest.mark.parametrize(("text", "locale"), [
    ("", None), ("en", "en"), ("EN-gb", "en"), ("English", "en"), ("english", "en"),
    ("zh", "zh"), ("zh-CN", "zh"), ("zh_Hans", "zh"), ("Chinese", "zh"), ("中文", "zh"),
    ("简体中文", "zh"), ("Mandarin", "zh"), ("Simplified Chinese", "zh"),
    ("fr", None), ("French", None), ("Klingon", None), ("qwerty", None),
])
def test_languages(site_speaks_chinese, text, locale):
    assert locale_of(text) == locale


def test_languages_the_site_does_not_speak_are_not_a_problem():
    data = csv_bytes([["Name", "Email", "Language"], ["Ann", "a@example.org", "Deutsch"]])
    assert parse("list.csv", data).invitees[0].locale is None


# Files that are refused as a whole -------------------------------------------------------

def test_too_big():
    assert refused("list.csv", b"a" * (20 * 1024 * 1024)) == (
        "The file is too big (20.0 MB); the limit is 5 MB.")


@pytest.mark.parametrize("data", [b"", b"  \r\n\r\n", b"\xef\xbb\xbf", b"\xff\xfe",
                                  b",,,\r\n\t\t\r\n"])
def test_empty(data):
    assert refused("list.csv", data) == "The file is empty."


def test_empty_workbook():
    assert refused("list.xlsx", xlsx_bytes([])) == "The file is empty."


def test_header_without_rows():
    assert refused("list.csv", b"Name,Email\r\n\r\n") == (
        "The list has a header but no rows below it.")


@pytest.mark.parametrize(("data", "kind"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
])
def test_documents_and_images_renamed_csv(data, kind):
    assert refused("list.csv", data).startswith(f"This file is a {kind} file, not a list.")


def test_old_excel_workbook():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512)
    assert "old Excel workbook (.xls)" in refused("list.xls", data)


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(("files", "message"), [
    ({"photo.jpg": b"\xff\xd8\xff"}, "This zip archive is not an Excel workbook."),
    ({"word/document.xml": b"<w/>"}, "This zip archive is not an Excel workbook."),
    ({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"},
     "This is an OpenDocument spreadsheet (.ods)."),
    ({"xl/workbook.bin": b"\x00"}, "This is a binary Excel workbook (.xlsb)."),
    ({"xl/workbook.xml": b"<not a workbook"}, "This Excel workbook could not be read"),
])
def test_zips_that_are_not_workbooks(files, message):
    assert refused("list.xlsx", zip_of(files)).startswith(message)


def test_damaged_workbook():
    data = xlsx_bytes([["Name", "Email"], ["Ann", "ann@example.org"]])
    assert refused("list.xlsx", data[: len(data) // 2]).startswith(
        "This Excel workbook could not be read")


def test_workbook_that_unpacks_to_too_much():
    data = zip_of({"xl/workbook.xml": b"<", "xl/big.xml": bytes(101 * 1024 * 1024)})
    assert len(data) < invitation_import.MAX_BYTES
    assert refused("list.xlsx", data).startswith("This Excel workbook could not be read")


def test_text_named_xlsx():
    assert "not one" in refused("list.xlsx", b"Name,Email\r\nAnn,ann@example.org\r\n")


def test_web_page_saved_as_xls():
    assert "web page or XML" in refused("list.xls", b"<html><table><tr><td>x</td></tr>")


def test_no_email_column_says_which_headers_were_found():
    message = refused("list.csv", b"Name,Phone,City\r\nAnn,123,Paris\r\n")
    assert message.startswith("No column of email addresses was found.")
    assert message.endswith("Headers found: “Name”, “Phone”, “City”.")


def test_more_than_max_rows():
    rows = [["Name", "Email"]] + [[f"P{n}", f"p{n}@example.org"] for n in range(MAX_ROWS + 1)]
    assert refused("list.csv", csv_bytes(rows)) == (
        f"The list has more than {MAX_ROWS} rows. Split it into smaller files.")


def test_max_rows_is_allowed_and_blank_lines_do_not_count():
    rows = [["Name", "Email"]] + [[f"P{n}", f"p{n}@example.org"] for n in range(MAX_ROWS)]
    data = csv_bytes(rows) + b"\r\n" * 100
    assert len(parse("list.csv", data).invitees) == MAX_ROWS


def test_unclosed_quote():
    data = b'Name,Email\r\n"Ann,ann@example.org\r\n' + b"x" * 140_000
    assert refused("list.csv", data).startswith("The CSV file could not be read")


# Properties ------------------------------------------------------------------------------

_VALID_XLSX = xlsx_bytes([HEADER, ["Ann", "ann@example.org", "Acme", "CN", "vip", "en"]])
_VALID_CSV = csv_bytes([HEADER, ["Ann", "ann@example.org", "Acme", "CN", "vip", "en"]])


@st.composite
def damaged(draw, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["list.csv", "list.xlsx", "list.xls", "list"]),
       data=st.one_of(st.binary(max_size=2000), damaged(_VALID_XLSX), damaged(_VALID_CSV),
                      st.text(max_size=500).map(str.encode)))
def test_any_bytes_give_a_list_or_a_service_error(name, data):
    try:
        result = parse(name, data)
    except ServiceError as error:
        assert error.message
    else:
        assert isinstance(result, invitation_import.ParsedList)


_SCRIPTS = st.one_of(
    st.characters(min_codepoint=0x41, max_codepoint=0x24F, categories=("Lu", "Ll")),
    st.characters(min_codepoint=0x370, max_codepoint=0x4FF, categories=("Lu", "Ll")),
    st.characters(min_codepoint=0x620, max_codepoint=0x64A, categories=("Lo",)),
    st.characters(min_codepoint=0x905, max_codepoint=0x939, categories=("Lo",)),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF, categories=("Lo",)),
    st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3, categories=("Lo",)),
)
_WORD = st.text(_SCRIPTS, min_size=1, max_size=12)
_NAME = st.lists(_WORD, min_size=1, max_size=3).map(" ".join)
_ORGANISATION = st.one_of(st.none(), st.builds(
    lambda a, sep, b: a + sep + b, _WORD, st.sampled_from([" ", ", ", ' "', "; ", " & "]),
    _WORD))
_LOCAL = st.from_regex(r"[a-zA-Z0-9]{1,10}([._+][a-zA-Z0-9]{1,10})?", fullmatch=True)
_DOMAIN = st.sampled_from(["example.org", "park.example.cn", "Example.COM", "b.io"])
_CODES = [code for code, _name in country_choices("en")]


@st.composite
def good_rows(draw, max_size: int) -> tuple[list[list[str]], list[Invitee]]:
    count = draw(st.integers(1, max_size))
    locals_ = draw(st.lists(_LOCAL, min_size=count, max_size=count,
                            unique_by=str.lower))
    rows, expected = [], []
    for line, local in enumerate(locals_, start=2):
        email = f"{local}@{draw(_DOMAIN)}"
        name = draw(_NAME)
        organisation = draw(_ORGANISATION)
        country = draw(st.one_of(st.none(), st.sampled_from(_CODES)))
        shown_country = "" if country is None else draw(st.sampled_from(
            [country, country.lower(), country_name(country, "en"),
             country_name(country, "zh")]))
        role = draw(st.sampled_from(["participant", "speaker", "guest", "vip"]))
        shown_role = draw(st.sampled_from(["", role, role.upper(), role.title() + "s"]))
        if shown_role == "":
            role = "participant"
        language = draw(st.sampled_from(["", "en", "English", "fr"]))
        rows.append([name, email, organisation or "", shown_country, shown_role, language])
        expected.append(Invitee(
            line=line, name=unicodedata.normalize("NFC", name), email=email.lower(),
            organisation=organisation and unicodedata.normalize("NFC", organisation),
            country=country, role=role, locale="en" if language in ("en", "English") else None))
    return rows, expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=good_rows(max_size=15), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
       delimiter=st.sampled_from([",", ";", "\t"]), seed=st.integers(0, 2**16))
def test_good_rows_written_to_csv_read_back_the_same(rows, encoding, delimiter, seed):
    rows, expected = rows
    order = list(range(len(HEADER)))
    random.Random(seed).shuffle(order)
    table = [[row[i] for i in order] for row in [HEADER, *rows]]
    result = parse("list.csv", csv_bytes(table, encoding=encoding, delimiter=delimiter))
    assert result.problems == []
    assert result.invitees == expected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=good_rows(max_size=8))
def test_good_rows_written_to_xlsx_read_back_the_same(rows):
    rows, expected = rows
    result = parse("list.xlsx", xlsx_bytes([HEADER, *rows]))
    assert result.problems == []
    assert result.invitees == expected
