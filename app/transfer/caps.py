"""The caps on an import: from the settings (app/core/config.py) to :class:`gis.fileio.Limits`, and a
passed cap to a 422 that names the setting which raises it (docs/operations.md, "Importing")."""

import time
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.core.errors import ApiError
from app.core.extensions import db
from gis import fileio

SETTINGS = {
    "features": "WUWEI_IMPORT_MAX_FEATURES",
    "vertices_per_feature": "WUWEI_IMPORT_MAX_VERTICES_PER_FEATURE",
    "vertices": "WUWEI_IMPORT_MAX_VERTICES",
    "seconds": "WUWEI_IMPORT_MAX_SECONDS",
}
WHAT = {
    "features": "features in a file",
    "vertices_per_feature": "vertices in one feature",
    "vertices": "vertices in a file",
    "seconds": "seconds for an import",
}
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE when statement_timeout strikes


def import_limits(started: float | None = None) -> fileio.Limits:
    """The caps of the settings; the time counts from ``started`` (a :func:`time.monotonic` value)."""
    config = current_app.config
    return fileio.Limits(
        features=config["WUWEI_IMPORT_MAX_FEATURES"],
        vertices_per_feature=config["WUWEI_IMPORT_MAX_VERTICES_PER_FEATURE"],
        vertices=config["WUWEI_IMPORT_MAX_VERTICES"],
        deadline=(time.monotonic() if started is None else started) + config["WUWEI_IMPORT_MAX_SECONDS"],
    )


def cap_error(e: fileio.LimitExceededError) -> ApiError:
    """422 naming the cap that was passed, its value and the setting that raises it."""
    setting = SETTINGS[e.cap]
    limit = e.limit if e.limit is not None else current_app.config[setting]
    what = WHAT[e.cap]
    if e.cap == "seconds":
        message = f"the import took longer than {limit:,} {what.split(' ')[0]}"
    else:
        message = str(e)
    fields = {"file": f"over the cap of {limit:,} {what} ({setting})"}
    if e.row is not None:
        fields[f"row {e.row}"] = str(e)
    return ApiError(
        422,
        f"{message}: the cap is {limit:,} {what} ({setting}); nothing imported. Split the file, or raise {setting}.",
        fields,
    )


@contextmanager
def sql_deadline(limits: fileio.Limits):
    """The statements inside stop at ``limits.deadline`` (PostgreSQL's statement_timeout, for this
    transaction): LimitExceededError("seconds") instead of a long INSERT holding the worker."""
    if limits.deadline is None:
        yield
        return
    remaining_ms = max(1, int((limits.deadline - time.monotonic()) * 1000))
    before = db.session.execute(text("SELECT current_setting('statement_timeout')")).scalar()
    db.session.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": f"{remaining_ms}ms"})
    try:
        yield
    except OperationalError as e:
        if getattr(e.orig, "pgcode", None) == QUERY_CANCELED:
            raise fileio.LimitExceededError("seconds", None, "the import took too long") from None
        raise
    db.session.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": before})
