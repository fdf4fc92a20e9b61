"""``GET /healthz`` (the app is up and PostGIS answers), ``GET /readyz`` (ready to serve: database,
migrations at head, replica, queue) and ``GET /metrics`` (Prometheus; loopback or an admin only)."""

import functools
import ipaddress
import logging
import time

from alembic.script import ScriptDirectory
from flask import Blueprint, Response, current_app, jsonify, request, request_started
from flask_login import current_user
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.auth import policy
from app.core import metrics
from app.core.extensions import db, limiter
from app.core.replica import replica_status

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
FORWARDED = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
QUEUE_STALLED_SECONDS = 300


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


# --------------------------------------------------------------------------- /readyz


@functools.cache
def _heads(directory: str) -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory(directory).get_heads()))


def migration_state() -> dict:
    """The database's Alembic revisions against the heads of ``migrations/``."""
    heads = list(_heads(current_app.extensions["migrate"].directory))
    current = sorted(r for (r,) in db.session.execute(text("SELECT version_num FROM alembic_version")))
    return {"status": "ok" if current == heads else "behind", "current": current, "head": heads}


def queue_state() -> dict:
    """Jobs waiting and running (procrastinate), the oldest wait, and workers seen in the last minute."""
    row = db.session.execute(
        text(
            "SELECT count(*) FILTER (WHERE status = 'todo' AND since <= now()), count(*) FILTER (WHERE status = 'doing'), "
            "extract(epoch FROM now() - min(since) FILTER (WHERE status = 'todo' AND since <= now())), "
            "(SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - interval '1 minute') "
            "FROM (SELECT status, coalesce(scheduled_at, (SELECT min(e.at) FROM procrastinate_events e "
            "      WHERE e.job_id = j.id AND e.type = 'deferred'), now()) AS since "
            "      FROM procrastinate_jobs j WHERE status IN ('todo', 'doing')) jobs"
        )
    ).one()
    waiting, running, oldest, workers = row
    oldest = None if oldest is None else max(0.0, round(float(oldest), 1))
    stalled = waiting > 0 and workers == 0 and (oldest or 0) > QUEUE_STALLED_SECONDS
    return {
        "status": "stalled" if stalled else "ok",
        "waiting": waiting,
        "running": running,
        "oldest_waiting_seconds": oldest,
        "workers": workers,
    }


@bp.get("/readyz")
def readyz():
    """200 when this instance can serve: the database answers and its schema is at the migrations' head.

    The replica (reads fall back to the primary) and the queue (jobs wait for a worker) are reported,
    and make the status ``degraded``, but do not make the instance unready.
    """
    started = time.perf_counter()
    out: dict = {}
    try:
        db.session.execute(text("SELECT 1"))
        out["database"] = {"status": "ok"}
        out["migrations"] = migration_state()
        out["queue"] = queue_state()
    except SQLAlchemyError as e:
        log.warning("readiness check failed: %s", e.__class__.__name__)
        db.session.rollback()
        out.setdefault("database", {"status": "down"})
    finally:
        db.session.rollback()
    out["replica"] = replica_status(current_app)
    ready = out["database"]["status"] == "ok" and out.get("migrations", {}).get("status") == "ok"
    degraded = out["replica"]["status"] not in ("ok", "not configured") or out.get("queue", {}).get("status") not in (
        None,
        "ok",
    )
    out["status"] = ("degraded" if degraded else "ready") if ready else "unavailable"
    out["seconds"] = round(time.perf_counter() - started, 3)
    return jsonify(out), 200 if ready else 503


# --------------------------------------------------------------------------- /metrics


class DatabaseCollector:
    """Read at scrape time: the queue's depth and the replica's delay."""

    def describe(self):
        return []

    def collect(self):
        jobs = GaugeMetricFamily("wuwei_queue_jobs", "Background jobs by queue and status", labels=["queue", "status"])
        try:
            for queue, status, n in db.session.execute(
                text(
                    "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
                    "WHERE status IN ('todo', 'doing') GROUP BY 1, 2"
                )
            ):
                jobs.add_metric([queue, status], n)
        except SQLAlchemyError:
            db.session.rollback()
        yield jobs
        state = replica_status(current_app)
        if state["status"] != "not configured":
            up = GaugeMetricFamily("wuwei_replica_up", "1 when the read replica answers as a standby")
            up.add_metric([], 1 if state["status"] == "ok" else 0)
            yield up
            if state.get("lag_seconds") is not None:
                lag = GaugeMetricFamily("wuwei_replica_lag_seconds", "Seconds the replica's replay is behind")
                lag.add_metric([], state["lag_seconds"])
                yield lag


def _from_loopback() -> bool:
    """A direct request from this machine (not one relayed by a proxy, which would come from loopback too)."""
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    return local and not any(h in request.headers for h in FORWARDED)


@bp.get("/metrics")
def metrics_view():
    """Prometheus text format. Served to a direct request from this machine (a Prometheus beside the
    app), or to a user holding ``ops.metrics`` (an admin's bearer token); 403 otherwise."""
    if not _from_loopback() and not policy.can(current_user, "ops.metrics"):
        return Response("metrics: only from this machine, or with an admin's token\n", 403, mimetype="text/plain")
    return Response(metrics.exposition([DatabaseCollector()]), mimetype="text/plain; version=0.0.4")


def measure(app) -> None:
    """Put the request metrics (and the request id) around everything ``app`` serves so far.

    ``init_app`` does it around Flask; ``app/wsgi.py`` does it again last, around the tracking gateway
    too, and the inner one then stands aside (one request is counted once)."""
    with app.app_context():
        engine = db.engine
    app.wsgi_app = metrics.RequestMetrics(app.wsgi_app, lambda: engine.pool)


def init_app(app) -> None:
    """Register the endpoints (exempt from rate limits and login) and the request metrics around Flask."""
    limiter.exempt(bp)
    app.register_blueprint(bp)
    measure(app)
    request_started.connect(metrics.mark_endpoint, app)
