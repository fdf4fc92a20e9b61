"""``GET /healthz``: the app is up and PostGIS answers."""
import logging

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.extensions import db, limiter

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    """200 with the PostGIS version, or 503 when the database cannot be reached."""
    try:
        version = db.session.execute(text("SELECT postgis_lib_version()")).scalar()
    except SQLAlchemyError as e:
        log.warning("health check failed: %s", e.__class__.__name__)
        db.session.rollback()
        return jsonify({"status": "unavailable", "database": "down", "postgis": None}), 503
    return jsonify({"status": "ok", "database": "ok", "postgis": version})


def init_app(app) -> None:
    """Register the health endpoint (exempt from rate limits and login)."""
    limiter.exempt(bp)
    app.register_blueprint(bp)
