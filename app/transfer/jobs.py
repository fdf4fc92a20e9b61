"""Big imports run as background jobs instead of holding a web worker.

:func:`submit` counts the upload's features without reading them: a small file is imported in the
request as before (201 and the report); a bigger one is stored under ``MEDIA_ROOT/imports/``, an
:class:`ImportJob` row and a job on the queue (:mod:`app.core.jobs`) are committed together, and the
answer is 202 with the job. The worker's :func:`run_import` loads the user again, checks that they
may still import, and imports in a transaction of its own with the same checks, caps and audit as
the request; its progress is written on a connection of its own, so that ``GET /api/v1/imports/<id>``
sees it while the import's transaction is open.
"""

import logging
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, url_for
from flask_login import login_user
from sqlalchemy import func, select, update

from app.auth import policy
from app.auth.models import User
from app.basemap.layers import Layer, get_layer
from app.core import jobs
from app.core.errors import ApiError, envelope
from app.core.extensions import db
from app.transfer import caps, services
from app.transfer.models import ImportJob
from app.transfer.options import DEFAULT, ImportOptions
from gis import fileio

log = logging.getLogger(__name__)

TASK = "transfer.import_file"


def submit(
    layer: Layer, user, data: bytes, filename: str, fmt: str | None, said: ImportOptions = DEFAULT
) -> tuple[dict, int]:
    """Import ``data`` now (the report, 201) or queue it (the job, 202); 415/422 before anything is stored."""
    fmt = services.detect_format(filename, fmt)
    config = current_app.config
    scope = policy.scope_of(user)
    try:
        n = fileio.count_features(data, fmt, limit=config["WUWEI_IMPORT_MAX_FEATURES"])
    except fileio.FileFormatError as e:
        raise services.unreadable(filename, e) from None
    except fileio.LimitExceededError as e:
        raise caps.cap_error(e) from None
    if n <= config["WUWEI_IMPORT_SYNC_MAX_FEATURES"]:
        return services.import_layer(layer, scope, data, filename, fmt, limits=caps.import_limits(), options=said), 201
    return status_of(_queue(layer, user, data, filename, fmt, n, said)), 202


def _upload_dir() -> Path:
    path = Path(current_app.config["MEDIA_ROOT"]) / "imports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _queue(layer: Layer, user, data: bytes, filename: str, fmt: str, rows: int, said: ImportOptions) -> ImportJob:
    """Store the file and commit the job row with its queued job; nothing is left behind on failure."""
    stored = uuid.uuid4().hex + fileio.FORMATS[fmt][0]
    path = _upload_dir() / stored
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        job = ImportJob(
            user_id=user.id,
            layer=layer.name,
            filename=filename[:255],
            format=fmt,
            stored_name=stored,
            size=len(data),
            state="queued",
            rows_total=rows,
            rows_done=0,
            options=said.to_json(),
        )
        db.session.add(job)
        db.session.flush()
        job.queue_job_id = jobs.defer(TASK, import_id=job.id)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return job


def status_of(job: ImportJob) -> dict:
    """What ``GET /api/v1/imports/<id>`` answers."""
    out = {
        "id": job.id,
        "layer": job.layer,
        "file": job.filename,
        "format": job.format,
        "state": job.state,
        "phase": job.phase,
        "progress": {"done": job.rows_done, "total": job.rows_total},
        **{
            k: (None if getattr(job, k) is None else getattr(job, k).isoformat())
            for k in ("created_at", "started_at", "finished_at")
        },
        "status_url": url_for("transfer.import_status", import_id=job.id),
    }
    if job.state == "done":
        out["report"] = job.report
    elif job.state == "failed":
        out["error"] = job.error
    return out


def get_job(user, import_id: int) -> ImportJob:
    """The user's own import job; 404 for anyone else's (not told apart from an unknown id)."""
    job = db.session.get(ImportJob, import_id) if 0 < import_id < 2**31 else None
    if job is None or job.user_id != user.id:
        raise ApiError(404, f"no import {import_id}")
    return job


# --------------------------------------------------------------------------- in the worker


@jobs.queue.task(name=TASK, queue="imports", pass_context=True)
def import_file(context, import_id: int) -> None:
    """The queue's task: import the stored file of ``import_jobs`` row ``import_id``."""
    with jobs.flask_app_of(context).app_context():
        run_import(import_id)


def run_import(import_id: int) -> None:
    """Import a queued job's file as its user; the job row ends ``done`` (with the report, in the
    import's own transaction) or ``failed`` (with the error, rows refused included)."""
    started = time.monotonic()
    job = _claim(import_id)
    if job is None:
        return
    path = _upload_dir() / job.stored_name
    progress = _Progress(import_id)
    try:
        user, layer = _user_and_layer(job)
        data = path.read_bytes()
        with _acting_as(user):
            services.import_layer(
                layer,
                policy.scope_of(user),
                data,
                job.filename,
                job.format,
                user_id=user.id,
                limits=caps.import_limits(started),
                progress=progress,
                before_commit=lambda report: _end(import_id, "done", report=report),
                options=ImportOptions.from_json(job.options),
            )
    except services.ImportRejected as e:
        _fail(import_id, e.status, e.error())
    except ApiError as e:
        _fail(import_id, e.status, envelope(e.status, e.message, e.fields, e.code)["error"])
    except Exception:  # the job's boundary: whatever happened, the job ends failed
        log.exception("import job %s failed", import_id)
        _fail(import_id, 500, envelope(500, "the import failed on the server; the jobs worker's log says why")["error"])
    finally:
        progress.close()
        path.unlink(missing_ok=True)


def _claim(import_id: int) -> ImportJob | None:
    """The job, now ``running``; None when it is not queued (already run, or gone)."""
    claimed = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == import_id, ImportJob.state == "queued")
        .values(state="running", phase="reading", started_at=func.now())
        .returning(ImportJob.id)
    ).scalar()
    db.session.commit()
    if claimed is None:
        log.warning("import job %s is not queued; skipped", import_id)
        return None
    return db.session.scalars(select(ImportJob).where(ImportJob.id == import_id)).one()


def _user_and_layer(job: ImportJob) -> tuple[User, Layer]:
    """The importing user, who must still be active and allowed to import, and the layer."""
    user = db.session.get(User, job.user_id)
    if user is None or not user.is_active or not policy.can(user, "layers.import"):
        raise ApiError(403, "the user who uploaded the file may no longer import")
    layer = get_layer(job.layer)
    if layer is None:
        raise ApiError(404, f"no layer {job.layer!r}")
    return user, layer


@contextmanager
def _acting_as(user: User):
    """A request context with ``user`` logged in: audit entries carry their name, as in the request."""
    with current_app.test_request_context():
        login_user(user)
        yield


def _end(import_id: int, state: str, *, report: dict | None = None, error: dict | None = None) -> None:
    values = {
        "state": state,
        "phase": None,
        "finished_at": func.now(),
        "stored_name": None,
        "report": report,
        "error": error,
    }
    if report is not None:
        values["rows_done"] = values["rows_total"] = report["rows"]
    db.session.execute(update(ImportJob).where(ImportJob.id == import_id).values(**values))


def _fail(import_id: int, status: int, error: dict) -> None:
    """The job ends ``failed`` with ``error`` (the envelope's content, plus the HTTP ``status`` the
    request would have answered); nothing of the import stays."""
    db.session.rollback()
    _end(import_id, "failed", error={"status": status, **error})
    db.session.commit()


class _Progress:
    """Writes (phase, rows done, rows in all) to the job row at most twice a second, on a connection
    of its own in autocommit: visible while the import's own transaction is still open."""

    def __init__(self, import_id: int):
        self.import_id = import_id
        self.conn = None
        self.phase = None
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == self.phase and now - self.last < 0.5:
            return
        self.phase, self.last = phase, now
        if self.conn is None:
            self.conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.conn.execute(
            update(ImportJob)
            .where(ImportJob.id == self.import_id)
            .values(phase=phase, rows_done=done, rows_total=total)
        )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
