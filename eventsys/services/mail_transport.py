"""Where outgoing mail goes: files under ``instance/mail/`` (embedded default) or SMTP.

A transport is opened once per batch and sends many messages over one connection. Errors
are sorted into two kinds the outbox understands: ``TemporaryFailure`` (try again later:
4xx replies, refused or dropped connections) and ``PermanentFailure`` (5xx: record and stop).
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


class TemporaryFailure(Exception):
    """Try again later. ``connection_lost`` says the rest of the batch cannot go now."""

    def __init__(self, message: str, *, connection_lost: bool = False) -> None:
        super().__init__(message)
        self.connection_lost = connection_lost


class PermanentFailure(Exception):
    pass


class FileConnection:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage, filename: str) -> None:
        # Write then rename, so a reader (the admin mail view) never sees half a message,
        # and a second delivery of the same outbox row replaces rather than duplicates.
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, self.directory / filename)

    def close(self) -> None:
        pass


class FileTransport:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def open(self) -> FileConnection:
        return FileConnection(self.directory)


class SMTPConnection:
    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp

    def send(self, message: EmailMessage, filename: str) -> None:
        try:
            refused = self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _classify(code, text) from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
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

    def __init__(self, url: str, timeout: float = 30.0) -> None:
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
        return SMTPConnection(smtp)


def transport_from_config(config) -> FileTransport | SMTPTransport:
    if config.get("SMTP_URL"):
        return SMTPTransport(config["SMTP_URL"])
    return FileTransport(config["MAIL_DIR"])
