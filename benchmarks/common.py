"""Shared pieces for benchmarks: the bench database, timers and result rows.

Every figure is reported beside a baseline measured in the same run (bare SQL,
or a minimal peer), so that the ratio means something on any machine.
"""

import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One measured figure and its baseline."""

    name: str
    value: float
    unit: str
    baseline_label: str = ""
    baseline_value: float | None = None
    note: str = ""
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value or not self.value:
            return None
        return self.value / self.baseline_value


@dataclass
class Context:
    """What a benchmark module gets: the bench database URL and an app bound to it."""

    url: str
    app: object
    extra: dict = field(default_factory=dict)


def bench_url() -> str:
    """``<app database>_bench`` on the same server (override with WUWEI_BENCH_DB)."""
    base = (
        os.environ.get("DATABASE_URL") or f"postgresql://postgres@127.0.0.1:{os.environ.get('PGPORT', '55432')}/wuwei"
    )
    url = make_url(base)
    name = os.environ.get("WUWEI_BENCH_DB", f"{url.database}_bench")
    return url.set(database=name).render_as_string(hide_password=False)


def timings(fn, repeat: int = 30, warmup: int = 3) -> dict:
    """Run ``fn`` and return p50/p95/mean in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p95": samples[max(0, int(len(samples) * 0.95) - 1)],
        "mean": statistics.fmean(samples),
    }


def paired_timings(fn, baseline, repeat: int = 30, warmup: int = 3) -> tuple[dict, dict]:
    """Time ``fn`` and ``baseline`` alternately (fn, baseline, fn, …): p50/p95/mean of each.

    On a shared 2-core machine the load drifts within seconds; alternating puts both under the
    same drift, where timing one series after the other compared two different moments.
    """
    for _ in range(warmup):
        fn()
        baseline()
    a, b = [], []
    for _ in range(repeat):
        for f, out in ((fn, a), (baseline, b)):
            t0 = time.perf_counter()
            f()
            out.append((time.perf_counter() - t0) * 1000)

    def summary(samples):
        samples.sort()
        return {
            "p50": statistics.median(samples),
            "p95": samples[max(0, int(len(samples) * 0.95) - 1)],
            "mean": statistics.fmean(samples),
        }

    return summary(a), summary(b)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn server for an app target, started and stopped around an HTTP benchmark."""

    def __init__(
        self, target: str, env: dict | None = None, workers: int = 2, threads: int = 1, worker_class: str = "sync"
    ):
        self.port = free_port()
        venv_bin = Path(sys.executable).parent
        self.cmd = [
            str(venv_bin / "gunicorn"),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread" if threads > 1 else worker_class,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--log-level",
            "warning",
            target,
        ]
        self.env = {**os.environ, **(env or {})}
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server {self.cmd} did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=20)


class Capture:
    """Collects the statements a request sends, to replay them bare (``replay_bare``)."""

    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def _on(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((statement, parameters))

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._on)


def replay_bare(engine, statements) -> None:
    """Run captured statements on a raw DBAPI connection (no Flask, no ORM), then roll back."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for sql, params in statements:
            cur.execute(sql, params)
            if cur.description:
                cur.fetchall()
        raw.rollback()
    finally:
        raw.close()
