"""Incidents (事件) and their categories; workflow, consultations and Open311 build on these tables."""
from app.incidents import models  # noqa: F401


def init_app(app) -> None:
    """Nothing to register yet."""
