"""Organiser pages for registrations (invitations are in manage_invitations.py). Routes hang
on the manage blueprint, so its one authorisation check (``manage._authorise``) covers them."""

from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from eventsys.extensions import db
from eventsys.forms import ActionForm
from eventsys.forms.manage_registration import (
    QUESTION_KIND_LABELS,
    DecisionForm,
    DetailsForm,
    MoveForm,
    QuestionForm,
    RegistrationSettingsForm,
)
from eventsys.services import audit_trail, questions, registration, roster
from eventsys.services.errors import ServiceError
from eventsys.web.manage import bp


def _filter() -> roster.RosterFilter:
    args = request.args
    return roster.RosterFilter(status=args.get("status"), mode=args.get("mode"),
                               country=args.get("country"), q=args.get("q"))


@bp.get("/events/<slug:slug>/registrations")
def event_registrations():
    current = _filter().clean()
    page = roster.page_of(g.event, current, request.args.get("page", 1, type=int) or 1)
    return render_template(
        "manage/registrations.html", event=g.event, page=page, filter=current,
        counts=registration.counts(g.event), countries=roster.countries(g.event),
        decision=DecisionForm(),
    )


@bp.post("/events/<slug:slug>/registrations/decide")
def event_registrations_decide():
    form = DecisionForm()
    ids = [int(i) for i in request.form.getlist("ids") if i.isascii() and i.isdigit()
           and len(i) < 10]
    if not form.validate_on_submit():
        abort(400)
    if not ids:
        flash(_("Tick the registrations first."), "error")
        return redirect(request.referrer or url_for("manage.event_registrations",
                                                    slug=g.event.slug))
    ids = registration.ids_of_event(g.event, ids)
    try:
        if form.action.data == "approve":
            result = registration.approve(ids, actor=current_user)
            flash(_("Approved: %(c)d confirmed, %(w)d on the waiting list, %(f)d left pending "
                    "(no places), %(s)d not pending.", c=result["confirmed"],
                    w=result["waitlisted"], f=result["full"], s=result["skipped"]), "success")
        elif form.action.data == "decline":
            n = registration.decline(ids, actor=current_user, reason=form.reason.data)
            flash(_("Declined: %(n)d.", n=n), "success")
        else:
            n = registration.cancel_many(ids, actor=current_user, reason=form.reason.data)
            flash(_("Cancelled: %(n)d.", n=n), "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(request.referrer or url_for("manage.event_registrations",
                                                slug=g.event.slug))


@bp.get("/events/<slug:slug>/registrations/<id:registration_id>")
def event_registration(registration_id: int):
    found = registration.of_event(g.event, registration_id)
    return _registration_page(found, DetailsForm.of(found))


def _registration_page(found, details: DetailsForm, problem: str | None = None) -> str:
    return render_template(
        "manage/registration.html", event=g.event, registration=found,
        history=audit_trail.of_target("Registration", found.id),
        decision=DecisionForm(), move=MoveForm(mode=found.mode),
        details=details, details_problem=problem, questions=g.event.questions,
    )


@bp.post("/events/<slug:slug>/registrations/<id:registration_id>/details")
def event_registration_details(registration_id: int):
    found = registration.of_event(g.event, registration_id)
    form = DetailsForm.of(found, formdata=request.form)
    problem = None
    if form.validate_on_submit():
        try:
            changed = registration.correct_details(found, form.to_input(), actor=current_user)
        except ServiceError as exc:
            db.session.rollback()
            problem = exc.message
        else:
            flash(_("Corrected: %(what)s.", what=", ".join(
                str(registration.DETAIL_LABELS[k]) for k in changed)) if changed
                else _("Nothing was changed."), "success")
            return redirect(url_for("manage.event_registration", slug=g.event.slug,
                                    registration_id=registration_id, _anchor="details"))
    return _registration_page(found, form, problem), 400


@bp.post("/events/<slug:slug>/registrations/<id:registration_id>/move")
def event_registration_move(registration_id: int):
    form = MoveForm()
    found = registration.of_event(g.event, registration_id)
    if not form.validate_on_submit():
        abort(400)
    try:
        registration.move_mode(found.id, form.mode.data, actor=current_user)
        flash(_("Moved."), "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("manage.event_registration", slug=g.event.slug,
                            registration_id=registration_id))


@bp.get("/events/<slug:slug>/registrations.<any(csv, xlsx):fmt>")
def event_registrations_export(fmt: str):
    if fmt == "csv":
        body, mimetype = roster.export_csv(g.event, _filter()), "text/csv"
    else:
        body = roster.export_xlsx(g.event, _filter())
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{g.event.slug}-registrations.{fmt}"',
        "Cache-Control": "no-store",
    })


@bp.route("/events/<slug:slug>/registration-settings", methods=["GET", "POST"])
def event_registration_settings():
    capacities = {c.mode: c.capacity for c in registration.counts(g.event)}
    form = (RegistrationSettingsForm() if request.method == "POST"
            else RegistrationSettingsForm.for_event(g.event, capacities))
    status = 200
    if form.validate_on_submit():
        try:
            promoted = registration.update_settings(g.event, form.to_settings(g.event),
                                                    actor=current_user)
        except ServiceError as exc:
            flash(exc.message, "error")
            status = 400
        else:
            flash(_("Saved."), "success")
            if promoted:
                flash(_("%(n)d waiting registrations got a place.", n=len(promoted)), "success")
            return redirect(url_for("manage.event_registration_settings", slug=g.event.slug))
    elif request.method == "POST":
        status = 400
    return render_template("manage/registration_settings.html", event=g.event, form=form,
                           counts=registration.counts(g.event)), status


@bp.route("/events/<slug:slug>/questions", methods=["GET", "POST"])
def event_questions():
    form = QuestionForm()
    status = 200
    if form.validate_on_submit():
        try:
            questions.add_question(g.event, kind=form.kind.data, label=form.label.data,
                                   help_text=form.help_text.data, required=form.required.data,
                                   choices=form.choice_list(), actor=current_user)
        except ServiceError as exc:
            flash(exc.message, "error")
            status = 400
        else:
            flash(_("The question is added."), "success")
            return redirect(url_for("manage.event_questions", slug=g.event.slug))
    elif request.method == "POST":
        status = 400
    return render_template("manage/questions.html", event=g.event, form=form,
                           action=ActionForm(), kinds=QUESTION_KIND_LABELS), status


@bp.route("/events/<slug:slug>/questions/<id:question_id>", methods=["GET", "POST"])
def event_question(question_id: int):
    question = questions.question_of(g.event, question_id)
    form = QuestionForm(data={
        "label": question.label, "kind": question.kind, "help_text": question.help_text,
        "required": question.required, "choices": "\n".join(question.choices or []),
    }) if request.method == "GET" else QuestionForm()
    status = 200
    if form.validate_on_submit():
        try:
            questions.update_question(g.event, question_id, kind=form.kind.data,
                                      label=form.label.data, help_text=form.help_text.data,
                                      required=form.required.data, choices=form.choice_list(),
                                      actor=current_user)
        except ServiceError as exc:
            flash(exc.message, "error")
            status = 400
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("manage.event_questions", slug=g.event.slug))
    elif request.method == "POST":
        status = 400
    return render_template("manage/question.html", event=g.event, form=form,
                           question=question), status


@bp.post("/events/<slug:slug>/questions/<id:question_id>/<any(up, down, delete):what>")
def event_question_action(question_id: int, what: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    if what == "delete":
        questions.delete_question(g.event, question_id, actor=current_user)
        flash(_("The question is removed."), "success")
    else:
        questions.move_question(g.event, question_id, -1 if what == "up" else 1,
                                actor=current_user)
    return redirect(url_for("manage.event_questions", slug=g.event.slug))

