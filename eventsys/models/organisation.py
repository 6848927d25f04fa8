from __future__ import annotations

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from eventsys.extensions import db


class Organisation(db.Model):
    """A park, authority, company or institute; hosts events and employs participants."""

    __tablename__ = "organisation"
    __table_args__ = (UniqueConstraint("name", "country", name="uq_organisation_name_country"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    website: Mapped[str | None] = mapped_column(String(300))

    def __repr__(self) -> str:
        return f"<Organisation {self.name!r}>"
