"""Login and logout pages (Flask-WTF form with CSRF; rate limited)."""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.auth.services import authenticate
from app.auth.sessions import close_session, open_session
from app.core.extensions import limiter

bp = Blueprint("accounts", __name__)


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=256)])
    remember = BooleanField(_l("记住我"))


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login."""
    # Browsers read "/\\host" like "//host": backslashes and control characters are refused too.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
        and urlsplit(target).netloc == ""
        and not urlsplit(target).scheme
    ):
        return target
    return url_for("mappage.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    """Show the form; on success go to the map (or ``next``)."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user:
            open_session(user)
            login_user(user, remember=form.remember.data)
            current_app.logger.info("login %s", user.username)
            return redirect(_safe_next(request.args.get("next")))
        flash(_("用户名或密码错误"), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form), 400 if form.errors else 200


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session, on the server too: a copy of the cookie no longer logs anyone in."""
    close_session(session.get("_user_id"))
    logout_user()
    return redirect(url_for("accounts.login"))
