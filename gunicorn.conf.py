"""gunicorn settings every Wuwei server uses (gunicorn reads ./gunicorn.conf.py from its working directory;
elsewhere pass ``-c /path/to/gunicorn.conf.py``). Workers, threads and the bind address stay on the
command line (``make run``, the systemd unit in docs/operations.md).

* Prometheus multiprocess mode: each worker writes its counters to files in ``PROMETHEUS_MULTIPROC_DIR``
  (made here, before any worker imports the app, when it is not set) and ``/metrics`` adds them up; a
  dead worker's gauges are dropped (``child_exit``); the directory is removed when gunicorn exits.
* The access log ends with the request id (``X-Request-ID``) that the app's log lines and the SQL
  statements of the request carry too (app/core/requestlog.py).
"""
import os
import shutil
import tempfile

_made_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _made_dir = os.path.join(tempfile.gettempdir(), f"wuwei-metrics-{os.getpid()}")
    shutil.rmtree(_made_dir, ignore_errors=True)      # left by an earlier server with the same PID
    os.makedirs(_made_dir, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _made_dir

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms rid=%({x-request-id}o)s'


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_dir:
        shutil.rmtree(_made_dir, ignore_errors=True)
