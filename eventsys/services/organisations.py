from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from eventsys.extensions import db
from eventsys.i18n import is_country
from eventsys.models import Organisation
from eventsys.services.errors import ServiceError


def find_or_create(name: str, country: str | None) -> Organisation:
    """One row per organisation name and country, matched without regard to case."""
    name = " ".join(name.split())
    if not name:
        raise ServiceError(_("An organisation needs a name."))
    country = (country or "").upper() or None
    if country is not None and not is_country(country):
        raise ServiceError(_("Unknown country code %(code)s.", code=country))
    query = select(Organisation).where(func.lower(Organisation.name) == name.lower())
    query = query.where(
        Organisation.country == country if country else Organisation.country.is_(None)
    )
    organisation = db.session.scalar(query)
    if organisation is None:
        organisation = Organisation(name=name[:200], country=country)
        db.session.add(organisation)
        db.session.flush()
    return organisation
