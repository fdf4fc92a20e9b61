"""placeholder"""
from app.wishes import models  # noqa: F401


def init_app(app) -> None:
    pass
