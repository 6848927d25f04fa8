"""Accounts: sign up, log in and out, forgotten passwords, the account page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from eventsys.forms import ActionForm
from eventsys.forms.accounts import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignupForm,
)
from eventsys.services import accounts, registration
from eventsys.services.errors import ServiceError, Throttled

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: ``?next=https://evil.example`` must not bounce users away."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("public.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(
                form.email.data, form.password.data, request.remote_addr or "unknown"
            )
        except Throttled as exc:
            flash(exc.message, "error")
            response = render_template("auth/login.html", form=form), 429
            return (*response, {"Retry-After": str(exc.retry_after)})
        except ServiceError as exc:
            flash(exc.message, "error")
            status = 400
        else:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    # GET only asks: a logout by GET could be triggered by any page's <img> tag.
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        logout_user()
        flash(_("You are logged out."), "info")
        return redirect(url_for("public.index"))
    return render_template("auth/logout.html", form=form)


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignupForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = accounts.sign_up(form.email.data, form.name.data, form.password.data,
                                    country=form.country.data or None)
        except ServiceError as exc:
            form.email.errors.append(exc.message)
            status = 409 if exc.status_code == 409 else 400
        else:
            login_user(user)
            flash(_("Welcome, %(name)s. Your account is ready.", name=user.name), "success")
            return redirect(url_for("auth.account"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/signup.html", form=form), status


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data)
        return render_template("auth/forgot_sent.html", email=form.email.data)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = accounts.check_reset_token(token)  # NotFound -> 404 page with a clear message
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.password.data)
        except ServiceError as exc:
            flash(exc.message, "error")
            return render_template("auth/reset.html", form=form, user=user), exc.status_code
        logout_user()
        flash(_("Your password is changed. Please log in with it."), "success")
        return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset.html", form=form, user=user), status


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    profile = ProfileForm(prefix="profile", obj=current_user)
    password = ChangePasswordForm(prefix="pw")
    status = 200
    if request.method == "POST":
        if "profile-name" in request.form:
            if profile.validate_on_submit():
                accounts.update_profile(
                    current_user, name=profile.name.data, locale=profile.locale.data,
                    timezone=profile.timezone.data, country=profile.country.data,
                )
                flash(_("Your details are saved."), "success")
                return redirect(url_for("auth.account"))
            status = 400
        elif password.validate_on_submit():
            try:
                accounts.change_password(current_user, password.current.data,
                                         password.password.data)
            except ServiceError as exc:
                password.current.errors.append(exc.message)
                status = 400
            else:
                login_user(current_user)  # the session token rotated; keep this session
                flash(_("Your password is changed."), "success")
                return redirect(url_for("auth.account"))
        else:
            status = 400
    return render_template("auth/account.html", profile=profile, password=password,
                           registrations=registration.registrations_of(current_user)), status
