"""Organiser pages for the programme and the people in it. Routes join ``manage.bp``, so
``manage._authorise`` guards them."""

from __future__ import annotations

from eventsys.web.manage import bp  # noqa: F401
