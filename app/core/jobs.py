"""Background jobs on a queue in PostgreSQL (procrastinate): no other server.

A feature declares a task on :data:`queue` (``@queue.task(name="transfer.import_file")``) and defers
it with :func:`defer` inside its own transaction: the job exists exactly when the caller's rows do.
``flask --app app jobs worker`` (``make worker``; ``make run`` starts one beside the web server)
runs the jobs, each sync task in a thread of its own with the Flask application given in the
job's context (:func:`flask_app_of`).

Two connectors, as procrastinate intends: the web side defers through SQLAlchemy on the request's
own connection (psycopg2, nothing to open), the worker listens and fetches through psycopg 3's
asynchronous pool (:func:`run_worker` swaps it in for the worker's run). The schema is applied by
the Alembic migration ``0011_jobs``.

A worker killed in the middle of a job (a crash, ``kill -9``, a machine restart) leaves the job ``doing``;
a worker starting up, and every worker every five minutes, puts such jobs back in the queue once their
worker has sent no heartbeat for ``WUWEI_JOBS_STALLED_SECONDS`` (:func:`retry_stalled`). Periodic tasks
(``@queue.periodic``) run only in a worker started by ``flask jobs worker`` without ``--once``.
"""

import asyncio
import logging
import os

import click
import procrastinate
from flask import current_app
from flask.cli import AppGroup
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from procrastinate.periodic import PeriodicRegistry
from sqlalchemy.engine import make_url

from app.core.extensions import db

log = logging.getLogger(__name__)

queue = procrastinate.App(connector=SQLAlchemyPsycopg2Connector())

jobs_cli = AppGroup("jobs", help="Background jobs (imports, e-mail): run the worker.")
STALLED_SECONDS = 60  # default of WUWEI_JOBS_STALLED_SECONDS: a worker silent this long is gone


def defer(task_name: str, **kwargs) -> int:
    """Queue ``task_name`` with ``kwargs`` in the session's transaction; the job id.

    Nothing runs before the caller commits, and a rollback takes the job with it.
    """
    return queue.configure_task(task_name, allow_unknown=False, connection=db.session.connection()).defer(**kwargs)


def libpq_url(sqlalchemy_url: str) -> str:
    """The database URL without SQLAlchemy's driver suffix (``postgresql+psycopg2://`` → ``postgresql://``)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def flask_app_of(context: procrastinate.JobContext):
    """The Flask application the worker runs for (a task pushes its app context itself)."""
    return context.additional_context["flask_app"]


def _stalled_seconds(flask_app) -> float:
    return float(
        flask_app.config.get("WUWEI_JOBS_STALLED_SECONDS")
        or os.environ.get("WUWEI_JOBS_STALLED_SECONDS")
        or STALLED_SECONDS
    )


async def _retry_stalled(job_manager, seconds: float) -> int:
    stalled = await job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds)
    for job in stalled:
        log.warning("jobs: job %s (%s) was left running by a stopped worker; queued again", job.id, job.task_name)
        await job_manager.retry_job(job)
    return len(stalled)


def retry_stalled(flask_app, seconds: float | None = None) -> int:
    """Queue again the jobs left ``doing`` by workers silent for ``seconds``; how many."""
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(flask_app.config["SQLALCHEMY_DATABASE_URI"]), min_size=1, max_size=1
    )

    async def run() -> int:
        async with queue.open_async():
            return await _retry_stalled(queue.job_manager, seconds or _stalled_seconds(flask_app))

    with queue.replace_connector(connector):
        return asyncio.run(run())


@queue.periodic(cron="*/5 * * * *", periodic_id="jobs.retry_stalled")
@queue.task(name="jobs.retry_stalled", queue="jobs", queueing_lock="jobs.retry_stalled", pass_context=True)
async def retry_stalled_task(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every five minutes: the jobs of workers that stopped without finishing them go back in the queue."""
    await _retry_stalled(context.app.job_manager, _stalled_seconds(flask_app_of(context)))


def run_worker(flask_app, *, wait: bool = True, queues: list[str] | None = None, periodic: bool = False) -> None:
    """Run jobs for ``flask_app``'s database: until stopped (SIGINT/SIGTERM), or with ``wait=False``
    until the queue is empty (tests, ``--once``). One job at a time: imports are CPU-bound Python.

    Jobs a stopped worker left running are queued again first; ``periodic`` runs the periodic tasks
    (the long-running worker of ``flask jobs worker``; tests run only what they queued)."""
    retry_stalled(flask_app)
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(flask_app.config["SQLALCHEMY_DATABASE_URI"]), min_size=1, max_size=4
    )
    with queue.replace_connector(connector):
        registry = queue.periodic_registry
        if not periodic:
            queue.periodic_registry = PeriodicRegistry()
        try:
            queue.run_worker(
                queues=queues,
                wait=wait,
                concurrency=1,
                install_signal_handlers=wait,
                listen_notify=wait,
                delete_jobs="successful",
                additional_context={"flask_app": flask_app},
            )
        finally:
            queue.periodic_registry = registry


@jobs_cli.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs waiting now, then stop.")
@click.option("--queue", "queues", multiple=True, help="Only these queues (default: all).")
def worker_cmd(once: bool, queues: tuple[str, ...]):
    """Run background jobs (big imports) until stopped."""
    log.info("jobs worker: %s", "the jobs waiting now" if once else "waiting for jobs (Ctrl-C stops)")
    run_worker(current_app._get_current_object(), wait=not once, queues=list(queues) or None, periodic=not once)


def init_app(app) -> None:
    """The ``flask jobs`` commands (a feature that defines tasks calls this)."""
    if "jobs" not in app.cli.commands:
        app.cli.add_command(jobs_cli)
