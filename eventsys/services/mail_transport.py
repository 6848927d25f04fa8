"""Where outgoing mail goes: files under ``instance/mail/`` (embedded default) or SMTP.

A transport is opened once per batch and sends many messages over one connection. Errors
are sorted into two kinds the outbox understands: ``TemporaryFailure`` (try again later:
4xx replies, refused or dropped connections) and ``PermanentFailure`` (5xx: record and stop).
``SMTP_MAX_PER_SECOND`` caps what all workers together send to one SMTP server
(``RateLimit``). ``mime_message`` writes the bytes that go over the wire.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import smtplib
import ssl
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import encode_rfc2231, format_datetime, formataddr, parseaddr, quote
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)
CRLF = b"\r\n"


class TemporaryFailure(Exception):
    """Try again later. ``connection_lost`` says the rest of the batch cannot go now."""

    def __init__(self, message: str, *, connection_lost: bool = False) -> None:
        super().__init__(message)
        self.connection_lost = connection_lost


class PermanentFailure(Exception):
    pass


@dataclass(frozen=True)
class Envelope:
    """One message as it goes out: the SMTP envelope and the message's bytes."""

    mail_from: str
    rcpt_to: str
    content: bytes
    filename: str  # where the file transport writes it
    smtputf8: bool = False  # an address is not ASCII: the server must accept SMTPUTF8


class FileConnection:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, envelope: Envelope) -> None:
        # Write then rename, so a reader (the admin mail view) never sees half a message,
        # and a second delivery of the same outbox row replaces rather than duplicates.
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        with os.fdopen(fd, "wb") as handle:  # as files are, with LF line ends
            handle.write(envelope.content.replace(b"\r\n", b"\n"))
        os.replace(tmp, self.directory / envelope.filename)

    def close(self) -> None:
        pass


class FileTransport:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def open(self) -> FileConnection:
        return FileConnection(self.directory)


class SMTPConnection:
    def __init__(self, smtp: smtplib.SMTP, limit: RateLimit | None = None) -> None:
        self.smtp = smtp
        self.limit = limit

    def send(self, envelope: Envelope) -> None:
        if self.limit is not None:
            self.limit.wait()
        try:
            refused = self.smtp.sendmail(envelope.mail_from, [envelope.rcpt_to],
                                         envelope.content,
                                         mail_options=("SMTPUTF8",) if envelope.smtputf8 else ())
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _classify(code, text) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentFailure(f"the mail server does not accept this address: {exc}") from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise TemporaryFailure(f"connection lost: {exc}", connection_lost=True) from exc
        if refused:  # only some recipients refused; we send one recipient per message
            code, text = next(iter(refused.values()))
            raise _classify(code, text)

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


def _classify(code: int, text: bytes | str) -> Exception:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    message = f"{code} {text}".strip()
    if 500 <= code < 600:
        return PermanentFailure(message)
    # 421 means the server is closing the connection: the rest of the batch waits too.
    return TemporaryFailure(message, connection_lost=code == 421)


class SMTPTransport:
    """``smtp://[user:password@]host[:port][?starttls=1]`` or ``smtps://...`` (implicit TLS)."""

    def __init__(self, url: str, timeout: float = 30.0, limit: RateLimit | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(f"SMTP_URL must look like smtp://host:port, not {url!r}")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        query = parse_qs(parts.query)
        self.starttls = query.get("starttls", ["0"])[0] in {"1", "true", "yes"}
        self.timeout = timeout
        self.limit = limit

    def open(self) -> SMTPConnection:
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPResponseException as exc:
            raise TemporaryFailure(f"{exc.smtp_code} {exc.smtp_error!r}",
                                   connection_lost=True) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"cannot connect to {self.host}:{self.port}: {exc}",
                                   connection_lost=True) from exc
        return SMTPConnection(smtp, self.limit)


def transport_from_config(config) -> FileTransport | SMTPTransport:
    if config.get("SMTP_URL"):
        transport = SMTPTransport(config["SMTP_URL"])
        per_second = float(config.get("SMTP_MAX_PER_SECOND") or 0)
        if per_second > 0:
            transport.limit = RateLimit(f"{transport.host}:{transport.port}", per_second,
                                        config.get("REDIS_URL"))
        return transport
    return FileTransport(config["MAIL_DIR"])


# Rate limit --------------------------------------------------------------------------------

class RateLimit:
    """At most ``per_second`` messages a second to one server (``key``: host:port), spread
    evenly: each message takes the next free slot, 1/per_second after the one before, and
    its sender sleeps until then (the "generic cell rate algorithm"). So 20 a second is one
    message every 50 ms, never a burst of 20 followed by a wait, which some providers count
    against a sender too.

    With Redis, the time of the next free slot is kept there, per server, and taken by a
    short Lua script on Redis's own clock (one round trip per message; every worker process
    on every host shares it). Without Redis, or while it cannot be reached, per process:
    mail must go out even when the limiter cannot ask."""

    _SCRIPT = """
    local now = redis.call('TIME')
    now = tonumber(now[1]) + tonumber(now[2]) / 1000000
    local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
    local interval = tonumber(ARGV[1])
    redis.call('SET', KEYS[1], string.format('%.6f', slot + interval),
               'PX', math.ceil((slot + interval - now) * 1000) + 1000)
    return math.floor((slot - now) * 1000000)
    """
    _slots: dict[str, float] = {}  # per process: key -> next free slot (time.monotonic)
    _lock = threading.Lock()
    _scripts: dict[str, object] = {}
    _redis_down_until = 0.0

    def __init__(self, key: str, per_second: float, redis_url: str | None) -> None:
        self.key = key
        self.interval = 1.0 / per_second
        self.redis_url = redis_url

    def wait(self) -> None:
        delay = None
        if self.redis_url and time.monotonic() >= RateLimit._redis_down_until:
            try:
                delay = self._reserve_in_redis()
            except Exception:
                # Asked again in a minute, not before each message (each would wait for
                # the connection to time out).
                RateLimit._redis_down_until = time.monotonic() + 60
                log.warning("SMTP rate limit: Redis unreachable, limiting per process for "
                            "a minute", exc_info=True)
        if delay is None:
            delay = self._reserve_here()
        if delay > 0:
            time.sleep(delay)

    def _reserve_here(self) -> float:
        with self._lock:
            now = time.monotonic()
            slot = max(self._slots.get(self.key, 0.0), now)
            self._slots[self.key] = slot + self.interval
        return slot - now

    def _reserve_in_redis(self) -> float:
        script = self._scripts.get(self.redis_url)
        if script is None:
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_timeout=2,
                                          socket_connect_timeout=2)
            script = self._scripts[self.redis_url] = client.register_script(self._SCRIPT)
        micros = script(keys=[f"eventsys:smtp-rate:{self.key}"], args=[self.interval])
        return int(micros) / 1_000_000


# The message's bytes -----------------------------------------------------------------------

def mime_message(*, mail_from: str, to_email: str, to_name: str | None, subject: str,
                 message_id: str, date: datetime, text: str, html: str | None,
                 attachments: Sequence[tuple[str, str, bytes]] = ()) -> tuple[bytes, bool]:
    """The message as it goes over the wire (CRLF lines), and whether it needs SMTPUTF8.

    Written directly rather than through ``email.message.EmailMessage``, whose header
    objects and generator cost a millisecond and a half a message, more than rendering the
    templates (bench/mail.py). The parts are the usual ones: text and HTML as
    ``multipart/alternative``, in UTF-8, quoted-printable (or base64 when shorter, as for
    Chinese text); attachments around them in ``multipart/mixed``. An address that is not
    ASCII needs the SMTPUTF8 extension, and goes through ``EmailMessage`` instead."""
    from_name, from_address = sender_of(mail_from)
    if not (from_address.isascii() and to_email.isascii()):
        return _international(mail_from=mail_from, to_email=to_email, to_name=to_name,
                              subject=subject, message_id=message_id, date=date, text=text,
                              html=html, attachments=attachments), True
    lines = [b"From: " + _address(from_name, from_address),
             b"To: " + _address(to_name, to_email),
             b"Subject: " + _header("Subject", subject),
             b"Message-ID: " + message_id.encode("ascii"),
             b"Date: " + format_datetime(date).encode("ascii"),
             b"Auto-Submitted: auto-generated",
             b"MIME-Version: 1.0"]
    body = [_text_part(text, "plain")]
    if html is not None:
        body.append(_text_part(html, "html"))
    if len(body) == 1 and not attachments:
        return CRLF.join(lines) + CRLF + body[0], False
    parts = _multipart("alternative", body) if len(body) > 1 else body[0]
    if attachments:
        parts = _multipart("mixed", [parts, *(_attachment(*item) for item in attachments)])
    return CRLF.join(lines) + CRLF + parts, False


@lru_cache(maxsize=8)
def sender_of(mail_from: str) -> tuple[str, str]:
    """(name, address) of MAIL_FROM, read once."""
    return parseaddr(mail_from)


def _plain(value: str) -> bool:
    """Text that can stand in a header as it is (else: RFC 2047 encoded words, which also
    keep a user's text that looks like an encoded word from being decoded as one)."""
    return value.isascii() and "=?" not in value


def _header(name: str, value: str) -> bytes:
    if _plain(value) and len(value) <= 900:
        return value.encode("ascii")
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n").encode("ascii")


def _address(name: str | None, address: str) -> bytes:
    if not name:
        return address.encode("ascii")
    if _plain(name):
        return formataddr((name, address)).encode("ascii")  # quoted when it needs to be
    return _header("To", name) + b" <" + address.encode("ascii") + b">"


def _text_part(content: str, subtype: str) -> bytes:
    data = content.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode()
    quoted = binascii.b2a_qp(data, istext=True).replace(b"\r\n", b"\n").replace(b"\n", CRLF)
    encoded = base64.encodebytes(data).replace(b"\n", CRLF)
    if len(quoted) <= len(encoded):
        encoding, payload = b"quoted-printable", quoted
    else:
        encoding, payload = b"base64", encoded
    if not payload.endswith(CRLF):  # a soft line break: the text is exactly what was given
        payload += b"=" + CRLF
    return (b"Content-Type: text/" + subtype.encode() + b'; charset="utf-8"' + CRLF
            + b"Content-Transfer-Encoding: " + encoding + CRLF + CRLF + payload)


def _attachment(filename: str, content_type: str, data: bytes) -> bytes:
    if filename.isascii() and '"' not in filename and "\\" not in filename:
        disposition = f'attachment; filename="{filename}"'
    else:
        disposition = f"attachment; filename*={encode_rfc2231(filename, 'utf-8')}"
    return (f"Content-Type: {content_type}".encode("ascii") + CRLF
            + b"Content-Transfer-Encoding: base64" + CRLF
            + b"Content-Disposition: " + disposition.encode("ascii") + CRLF + CRLF
            + base64.encodebytes(data).replace(b"\n", CRLF))


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    # "=_" never occurs in quoted-printable or base64 text, so the boundary cannot either.
    boundary = f"=_{secrets.token_hex(12)}".encode("ascii")
    out = [b"Content-Type: multipart/" + subtype.encode() + b'; boundary="' + boundary + b'"',
           b""]
    for part in parts:
        out.append(b"--" + boundary)
        out.append(part)
    out.append(b"--" + boundary + b"--")
    return CRLF.join(out) + CRLF


def _international(*, mail_from, to_email, to_name, subject, message_id, date, text, html,
                   attachments) -> bytes:
    email = EmailMessage(policy=policy.SMTPUTF8)
    email["From"] = mail_from
    email["To"] = f'"{quote(to_name)}" <{to_email}>' if to_name else to_email
    email["Subject"] = subject
    email["Message-ID"] = message_id
    email["Date"] = format_datetime(date)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(text)
    if html is not None:
        email.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, _slash, subtype = content_type.partition("/")
        email.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return email.as_bytes()
