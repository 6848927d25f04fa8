"""The agenda for machines: iCalendar, frab schedule XML and JSON, the JSON API."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exports", __name__)
