"""Ticket codes and their QR codes.

A ticket code is 12 characters from an alphabet without look-alikes (no 0/O, 1/I/L, U),
about 59 random bits: short enough to read out or type at a check-in desk, far too many to
guess. The QR code carries the same code and nothing else, so a scan and a typed code take
the same path at check-in. Always a regular QR code: segno would pick Micro QR for so
short a text, and phone cameras and most scanners cannot read Micro QR.
"""

from __future__ import annotations

import base64
import io
import secrets

import segno

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS = 3
GROUP_SIZE = 4


def new_ticket_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_SIZE))
    return "-".join(raw[i : i + GROUP_SIZE] for i in range(0, len(raw), GROUP_SIZE))


def normalise_ticket_code(text: str) -> str:
    """What a person typed (any case, spaces, O for 0...) as a stored code, or ''."""
    cleaned = text.upper().replace("O", "0").replace("I", "1").replace("L", "1")
    cleaned = "".join(ch for ch in cleaned if ch.isalnum())
    if len(cleaned) != GROUPS * GROUP_SIZE or any(ch not in ALPHABET for ch in cleaned):
        return ""
    return "-".join(cleaned[i : i + GROUP_SIZE] for i in range(0, len(cleaned), GROUP_SIZE))


def qr_svg_data_uri(payload: str) -> str:
    """An inline image for pages (the CSP allows data: images, not remote ones)."""
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind="svg", scale=6, border=2,
                                         xmldecl=False, svgns=True)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def qr_png(payload: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
