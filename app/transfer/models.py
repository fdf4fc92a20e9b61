"""An import that runs as a background job: who asked, what file, how far it got, how it ended."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.extensions import db

STATES = ("queued", "running", "done", "failed")
PHASES = ("reading", "checking", "storing")


class ImportJob(db.Model):
    """A file waiting in ``MEDIA_ROOT/imports/`` to be imported by the jobs worker (deleted once done).

    ``report`` is the import's report when done; ``error`` the error envelope's content when failed
    (``code``, ``message``, ``fields``, and ``rows`` with the refused rows).
    """

    __tablename__ = "import_jobs"
    __table_args__ = (CheckConstraint(f"state IN {STATES}", name="ck_import_jobs_state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    layer: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    stored_name: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    phase: Mapped[str | None] = mapped_column(String(16))
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict | None] = mapped_column(JSONB)
    error: Mapped[dict | None] = mapped_column(JSONB)
    # What the user said about the file (app.transfer.options.ImportOptions), applied by the worker.
    options: Mapped[dict | None] = mapped_column(JSONB)
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
