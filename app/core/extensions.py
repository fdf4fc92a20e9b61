"""Flask extensions, created once and bound to the app in ``init_app``."""

from flask import request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

from app.core import (
    ratelimit,  # noqa: F401  (registers the postgresql+wuwei rate-limit storage)
    requestlog,
)


class Base(DeclarativeBase):
    """Declarative base for every Wuwei model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address)


def select_locale() -> str:
    """``?lang=`` wins and is remembered in the session; otherwise Simplified Chinese.

    The browser's Accept-Language is deliberately not used: street offices run
    English-language browsers too, and the product's default language is Chinese.
    """
    from flask import current_app, has_request_context

    if not has_request_context():  # CLI, start-up, documents built outside a request
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    langs = current_app.config["LANGUAGES"]
    lang = request.args.get("lang")
    if lang in langs:
        session["lang"] = lang
        return lang
    if session.get("lang") in langs:
        return session["lang"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_app(app) -> None:
    """Bind the extensions to ``app``."""
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    requestlog.init_app(app)
