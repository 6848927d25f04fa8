"""(being written)"""

from __future__ import annotations

from eventsys.web.manage import bp  # noqa: F401
