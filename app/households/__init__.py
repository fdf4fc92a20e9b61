"""placeholder"""
from app.households import models  # noqa: F401


def init_app(app) -> None:
    pass
