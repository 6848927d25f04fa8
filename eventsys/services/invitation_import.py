"""Invitation lists: reading the CSV or Excel files partner parks send into invitees.

Pure functions, no database: ``parse()`` turns the uploaded bytes into good rows and bad
rows with reasons, so the organiser sees a preview and nothing is stored until they confirm
(storing, and skipping people invited already, is the caller's part).

The files come from many countries and many spreadsheet programs, so reading is lenient
where that cannot hurt (headers in English or Chinese, in any order; UTF-8, UTF-16 or the
legacy encodings Chinese and European Excel save; comma, semicolon or tab) and strict where
it can (formulas, control characters, overlong text, bad addresses become a reason on the
row, never a half-imported person). Any bytes at all give either a ``ParsedList`` or a
``ServiceError`` with a message for the organiser.

Finding the rows in the bytes (encodings, delimiters, workbooks, files that are not lists)
is ``tables``' part, shared with the meeting platforms' attendance reports.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import islice

from babel import Locale
from babel.core import UnknownLocaleError, get_global
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from eventsys.i18n import available_locales, country_choices, is_country
from eventsys.services import tables
from eventsys.services.accounts import normalise_email
from eventsys.services.errors import ServiceError
from eventsys.services.validation import has_control_chars

ROLES = ("participant", "speaker", "guest", "vip")
MAX_BYTES = tables.MAX_BYTES
MAX_ROWS = 20_000

# Lists often carry a title ("Invitees, Shenzhen Park") or a blank line above the header.
HEADER_SEARCH_ROWS = 10

LIMITS = {"name": 200, "organisation": 200, "email": 254}
FIELDS = ("name", "first_name", "last_name", "email", "organisation", "country", "role",
          "language")


@dataclass(frozen=True)
class Invitee:
    """A row that can be imported as it is."""

    line: int  # as the organiser sees it in the spreadsheet or text editor (header = 1)
    name: str
    email: str  # normalised like account emails, so re-imports and sign-ups match
    organisation: str | None
    country: str | None  # ISO 3166-1 alpha-2
    role: str  # one of ROLES
    locale: str | None  # one of available_locales(), or None for the event's default


@dataclass(frozen=True)
class Problem:
    """A row that will not be imported, with its cells (to show it) and every reason."""

    line: int
    values: dict[str, str]
    reasons: tuple[str, ...]


@dataclass
class ParsedList:
    invitees: list[Invitee]
    problems: list[Problem]
    columns: dict[str, str]  # our field -> the header found in the file
    ignored_columns: list[str]  # headers we did not recognise, shown to the organiser


def parse(filename: str, data: bytes) -> ParsedList:
    """Read an uploaded invitation list (CSV or XLSX, told apart by content, not by name).

    Raises ServiceError when the file as a whole cannot be used; problems with single rows
    are returned in ``problems`` instead, so one typo does not block a list of a thousand.
    """
    first_headers: list[str] | None = None
    for rows in tables.sheets(filename, data, understood=_understood,
                              search_rows=HEADER_SEARCH_ROWS):
        result = _read_table(rows)  # the first worksheet with an email column
        if isinstance(result, ParsedList):
            return result
        if first_headers is None:
            first_headers = result
    raise _no_email_column(first_headers)


def _understood(cells: list[str]) -> int:
    columns = _recognise(cells)[0]
    return len(columns) if "email" in columns else 0


# Headers ---------------------------------------------------------------------------------

_HEADERS = {
    "name": ("name", "fullname", "participant", "participantname", "invitee", "inviteename",
             "attendee", "attendeename", "delegate", "delegatename", "guestname",
             "姓名", "名字", "全名"),
    "first_name": ("firstname", "first", "givenname", "given", "forename", "名"),
    "last_name": ("lastname", "last", "familyname", "family", "surname", "姓"),
    "email": ("email", "mail", "emailaddress", "mailaddress", "emailadress", "emails",
              "邮箱", "电子邮件", "电子邮箱", "邮件", "邮箱地址", "电子邮件地址", "电邮"),
    "organisation": ("organisation", "organization", "company", "institution", "park",
                     "organisationname", "organizationname", "companyname",
                     "institutionname", "parkname", "affiliation", "单位", "机构", "公司",
                     "工作单位", "单位名称", "机构名称", "公司名称", "所在单位", "园区"),
    "country": ("country", "nation", "countryregion", "countryorregion", "nationality",
                "国家", "国家地区", "国籍"),
    "role": ("role", "type", "category", "participanttype", "participantrole", "角色",
             "身份", "类别", "类型"),
    "language": ("language", "lang", "locale", "preferredlanguage", "语言", "语种"),
}
_HEADER_FIELDS = {tables.key(alias): field
                  for field, aliases in _HEADERS.items() for alias in aliases}


def _recognise(cells: list[str]) -> tuple[dict[str, int], dict[str, str], list[str]]:
    """Our field -> column index, our field -> header text, and the headers left over."""
    return tables.recognise(cells, _HEADER_FIELDS)


def _no_email_column(headers: list[str] | None) -> ServiceError:
    if not headers:
        return ServiceError(_("The file is empty."))
    shown = ", ".join(f"“{header[:40]}”" for header in headers if header)[:400]
    return ServiceError(_("No column of email addresses was found. Name the columns in the "
                          "first row, e.g. Name, Email, Organisation, Country, Role, Language. "
                          "Headers found: %(headers)s.", headers=shown))


# Rows ------------------------------------------------------------------------------------

def _read_table(rows: Iterator[tuple[int, list[str]]]) -> ParsedList | list[str] | None:
    """The list below the header, or, when no header with an email column is found among
    the first rows, the first row's cells (for the message), or None for no rows at all."""
    rows = tables.nonblank(rows)
    first: list[str] | None = None
    for _line, cells in islice(rows, HEADER_SEARCH_ROWS):
        if first is None:
            first = [" ".join(cell.split()) for cell in cells]
        columns, names, ignored = _recognise(cells)
        if "email" in columns:
            break
    else:
        return first

    invitees: list[Invitee] = []
    problems: list[Problem] = []
    first_line_of: dict[str, int] = {}
    for count, (line, cells) in enumerate(rows, start=1):
        if count > MAX_ROWS:
            raise ServiceError(_("The list has more than %(n)d rows. Split it into smaller "
                                 "files.", n=MAX_ROWS))
        values = {field: cells[index] if index < len(cells) else ""
                  for field, index in columns.items()}
        row = _check_row(line, values, names, first_line_of)
        if isinstance(row, Invitee):
            first_line_of[row.email] = line
            invitees.append(row)
        else:
            problems.append(row)
    if not invitees and not problems:
        raise ServiceError(_("The list has a header but no rows below it."))
    return ParsedList(invitees, problems, names, ignored)


_LETTER_OR_DIGIT = re.compile(r"[^\W_]")


def _is_placeholder(text: str) -> bool:
    """"-", "—", "/", "n/a": a spreadsheet's way of saying "nothing here"."""
    return not _LETTER_OR_DIGIT.search(text) or text.casefold() == "n/a"


def _check_row(line: int, values: dict[str, str], headers: dict[str, str],
               first_line_of: dict[str, int]) -> Invitee | Problem:
    reasons: list[str] = []
    clean: dict[str, str] = {}
    for field, raw in values.items():
        text = unicodedata.normalize("NFC", raw).strip()
        if has_control_chars(text):
            reasons.append(_("%(column)s contains characters that are not allowed",
                             column=headers[field]))
        elif tables.looks_like_formula(text):
            reasons.append(_("a spreadsheet formula, not text: '%(value)s'",
                             value=tables.shown(text)))
        else:
            if field != "email":
                text = " ".join(text.split())
            clean[field] = "" if _is_placeholder(text) else text
    refused = values.keys() - clean.keys()

    name = clean.get("name") or tables.join_name(clean.get("first_name", ""),
                                           clean.get("last_name", ""))
    if not name:
        if not refused & {"name", "first_name", "last_name"}:
            reasons.append(_("missing name"))
    elif len(name) > LIMITS["name"]:
        reasons.append(_("the name is longer than %(n)d characters", n=LIMITS["name"]))

    email = _email(clean["email"], reasons) if "email" in clean else None
    if email and email in first_line_of:
        reasons.append(_("listed twice (first on line %(line)d)", line=first_line_of[email]))

    organisation = clean.get("organisation") or None
    if organisation and len(organisation) > LIMITS["organisation"]:
        reasons.append(_("the organisation is longer than %(n)d characters",
                         n=LIMITS["organisation"]))

    country = None
    if clean.get("country"):
        country = country_code(clean["country"])
        if country is None:
            reasons.append(_("unknown country '%(value)s'", value=tables.shown(clean["country"])))

    role = "participant"
    if clean.get("role"):
        role = role_of(clean["role"])
        if role is None:
            reasons.append(_("unknown role '%(value)s' (participant, speaker, guest or VIP)",
                             value=tables.shown(clean["role"])))

    if reasons:
        return Problem(line, dict(values), tuple(reasons))
    return Invitee(line=line, name=name, email=email, organisation=organisation,
                   country=country, role=role, locale=locale_of(clean.get("language", "")))


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def _email(text: str, reasons: list[str]) -> str | None:
    """The normalised address, or None with the reason added. Pasted addresses bring
    invisible characters and "mailto:" along; a second address or a header line
    ("a@b.org\\r\\nBcc: ...") fails validation."""
    address = text.translate(_INVISIBLE).strip()
    if address[:7].casefold() == "mailto:":
        address = address[7:]
    if not address:
        reasons.append(_("missing email address"))
        return None
    if len(address) > LIMITS["email"]:
        reasons.append(_("the email address is longer than %(n)d characters",
                         n=LIMITS["email"]))
        return None
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        reasons.append(_("not an email address: '%(value)s'", value=tables.shown(text)))
        return None
    return normalise_email(checked.normalized)


# Countries, roles, languages -------------------------------------------------------------

_COUNTRY_ALIASES = {
    "usa": "US", "us": "US", "unitedstatesofamerica": "US", "america": "US",
    "uk": "GB", "greatbritain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northernireland": "GB",
    "korea": "KR", "republicofkorea": "KR", "korearepublicof": "KR",
    "russianfederation": "RU", "czechrepublic": "CZ", "turkey": "TR", "holland": "NL",
    "hongkong": "HK", "macau": "MO", "macao": "MO", "ivorycoast": "CI", "uae": "AE",
    "prc": "CN", "prchina": "CN", "peoplesrepublicofchina": "CN", "mainlandchina": "CN",
    "chinamainland": "CN", "vietnam": "VN",
    "中国大陆": "CN", "中华人民共和国": "CN", "中国香港": "HK", "香港": "HK",
    "中国澳门": "MO", "澳门": "MO", "中国台湾": "TW",
}


@cache
def _country_names() -> dict[str, str]:
    """Names in English and Chinese first (the forum's languages), then in the languages
    of the largest European partners; ISO alpha-3 codes from CLDR's territory aliases."""
    names: dict[str, str] = {}
    for locale in ("en", "zh", "zh_Hant", "de", "fr", "es", "pt", "it"):
        for code, name in country_choices(locale):
            names.setdefault(tables.key(name), code)
    for alias, targets in get_global("territory_aliases").items():
        if len(alias) == 3 and alias.isalpha() and len(targets) == 1 and is_country(targets[0]):
            names.setdefault(alias.lower(), targets[0])
    for alias, code in _COUNTRY_ALIASES.items():
        names.setdefault(alias, code)
    return names


def country_code(text: str) -> str | None:
    """ISO alpha-2 code for a code ("cn", "CHN") or a name ("China", "中国", "The
    Netherlands"), or None."""
    value = text.strip()
    if len(value) == 2 and is_country(value.upper()):
        return value.upper()
    key = tables.key(value)
    names = _country_names()
    return names.get(key) or (names.get(key[3:]) if key.startswith("the") else None)


_ROLE_NAMES = {
    "participant": ("participant", "attendee", "delegate", "参会者", "参会人员", "与会者",
                    "参会代表"),
    "speaker": ("speaker", "presenter", "keynote", "keynotespeaker", "演讲嘉宾", "讲者",
                "演讲者", "发言人", "发言嘉宾", "主讲人"),
    "guest": ("guest", "嘉宾", "来宾"),
    "vip": ("vip", "vipguest", "贵宾", "vip嘉宾"),
}
_ROLES = {tables.key(alias): role for role, aliases in _ROLE_NAMES.items() for alias in aliases}


def role_of(text: str) -> str | None:
    key = tables.key(text)
    return _ROLES.get(key) or (_ROLES.get(key[:-1]) if key.endswith("s") else None)


_LANGUAGE_ALIASES = {"mandarin": "zh", "汉语": "zh", "普通话": "zh", "简体中文": "zh_Hans",
                     "繁体中文": "zh_Hant", "繁體中文": "zh_Hant", "英语": "en", "英文": "en"}


def locale_of(text: str) -> str | None:
    """The site's locale for a code ("zh-CN", "zh_Hans") or a language name ("Chinese",
    "中文"); None for blank or a language the site does not speak (the invitation then
    goes out in the event's default language)."""
    if not text.strip():
        return None
    available = tuple(available_locales())
    found = _match_locale(text, available)
    if found is None:
        code = _language_names(available).get(tables.key(text))
        found = _match_locale(code, available) if code else None
    return found


def _match_locale(code: str, available: tuple[str, ...]) -> str | None:
    parts = [part for part in re.split(r"[-_\s]+", code.strip().lower()) if part]
    if not parts or not (parts[0].isascii() and parts[0].isalpha() and len(parts[0]) in (2, 3)):
        return None
    by_key = {locale.lower().replace("-", "_"): locale for locale in available}
    return by_key.get("_".join(parts)) or by_key.get(parts[0])


@cache
def _language_names(available: tuple[str, ...]) -> dict[str, str]:
    """Language names -> codes: each site language by its own name first ("中文"), then
    every language by its name in English and in each site language."""
    names: dict[str, str] = {}
    for code in available:
        try:
            locale = Locale.parse(code)
        except (ValueError, UnknownLocaleError):
            continue
        for name in (locale.languages.get(locale.language), locale.get_display_name(code)):
            if name:
                names.setdefault(tables.key(name), code)
    for display in dict.fromkeys(("en", *available)):
        try:
            languages = Locale.parse(display).languages
        except (ValueError, UnknownLocaleError):
            continue
        for code, name in languages.items():
            names.setdefault(tables.key(name), code)
    for alias, code in _LANGUAGE_ALIASES.items():
        names.setdefault(tables.key(alias), code)
    return names
