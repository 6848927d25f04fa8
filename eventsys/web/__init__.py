"""The web layer: blueprints, error pages, security headers, locale selection."""

from __future__ import annotations

from flask import Flask, has_request_context, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, IntegerConverter, ValidationError

from eventsys.extensions import db, login_manager
from eventsys.i18n import available_locales
from eventsys.models import ID_MAX
from eventsys.services import accounts
from eventsys.services.errors import ServiceError

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)


def select_locale() -> str | None:
    if not has_request_context():  # CLI, workers: the default, or force_locale's choice
        return None
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
    return request.accept_languages.best_match(available_locales()) or "en"


def select_timezone() -> str | None:
    if not has_request_context():
        return None
    if current_user and current_user.is_authenticated and current_user.timezone:
        return current_user.timezone
    return None


class SlugConverter(BaseConverter):
    """Only what an event's short name can be: anything else is a 404 before any query."""

    regex = r"[a-z0-9]+(?:-[a-z0-9]+)*"

    def to_python(self, value: str) -> str:
        if len(value) > 80:
            raise ValidationError()
        return value


class IdConverter(IntegerConverter):
    """A database id: a plain positive integer that fits the column."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=ID_MAX)


def init_web(app: Flask) -> None:
    from eventsys.services import agenda as agenda_service
    from eventsys.web import (
        admin,
        agenda,
        auth,
        certificates_download,
        exports,
        invitations,
        join,
        manage,
        manage_agenda,  # noqa: F401  (its routes join manage.bp)
        manage_attendance,  # noqa: F401  (its routes join manage.bp)
        manage_attendance_reports,  # noqa: F401  (its routes join manage.bp)
        manage_certificate_templates,  # noqa: F401  (its routes join manage.bp)
        manage_certificates,  # noqa: F401  (its routes join manage.bp)
        manage_certificates_zip,  # noqa: F401  (its routes join manage.bp)
        manage_checkin,  # noqa: F401  (its routes join manage.bp)
        manage_invitations,  # noqa: F401  (its routes join manage.bp)
        manage_jobs,  # noqa: F401  (its routes join manage.bp)
        manage_mailings,  # noqa: F401  (its routes join manage.bp)
        manage_registration,  # noqa: F401  (its routes join manage.bp)
        public,
        registration,
        verify,
    )

    app.url_map.converters["slug"] = SlugConverter
    app.url_map.converters["id"] = IdConverter

    for blueprint in (public.bp, auth.bp, registration.bp, agenda.bp, exports.bp,
                      invitations.bp, join.bp, manage.bp, verify.bp, certificates_download.bp,
                      admin.bp):
        app.register_blueprint(blueprint)
    app.jinja_env.filters["agenda_field"] = agenda_service.field_label
    app.jinja_env.filters["session_kind"] = agenda_service.kind_label
    app.jinja_env.filters["session_role"] = agenda_service.role_label

    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see that page.")
    login_manager.login_message_category = "info"
    login_manager.user_loader(accounts.load_user_from_session)

    @app.context_processor
    def _globals():
        return {
            "site_name": app.config["SITE_NAME"],
            "can_create_events": accounts.can_create_events(current_user),
        }

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error):
        return render_template(
            "errors/error.html", code=400, title=_("The form has expired"),
            message=_("This form was open too long or was not sent from this site. "
                      "Go back, reload the page and try again."),
        ), 400

    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError):
        db.session.rollback()  # whatever the failed call had begun is not kept
        return render_template(
            "errors/error.html", code=error.status_code, title=_("Sorry"), message=error.message
        ), error.status_code

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        db.session.rollback()
        messages = {
            400: _("The request could not be understood."),
            403: _("You do not have permission to see this page."),
            404: _("There is no page at this address."),
            405: _("That action is not possible here."),
            413: _("What you sent is too large."),
            429: _("Too many requests. Please wait a little and try again."),
        }
        return render_template(
            "errors/error.html", code=error.code, title=error.name,
            message=messages.get(error.code, error.description),
        ), error.code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error")
        # A failed flush leaves the session unusable; the error page itself needs it.
        db.session.rollback()
        return render_template(
            "errors/error.html", code=500, title=_("Something went wrong"),
            message=_("The error has been logged. Please try again in a moment."),
        ), 500

