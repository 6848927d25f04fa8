"""Certificates as others see them: anyone checks one by its code (the QR on it points to
``/verify/<code>``) or by uploading the PDF; its holder downloads it; organisers take all of
one kind as a ZIP.

Why this shape: the public sees only what is printed on the certificate (holder, event,
kind, date) and its status, so a verification page leaks nothing the paper does not say. A
code is looked up as a person types it (any case, spaces, dashes) but answered "unknown"
alike whether it is mistyped, malformed or absent, and lookups are rate-limited per client
(``limit``), so codes cannot be guessed by asking. A file's bytes are trusted only when
their SHA-256 matches the record: a PDF is served, mailed or zipped only then.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import logging
import re
import threading
import time
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from eventsys.extensions import db
from eventsys.models import Certificate, Event, User
from eventsys.services import audit
from eventsys.services.errors import NotFound, ServiceError, Throttled
from eventsys.services.roster import inert

log = logging.getLogger(__name__)

FILES = "certificates"  # under FILES_DIR
MAX_PDF_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024
# Longer than any code with its dashes and spaces: anything longer is not looked up at all.
_MAX_TYPED = 64

KIND_LABELS = {
    "completion": _l("Certificate of completion"),
    "participation": _l("Certificate of participation"),
    "speaker": _l("Certificate of presentation"),
    "organiser": _l("Certificate of appreciation (organiser)"),
}


class FileTooLarge(ServiceError):
    status_code = 413


class Gone(ServiceError):
    status_code = 410


# Looking a code up -------------------------------------------------------------------------

def normalised(typed: str | None) -> str | None:
    """The code as stored, from what a person typed or a QR carried; None for what cannot
    be a code (too long, wrong characters). The rules of what a code is are the issuer's
    (``certificates.normalise_code``); this only keeps junk away from them."""
    from eventsys.services import certificates  # the issuer's module; imports nothing of ours

    if not isinstance(typed, str) or not typed.strip() or len(typed) > _MAX_TYPED:
        return None
    try:
        code = certificates.normalise_code(typed)
    except (ValueError, ServiceError):
        return None
    return code or None


def find(typed: str | None) -> Certificate | None:
    code = normalised(typed)
    if code is None:
        return None
    return db.session.scalar(select(Certificate).where(Certificate.code == code))


@dataclass(frozen=True)
class Verification:
    """What the verification page says: what is printed on the certificate, and its
    status. No email, no registration details, no other certificate's code."""

    code: str
    kind: str
    holder_name: str
    holder_name_native: str | None
    event_title: str
    event_slug: str
    event_public: bool
    event_start: date
    event_end: date
    issued_at: datetime
    issued_on: date  # where the event took place, as the certificate prints it
    status: str  # "valid" or "revoked"
    revoked_on: date | None
    revoked_reason: str | None
    # A corrected certificate was issued to the same holder after this one: when. Its code
    # is the holder's to give, so it is not shown.
    replaced_on: date | None
    # The issued file's SHA-256, for those who would check a file without uploading it
    # (``sha256sum``, ``certutil -hashfile``): it tells nothing the page does not.
    sha256: str = ""

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def valid(self) -> bool:
        return self.status == "valid"


def local_date(moment: datetime | None, timezone: str) -> date | None:
    return moment.astimezone(ZoneInfo(timezone)).date() if moment is not None else None


def _replacement(certificate: Certificate) -> Certificate | None:
    holder = (Certificate.registration_id == certificate.registration_id
              if certificate.registration_id is not None
              else Certificate.person_id == certificate.person_id
              if certificate.person_id is not None else None)
    if holder is None:
        return None
    return db.session.scalar(
        select(Certificate).where(
            Certificate.event_id == certificate.event_id, Certificate.kind == certificate.kind,
            holder, Certificate.version > certificate.version, Certificate.status == "valid")
        .order_by(Certificate.version.desc()).limit(1))


def issued_on(certificate: Certificate) -> date:
    """The date of issue printed on it (the job's day, fixed when the organiser clicked),
    not the moment its batch was stored, which may be after midnight: the page must not
    contradict the paper."""
    printed = (certificate.data or {}).get("issued_on")
    if printed:
        return date.fromisoformat(printed)
    return local_date(certificate.issued_at, certificate.event.timezone)


def describe(certificate: Certificate) -> Verification:
    event: Event = certificate.event
    replaced = _replacement(certificate) if certificate.status == "revoked" else None
    return Verification(
        code=certificate.code, kind=certificate.kind, holder_name=certificate.holder_name,
        holder_name_native=certificate.holder_name_native, event_title=event.title,
        event_slug=event.slug, event_public=event.status != "draft",
        event_start=event.start_date, event_end=event.end_date,
        issued_at=certificate.issued_at,
        issued_on=issued_on(certificate),
        status=certificate.status,
        revoked_on=local_date(certificate.revoked_at, event.timezone)
        if certificate.status == "revoked" else None,
        revoked_reason=certificate.revoked_reason if certificate.status == "revoked" else None,
        replaced_on=local_date(replaced.issued_at, event.timezone) if replaced else None,
        sha256=certificate.sha256,
    )


def unknown_code() -> NotFound:
    return NotFound(_("No certificate has this code. Check that you typed it exactly as "
                      "printed on the certificate, below its QR code."))


def verify(typed: str | None) -> Verification:
    """The certificate a code names; NotFound (the same answer) for any code that names
    none, however malformed."""
    certificate = find(typed)
    if certificate is None:
        raise unknown_code()
    return describe(certificate)


# Checking a file ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PdfCheck:
    matches: bool
    certificate: Verification


def _digest(data: bytes | IO[bytes], limit: int) -> tuple[str, int, bytes]:
    """SHA-256, size and first bytes of ``data`` (bytes or a file), read in chunks and never
    past ``limit`` + 1 bytes."""
    if isinstance(data, bytes | bytearray):
        if len(data) > limit:
            raise too_large()
        return hashlib.sha256(data).hexdigest(), len(data), bytes(data[:8])
    digest, size, head = hashlib.sha256(), 0, b""
    while chunk := data.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large()
        if len(head) < 8:
            head += chunk[:8 - len(head)]
        digest.update(chunk)
    return digest.hexdigest(), size, head


def too_large() -> FileTooLarge:
    return FileTooLarge(_("This file is larger than %(mb)d MB: it is not a certificate "
                          "issued here.", mb=MAX_PDF_BYTES // (1024 * 1024)))


def check_pdf(typed_code: str | None, data: bytes | IO[bytes]) -> PdfCheck:
    """Whether ``data`` is byte for byte the PDF issued under this code (its SHA-256 and
    size match the record). NotFound for an unknown code, FileTooLarge past
    ``MAX_PDF_BYTES``, ServiceError for what is not a PDF at all."""
    certificate = find(typed_code)
    if certificate is None:
        raise unknown_code()
    sha256, size, head = _digest(data, MAX_PDF_BYTES)
    if size == 0 or not head.startswith(b"%PDF-"):
        raise ServiceError(_("This file is not a PDF. Upload the certificate's PDF file."))
    matches = size == certificate.size and hmac.compare_digest(sha256, certificate.sha256)
    return PdfCheck(matches, describe(certificate))


# Rate limits --------------------------------------------------------------------------------

# action -> (config key, default per minute)
LIMITS = {"lookup": ("VERIFY_LOOKUPS_PER_MINUTE", 30), "upload": ("VERIFY_UPLOADS_PER_MINUTE", 5)}
_PERIOD = 60.0


class _LocalLimits:
    """The same rule per process, when there is no Redis (the embedded setup) or it cannot
    be reached: allowance times ("theoretical arrival times") by key, pruned as they pass."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tats: dict[str, float] = {}

    def wait_for(self, key: str, interval: float, period: float) -> float:
        with self.lock:
            now = time.monotonic()
            if len(self.tats) > 10_000:
                self.tats = {k: t for k, t in self.tats.items() if t > now}
            tat = max(self.tats.get(key, 0.0), now) + interval
            if tat - now > period:
                return tat - now - period
            self.tats[key] = tat
            return 0.0


class _RedisLimits:
    """Shared by every web process: the allowance time per key kept in Redis and taken by a
    short script on Redis's clock."""

    _SCRIPT = """
    local now = redis.call('TIME')
    now = tonumber(now[1]) + tonumber(now[2]) / 1000000
    local interval, period = tonumber(ARGV[1]), tonumber(ARGV[2])
    local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + interval
    if tat - now > period then
      return math.ceil((tat - now - period) * 1000)
    end
    redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000))
    return 0
    """
    _scripts: dict[str, object] = {}
    _down_until = 0.0

    @classmethod
    def wait_for(cls, url: str, key: str, interval: float, period: float) -> float | None:
        """Seconds to wait, or None when Redis cannot answer (asked again in a minute)."""
        if time.monotonic() < cls._down_until:
            return None
        try:
            script = cls._scripts.get(url)
            if script is None:
                import redis

                client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
                script = cls._scripts[url] = client.register_script(cls._SCRIPT)
            return int(script(keys=[key], args=[interval, period])) / 1000
        except Exception:
            cls._down_until = time.monotonic() + 60
            log.warning("verification rate limit: Redis unreachable, limiting per process "
                        "for a minute", exc_info=True)
            return None


def limit(action: str, client: str) -> None:
    """Count one ``action`` ("lookup" or "upload") by ``client`` (an IP address); Throttled
    with the seconds to wait once it has done more than its share this minute.

    The rule (the "generic cell rate algorithm"): N a minute, of which all N may come at
    once, then one more each 60/N seconds. Kept in Redis when the site has one, so every
    web process counts together; else per process (the embedded setup runs one)."""
    config_key, default = LIMITS[action]
    per_minute = int(current_app.config.get(config_key, default))
    if per_minute <= 0:
        return
    interval = _PERIOD / per_minute
    key = f"eventsys:verify-limit:{action}:{client[:64]}"
    wait = None
    if current_app.config.get("REDIS_URL"):
        wait = _RedisLimits.wait_for(current_app.config["REDIS_URL"], key, interval, _PERIOD)
    if wait is None:
        local = current_app.extensions.setdefault("verify_rate_limits", _LocalLimits())
        wait = local.wait_for(key, interval, _PERIOD)
    if wait > 0:
        seconds = max(1, int(wait + 0.999))
        raise Throttled(_("Too many checks from your network in a short time. Please wait "
                          "%(seconds)d seconds and try again.", seconds=seconds), seconds)


# The files ----------------------------------------------------------------------------------

def _stored_path(stored_name: str | None) -> Path | None:
    """FILES_DIR/certificates/<stored_name>, or None when it is missing or the name would
    lead out of that directory."""
    base = (Path(current_app.config["FILES_DIR"]) / FILES).resolve()
    if not stored_name or "\\" in stored_name or stored_name.startswith("/"):
        return None
    path = (base / stored_name).resolve()
    return path if base in path.parents and path.is_file() else None


def _read_as_issued(stored_name: str, size: int, sha256: str) -> bytes | None:
    path = _stored_path(stored_name)
    data = path.read_bytes() if path is not None else None
    if data is None or len(data) != size or not hmac.compare_digest(
            hashlib.sha256(data).hexdigest(), sha256):
        log.error("certificate file %s is missing or not as issued", stored_name)
        return None
    return data


def read_intact(certificate: Certificate) -> bytes | None:
    """The certificate's PDF when its bytes are the ones issued (size and SHA-256 as
    recorded); None, and an error in the log, for a file missing or changed since."""
    return _read_as_issued(certificate.stored_name, certificate.size, certificate.sha256)


# The holder's certificates (/r/<token>) -----------------------------------------------------

def certificates_of(registration_id: int) -> list[Certificate]:
    """A participant's certificates as their page lists them: per kind, the latest version
    (valid, or revoked with nothing after it)."""
    latest: dict[str, Certificate] = {}
    for certificate in db.session.scalars(
            select(Certificate).where(Certificate.registration_id == registration_id)
            .order_by(Certificate.kind, Certificate.version.desc(), Certificate.id.desc())):
        latest.setdefault(certificate.kind, certificate)
    return sorted(latest.values(), key=lambda c: (c.issued_at, c.id))


def holder_download(registration_id: int, certificate_id: int) -> tuple[Certificate, bytes]:
    """A participant's own valid certificate and its intact file. NotFound for anyone
    else's (the same answer as for none at all), Gone for a revoked one."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.registration_id != registration_id:
        raise NotFound(_("There is no such certificate."))
    if certificate.status != "valid":
        raise Gone(_("This certificate was revoked and can no longer be downloaded."))
    data = read_intact(certificate)
    if data is None:
        raise ServiceError(_("This certificate's file cannot be delivered just now. The "
                             "organisers have been told; please try again later."))
    return certificate, data


def download_name(certificate: Certificate) -> str:
    kind = re.sub(r"[^a-z0-9]+", "-", certificate.kind.lower())
    return f"{certificate.event.slug}-{kind}-certificate.pdf"


# All of one kind, as a ZIP (organisers) -----------------------------------------------------

# Latin letters that are not a base letter plus accents, so NFKD leaves them whole.
_LATIN_LETTERS = str.maketrans({"đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O",
                                "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
                                "þ": "th", "Þ": "Th", "\u0131": "i", "ħ": "h"})


def ascii_name(text: str | None, limit: int = 60) -> str:
    """A file-name-safe ASCII rendering of a name: accents dropped ("Đorđević" ->
    "Dordevic"), other scripts left out, runs of anything else a single dash."""
    folded = unicodedata.normalize("NFKD", (text or "").translate(_LATIN_LETTERS))
    ascii_text = folded.encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-")[:limit].strip("-")


@dataclass(frozen=True)
class ArchiveEntry:
    certificate_id: int
    filename: str
    holder_name: str
    holder_name_native: str | None
    organisation: str | None
    country: str | None
    code: str
    version: int
    issued_at: datetime
    sha256: str
    size: int
    stored_name: str


def archive_entries(event: Event, kind: str) -> list[ArchiveEntry]:
    """The valid certificates of one kind of an event, each with its name in the ZIP
    (ASCII name and code: unique, as codes are), by holder name. Plain rows, not the
    files: the ZIP reads each file as it writes it."""
    rows = db.session.execute(
        select(Certificate.id, Certificate.holder_name, Certificate.holder_name_native,
               Certificate.organisation, Certificate.country, Certificate.code,
               Certificate.version, Certificate.issued_at, Certificate.sha256,
               Certificate.size, Certificate.stored_name)
        .where(Certificate.event_id == event.id, Certificate.kind == kind,
               Certificate.status == "valid")
        .order_by(Certificate.holder_name, Certificate.id)).all()
    return [ArchiveEntry(
        certificate_id=row.id,
        filename=f"{ascii_name(row.holder_name) or 'certificate'}-{ascii_name(row.code, 40)}.pdf",
        holder_name=row.holder_name, holder_name_native=row.holder_name_native,
        organisation=row.organisation, country=row.country, code=row.code,
        version=row.version, issued_at=row.issued_at, sha256=row.sha256, size=row.size,
        stored_name=row.stored_name) for row in rows]


def archive(event: Event, kind: str, *, actor: User | None) -> list[ArchiveEntry]:
    """What an organiser's ZIP holds (``archive_entries``), the download recorded in the
    audit log; NotFound when no certificate of this kind is valid."""
    entries = archive_entries(event, kind)
    if not entries:
        raise NotFound(_("No valid certificates of this kind have been issued for this event "
                         "yet, so there is nothing to download."))
    audit.record("certificates.downloaded", actor=actor, event_id=event.id, kind=kind,
                 count=len(entries))
    db.session.commit()
    return entries


class _Chunks(io.RawIOBase):
    """A write-only stream whose bytes are taken away as they come: ``zipfile`` writes into
    it, the response sends what it holds. Not seekable, so ``zipfile`` writes each member's
    sizes after its data (a data descriptor) and never goes back."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def write_archive(entries: list[ArchiveEntry]) -> Iterator[bytes]:
    """The ZIP of ``entries``, in pieces as it is written: one certificate's file is in
    memory at a time, never the archive. A file that is missing or not as issued is left
    out and named in PROBLEMS.txt; certificates.csv lists what is in the archive."""
    sink = _Chunks()
    manifest = io.StringIO()
    table = csv.writer(manifest)
    table.writerow(["file", "name", "native_name", "organisation", "country", "code",
                    "version", "issued_at", "sha256"])
    problems: list[str] = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for entry in entries:
            data = _read_as_issued(entry.stored_name, entry.size, entry.sha256)
            if data is None:
                problems.append(f"{entry.filename}: the file is missing or not as issued "
                                f"(certificate {entry.code})")
                continue
            info = zipfile.ZipInfo(entry.filename, date_time=_zip_time(entry.issued_at))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
            # Names and organisations are typed by participants: a spreadsheet must never
            # take one for a formula (roster.inert, as every export).
            table.writerow([entry.filename, inert(entry.holder_name),
                            inert(entry.holder_name_native or ""),
                            inert(entry.organisation or ""), entry.country or "", entry.code,
                            entry.version, entry.issued_at.isoformat(), entry.sha256])
            yield sink.take()
        zf.writestr("certificates.csv", "\ufeff" + manifest.getvalue())  # BOM: for Excel
        if problems:
            log.error("certificate ZIP: %d files missing or damaged", len(problems))
            zf.writestr("PROBLEMS.txt", "\n".join(problems) + "\n")
    yield sink.take()


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    value = max(moment, datetime(1980, 1, 1, tzinfo=moment.tzinfo))
    return (value.year, value.month, value.day, value.hour, value.minute, value.second)
