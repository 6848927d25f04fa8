"""The printable programme: a PDF made by a worker with WeasyPrint, once per published
version of the agenda, and kept until the agenda changes."""

from __future__ import annotations


def render(event_id: int, version: int) -> dict:
    """Make the PDF of ``version`` of the event's agenda unless it exists; idempotent."""
    raise NotImplementedError  # built by the public-agenda work (issue 4)
