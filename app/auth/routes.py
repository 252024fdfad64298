"""Sign-in (rate limited), sign-out, and password reset by an emailed signed link."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from app.auth.blueprint import bp
from app.auth.forms import ForgotForm, LoginForm, ResetForm
from app.extensions import limiter
from app.htmx import private, see_other
from app.services.errors import InvalidRequest
from app.services.team import (
    authenticate,
    request_password_reset,
    reset_password,
    sign_out_everywhere,
    user_for_reset_token,
)


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _reset_limit() -> str:
    return current_app.config["RATELIMIT_PASSWORD_RESET"]


def safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no //evil.example) is followed after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def page(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Sign in with email and password; on to the page that asked for it (or the dashboard)."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        return page("auth/login.html", form=form)
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except InvalidRequest as exc:
            form.form_errors.append(exc.message)
        else:
            login_user(user, remember=bool(form.remember.data))
            return see_other(safe_next(form.next.data) or url_for("dashboard.home"))
    form.password.data = ""
    return page("auth/login.html", status=422, form=form)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        sign_out_everywhere(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You've signed out.", "success")
    return see_other(url_for("auth.login"))


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def forgot():
    """Ask for a reset link. The answer is the same whether or not the address has an account."""
    form = ForgotForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return page("auth/forgot.html", status=422, form=form)
        request_password_reset(form.email.data)
        flash("If that address has an account, we've emailed it a link to choose a new password. "
              "The link works once, for an hour.", "success")
        return see_other(url_for("auth.login"))
    return page("auth/forgot.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def reset(token: str):
    """Choose a new password through a reset link (signed, expiring, single-use)."""
    form = ResetForm()
    try:
        user = user_for_reset_token(token)
    except InvalidRequest as exc:
        response = page("auth/reset.html", status=400, form=None, problem=exc.message)
    else:
        if request.method == "POST" and form.validate_on_submit():
            try:
                reset_password(token, form.password.data)
            except InvalidRequest as exc:
                form.password.errors = [*form.password.errors, exc.message]
            else:
                logout_user()
                flash("Your password is changed. Sign in with it now.", "success")
                return private(see_other(url_for("auth.login")))
        status = 422 if request.method == "POST" else 200
        response = page("auth/reset.html", status=status, form=form, problem=None, user=user)
    return private(response)
