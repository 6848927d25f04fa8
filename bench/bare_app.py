"""The ceiling of this stack: bare Flask + Flask-SQLAlchemy (psycopg 3, PostgreSQL) that
serves a tiny form with a CSRF token kept in Flask's signed session cookie, and on POST
checks the token and inserts one row. No templates engine, no forms library, no
i18n, no audit, no outbox, no broker: what is left is the cost of the stack itself.

Served the same way as the app: ``gunicorn -w 4 --chdir bench bare_app:app`` with
``BARE_DATABASE_URL`` and ``SECRET_KEY`` set. ``python bench/bare_app.py init`` creates
its one table.
"""

from __future__ import annotations

import hmac
import os
import secrets
import sys
from datetime import UTC, datetime

from flask import Flask, abort, redirect, request, session
from flask_sqlalchemy import SQLAlchemy
from markupsafe import escape
from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column


def _url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ["SECRET_KEY"],
    SQLALCHEMY_DATABASE_URI=_url(os.environ["BARE_DATABASE_URL"]),
    SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},  # as eventsys configures it
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
)
db = SQLAlchemy(app)


class Signup(db.Model):
    __tablename__ = "bare_registration"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_native: Mapped[str | None] = mapped_column(String(200))
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    mode: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC))


FORM = """<!doctype html><html><head><meta charset="utf-8"><title>Register</title></head>
<body><form method="post">
<input id="csrf_token" name="csrf_token" type="hidden" value="{token}">
<input name="name"> <input name="name_native"> <input name="email" type="email">
<input name="organisation_name"> <input name="job_title"> <input name="country">
<label><input name="mode" type="radio" value="in_person" checked> In person</label>
<button type="submit">Register</button></form></body></html>"""


@app.route("/register", methods=["GET", "POST"])
def register():
    if request.method == "GET":
        token = session.get("csrf")
        if not token:
            token = session["csrf"] = secrets.token_urlsafe(32)
        return FORM.format(token=escape(token))
    if not hmac.compare_digest(request.form.get("csrf_token", ""), session.get("csrf", "")):
        abort(400)
    form = request.form
    row = Signup(email=form["email"].strip().lower(), name=form["name"].strip(),
                 name_native=form.get("name_native") or None,
                 organisation_name=form.get("organisation_name") or None,
                 job_title=form.get("job_title") or None,
                 country=form.get("country") or None, mode=form["mode"])
    db.session.add(row)
    db.session.flush()
    row_id = row.id
    db.session.commit()
    return redirect(f"/done/{row_id}")


if __name__ == "__main__" and sys.argv[1:] == ["init"]:
    with app.app_context():
        db.create_all()
