"""Organiser pages for the programme and the people in it. Routes join ``manage.bp``, so
``manage._authorise`` guards them: a manager of the event for the agenda pages, anyone who
organises an event for the speaker profiles (``manage.people*``)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from eventsys.extensions import db
from eventsys.forms import ActionForm
from eventsys.forms.agenda import (
    MODE_LABELS,
    MaterialForm,
    MoveForm,
    NewPersonForm,
    PersonForm,
    PhotoForm,
    PublishForm,
    SessionForm,
)
from eventsys.models import AgendaSession, Event
from eventsys.services import agenda as programme
from eventsys.services import media
from eventsys.services.errors import ServiceError
from eventsys.web.manage import bp


@dataclass
class Row:
    """A session as the agenda page lists it: with its times on the event's clock."""

    session: AgendaSession
    start: datetime
    end: datetime
    parallel: bool  # others start at the same moment: the order among them is the organiser's


def _by_day(event: Event, sessions: list[AgendaSession]) -> list[tuple[date, list[Row]]]:
    starts = Counter(s.starts_at for s in sessions)
    days: dict[date, list[Row]] = {}
    for s in sessions:
        row = Row(s, programme.to_local(s.starts_at, event.timezone),
                  programme.to_local(s.ends_at, event.timezone), starts[s.starts_at] > 1)
        days.setdefault(row.start.date(), []).append(row)
    return sorted(days.items())


def _agenda_page(form: PublishForm, status: int = 200):
    sessions = programme.sessions_of(g.event)
    latest = programme.latest_publication(g.event)
    warnings = programme.check(g.event, sessions)
    changes = programme.changes_between(latest.snapshot if latest else None,
                                        programme.snapshot(g.event, sessions))
    return render_template(
        "manage/agenda.html", event=g.event, days=_by_day(g.event, sessions),
        warnings=warnings, titles={s.id: s.title for s in sessions},
        flagged={i for w in warnings for i in w.session_ids}, latest=latest, changes=changes,
        form=form, action=ActionForm(), move=MoveForm(), modes=MODE_LABELS,
    ), status


def _failed(exc: ServiceError) -> None:
    """Whatever the service had begun is dropped before the page is drawn again."""
    db.session.rollback()
    flash(exc.message, "error")


# The agenda ------------------------------------------------------------------------------

@bp.get("/events/<slug:slug>/agenda")
def agenda():
    return _agenda_page(PublishForm())


@bp.post("/events/<slug:slug>/agenda/publish")
def agenda_publish():
    form = PublishForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        result = programme.publish(g.event, actor=current_user,
                                   confirm_warnings=form.confirm_warnings.data,
                                   notify_participants=form.notify_participants.data)
    except ServiceError as exc:  # NeedsConfirmation is a 409; "nothing has changed" a 400
        _failed(exc)
        return _agenda_page(form, exc.status_code)
    flash(_("Published version %(version)d (%(changes)d changes, %(mailed)d people emailed).",
            version=result.version, changes=len(result.changes), mailed=result.mailed),
          "success")
    return redirect(url_for("manage.agenda", slug=g.event.slug))


# Sessions --------------------------------------------------------------------------------

def _session_page(form: SessionForm, session: AgendaSession | None, status: int,
                  material_form: MaterialForm | None = None):
    form.add_blank_rows()
    return render_template(
        "manage/session_form.html", event=g.event, form=form, session=session,
        material_form=material_form or MaterialForm(formdata=None), action=ActionForm(),
    ), status


@bp.route("/events/<slug:slug>/agenda/new", methods=["GET", "POST"])
def agenda_session_new():
    form = SessionForm(g.event, programme.people(limit=None))
    status = 200
    if form.validate_on_submit():
        try:
            session = programme.create_session(g.event, form.to_data(), actor=current_user)
        except ServiceError as exc:
            _failed(exc)
            status = 400
        else:
            flash(_("The session is added."), "success")
            return redirect(url_for("manage.agenda", slug=g.event.slug,
                                    _anchor=f"session-{session.id}"))
    elif request.method == "POST":
        status = 400
    return _session_page(form, None, status)


@bp.route("/events/<slug:slug>/agenda/<id:session_id>/edit", methods=["GET", "POST"])
def agenda_session_edit(session_id: int):
    session = programme.session_of(g.event, session_id)
    people = _with_people_of(session, programme.people(limit=None))
    form = (SessionForm(g.event, people) if request.method == "POST"
            else SessionForm.from_session(g.event, people, session))
    status = 200
    if form.validate_on_submit():
        try:
            programme.update_session(g.event, session_id, form.to_data(), actor=current_user)
        except ServiceError as exc:
            _failed(exc)
            status = 400
        else:
            flash(_("Your changes are saved."), "success")
            return redirect(url_for("manage.agenda", slug=g.event.slug,
                                    _anchor=f"session-{session_id}"))
    elif request.method == "POST":
        status = 400
    return _session_page(form, session, status)


def _with_people_of(session: AgendaSession, people: list):
    """The list to choose from holds the session's own people even past its length limit."""
    listed = {p.id for p in people}
    return people + [sp.person for sp in session.people if sp.person_id not in listed]


@bp.post("/events/<slug:slug>/agenda/<id:session_id>/duplicate")
def agenda_session_duplicate(session_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    copy = programme.duplicate_session(g.event, session_id, actor=current_user)
    flash(_("A copy is added. Change what differs and save."), "success")
    return redirect(url_for("manage.agenda_session_edit", slug=g.event.slug, session_id=copy.id))


@bp.route("/events/<slug:slug>/agenda/<id:session_id>/delete", methods=["GET", "POST"])
def agenda_session_delete(session_id: int):
    session = programme.session_of(g.event, session_id)
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        programme.delete_session(g.event, session_id, actor=current_user)
        flash(_("The session is deleted."), "success")
        return redirect(url_for("manage.agenda", slug=g.event.slug))
    return render_template("manage/session_delete.html", event=g.event, session=session,
                           action=form)


@bp.post("/events/<slug:slug>/agenda/<id:session_id>/move")
def agenda_session_move(session_id: int):
    form = MoveForm()
    if not form.validate_on_submit():
        abort(400)
    programme.move_session(g.event, session_id, -1 if form.direction.data == "up" else 1,
                           actor=current_user)
    return redirect(url_for("manage.agenda", slug=g.event.slug, _anchor=f"session-{session_id}"))


@bp.post("/events/<slug:slug>/agenda/<id:session_id>/materials")
def agenda_material_add(session_id: int):
    session = programme.session_of(g.event, session_id)
    form = MaterialForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            programme.add_material(
                g.event, session_id, title=form.title.data, filename=upload.filename or "",
                data=upload.read(media.MAX_MATERIAL_BYTES + 1), actor=current_user)
        except ServiceError as exc:
            _failed(exc)
        else:
            flash(_("The file is added."), "success")
            return redirect(url_for("manage.agenda_session_edit", slug=g.event.slug,
                                    session_id=session_id, _anchor="materials"))
    people = _with_people_of(session, programme.people(limit=None))
    return _session_page(SessionForm.from_session(g.event, people, session), session, 400,
                         material_form=form)


@bp.post("/events/<slug:slug>/agenda/<id:session_id>/materials/<id:material_id>/delete")
def agenda_material_delete(session_id: int, material_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    if programme.material_of(g.event, material_id).session_id != session_id:
        abort(404)
    programme.delete_material(g.event, material_id, actor=current_user)
    flash(_("The file is removed."), "success")
    return redirect(url_for("manage.agenda_session_edit", slug=g.event.slug,
                            session_id=session_id, _anchor="materials"))


# People ----------------------------------------------------------------------------------

# Where "add a person" from a session form returns: back to that session form only.
_RETURN_TO = re.compile(r"^/manage/events/[a-z0-9-]{1,80}/agenda/(new|[0-9]{1,10}/edit)$")


def _return_to() -> str | None:
    target = request.args.get("next", "")
    return target if _RETURN_TO.match(target) else None


@bp.get("/people")
def people():
    query = request.args.get("q", "")[:100]
    return render_template("manage/people.html", q=query,
                           people=programme.people(query, limit=programme.PEOPLE_PAGE),
                           page=programme.PEOPLE_PAGE)


@bp.route("/people/new", methods=["GET", "POST"])
def people_new():
    form = NewPersonForm()
    status = 200
    if form.validate_on_submit():
        photo = form.photo.data.read(media.MAX_PHOTO_BYTES + 1) if form.photo.data else None
        try:
            person = programme.create_person(form.to_data(), actor=current_user, photo=photo)
        except ServiceError as exc:
            _failed(exc)
            status = 400
        else:
            flash(_("%(name)s is added.", name=person.display_name), "success")
            return redirect(_return_to() or url_for("manage.people_edit", person_id=person.id))
    elif request.method == "POST":
        status = 400
    return render_template("manage/person_form.html", form=form, person=None), status


def _person_page(person, form: PersonForm, status: int, photo_form: PhotoForm | None = None):
    return render_template("manage/person_form.html", form=form, person=person,
                           photo_form=photo_form or PhotoForm(formdata=None),
                           action=ActionForm()), status


@bp.route("/people/<id:person_id>/edit", methods=["GET", "POST"])
def people_edit(person_id: int):
    person = programme.person_by_id(person_id)
    form = PersonForm() if request.method == "POST" else PersonForm.from_person(person)
    status = 200
    if form.validate_on_submit():
        try:
            programme.update_person(person, form.to_data(), actor=current_user)
        except ServiceError as exc:
            _failed(exc)
            status = 400
        else:
            flash(_("Your changes are saved."), "success")
            return redirect(url_for("manage.people", _anchor=f"person-{person_id}"))
    elif request.method == "POST":
        status = 400
    return _person_page(person, form, status)


@bp.post("/people/<id:person_id>/photo")
def people_photo(person_id: int):
    person = programme.person_by_id(person_id)
    form = PhotoForm()
    if form.validate_on_submit():
        try:
            programme.set_photo(person, form.photo.data.read(media.MAX_PHOTO_BYTES + 1),
                                actor=current_user)
        except ServiceError as exc:
            _failed(exc)
        else:
            flash(_("The photo is saved."), "success")
            return redirect(url_for("manage.people_edit", person_id=person_id))
    return _person_page(person, PersonForm.from_person(person), 400, photo_form=form)


@bp.post("/people/<id:person_id>/photo/remove")
def people_photo_remove(person_id: int):
    person = programme.person_by_id(person_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    programme.remove_photo(person, actor=current_user)
    flash(_("The photo is removed."), "success")
    return redirect(url_for("manage.people_edit", person_id=person_id))
