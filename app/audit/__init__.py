"""Audit log: every write (and every read of personal data) is recorded."""

from app.audit import models  # noqa: F401  (registers the table)


def init_app(app) -> None:
    """Nothing to register: services call :func:`app.audit.services.record`."""
