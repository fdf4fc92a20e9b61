"""The application for tests/test_faults.py's gunicorn, plus one slow writing route the test kills a worker in.

``gunicorn 'tests.fault_app:create()'`` with ``DATABASE_URL`` and ``WUWEI_FAULT_DIR`` set. The route
``GET /_fault/slow-write`` adds an audit entry marked ``fault-test``, writes its worker's PID to
``$WUWEI_FAULT_DIR/pid`` and sleeps in PostgreSQL (30 s) before it would commit; PostgreSQL checks every
second whether the client is still there (``client_connection_check_interval``).
"""

import os
from pathlib import Path

from sqlalchemy import text

from app import create_app
from app.core.extensions import db
from app.health import measure
from app.tracking.gateway import install


def create():
    """Composed as app/wsgi.py composes the served application, plus the route."""
    app = create_app({"RATELIMIT_ENABLED": False, "WUWEI_BASEMAP": "none"})

    @app.get("/_fault/slow-write")
    def slow_write():
        db.session.execute(text("SET LOCAL client_connection_check_interval = '1s'"))
        db.session.execute(
            text("INSERT INTO audit_log (action, table_name, row_id) VALUES ('fault-test', 'fault', :pid)"),
            {"pid": str(os.getpid())},
        )
        db.session.flush()
        (Path(os.environ["WUWEI_FAULT_DIR"]) / "pid").write_text(str(os.getpid()))
        db.session.execute(text("SELECT pg_sleep(30)"))
        db.session.commit()
        return "written"

    install(app)
    measure(app)
    return app
