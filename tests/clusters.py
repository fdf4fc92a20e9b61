"""Throwaway PostgreSQL clusters for tests that stop, restart or replicate a server.

The shared cluster (``PGPORT``, 55432 by default) is never stopped: a test that needs to do that makes
a cluster of its own with the project's own ``scripts/db.sh`` (and ``scripts/replica.sh``), in a private
temporary ``WUWEI_VAR`` on a random free port, and deletes it afterwards, also when the test fails.
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PGBINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not Path(f"/tmp/.s.PGSQL.{port}").exists()


def free_port(avoid: set[int] = frozenset()) -> int:
    """A free port in 55460-59999 (a colleague's run may be choosing too: random, not sequential)."""
    taken = {int(os.environ.get("PGPORT", "55432"))} | set(avoid)
    while True:
        port = random.randint(55460, 59999)
        if port not in taken and port_free(port):
            return port


class LocalCluster:
    """A cluster made by ``scripts/db.sh start`` (created, the ``wuwei`` database migrated) in a temp var."""

    def __init__(self):
        self.var = Path(tempfile.mkdtemp(prefix="wuwei-ops-"))
        self.port = free_port()
        self.replica_port = free_port({self.port})

    def env(self, **extra) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PG", "WUWEI_", "MAKE")) and k not in ("DATABASE_URL", "DATABASE_READ_URL")
        }
        env.update(
            WUWEI_VAR=str(self.var),
            PGPORT=str(self.port),
            REPLICA_PORT=str(self.replica_port),
            VENV=sys.prefix,
            LC_ALL="C.UTF-8",
        )
        env.update(extra)
        return env

    def script(self, name: str, command: str, check: bool = True, timeout: int = 300) -> subprocess.CompletedProcess:
        r = subprocess.run(
            ["bash", str(ROOT / "scripts" / name), command],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"scripts/{name} {command} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def start(self) -> "LocalCluster":
        self.script("db.sh", "start")
        return self

    def start_replica(self) -> None:
        """``scripts/replica.sh start``; on a port another run took meanwhile, again on another one."""
        for _ in range(3):
            r = self.script("replica.sh", "start", check=False)
            if r.returncode == 0:
                return
            if "already in use" not in r.stderr and "listens on" not in r.stderr:
                break
            self.replica_port = free_port({self.port})
        raise AssertionError(f"scripts/replica.sh start failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")

    def url(self, port: int | None = None, database: str = "wuwei") -> str:
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/{database}"

    @property
    def home(self) -> Path:
        return Path((self.var / "pg.path").read_text().splitlines()[0])

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        """pg_ctl on the primary as the cluster's OS user (``restart -m immediate`` is a crash)."""
        cmd = [str(PGBINS[-1]), "-D", str(self.home / "data"), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, cwd="/", capture_output=True, text=True, timeout=120, check=False)

    def destroy(self) -> None:
        try:
            self.script("replica.sh", "destroy", check=False)
            self.script("db.sh", "destroy", check=False)
        finally:
            shutil.rmtree(self.var, ignore_errors=True)
