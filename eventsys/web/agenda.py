"""The public agenda: by day in the reader's time zone, speaker pages, the printable PDF,
photos and materials, and a participant's own marked sessions."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("agenda", __name__)
