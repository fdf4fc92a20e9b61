"""Every statement the application sends that touches the tables planned for sharding (issue 21).

Installed by ``tests/conftest.py`` for the whole run: a listener on every SQLAlchemy engine of the
process records each statement that names ``incidents`` or ``positions`` together with the place in
``app/`` or ``gis/`` that sent it (the innermost frame of the project on the stack; statements a test
or a fixture sends itself are not the application's and are left out). ``tests/test_distribution.py``
checks them at the end of the run.
"""

import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
APP_DIRS = (str(ROOT / "app") + "/", str(ROOT / "gis") + "/")
# Statements of tests, benchmarks and migrations (one-time changes of whole tables) are not the application's.
PROJECT_DIRS = (*APP_DIRS, *(str(ROOT / d) + "/" for d in ("tests", "benchmarks", "migrations")))
SHARDED = ("incidents", "positions")
_NAMES = re.compile(r"\b(?:incidents|positions)\b", re.IGNORECASE)


@dataclass
class Captured:
    """One distinct statement text and the call sites that sent it."""

    sql: str
    sites: set[str] = field(default_factory=set)
    count: int = 0
    routed_sites: set[str] = field(default_factory=set)  # sent while a street's (or narrower) user was served

    @property
    def routed(self) -> bool:
        return bool(self.routed_sites)


class Capture:
    """Statements sent while installed, by text."""

    def __init__(self):
        self.statements: dict[str, Captured] = {}
        self._lock = threading.Lock()

    def record(self, statement: str) -> None:
        if not _NAMES.search(statement):
            return
        site, serving = _stack()
        if site is None:
            return
        routed = serving and _street_user()
        with self._lock:
            entry = self.statements.setdefault(statement, Captured(statement))
            entry.sites.add(site)
            entry.count += 1
            if routed:
                entry.routed_sites.add(site)


def _street_user() -> bool:
    """Whether the request being served is a user's whose scope lies inside one street.

    Reads only what the request has loaded already (never a query from inside a query's hook).
    """
    from flask import g, has_request_context

    from app.auth.policy import _ORG, STREET_LEVELS

    if not has_request_context():
        return False
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False) or user.__dict__.get("role") in _ORG:
        return False
    area = user.__dict__.get("area")
    return area is not None and area.__dict__.get("level") in STREET_LEVELS


def _stack() -> tuple[str | None, bool]:
    """The call site, ``app/x.py:12 (f) < app/y.py:30 (g)`` (the frames of ``app/`` and ``gis/``, innermost
    first; None when the innermost frame of the project is a test's, a benchmark's or a migration's), and
    whether Flask is dispatching a request below it (not a test reading rows after one)."""
    chain, serving = [], False
    frame = sys._getframe(1)
    while frame is not None:
        name = os.path.normpath(frame.f_code.co_filename)
        if name.startswith(PROJECT_DIRS) and name != __file__:
            if not name.startswith(APP_DIRS):
                if not chain:
                    return None, False
                break
            chain.append(f"{Path(name).relative_to(ROOT)}:{frame.f_lineno} ({frame.f_code.co_name})")
        elif frame.f_code.co_name == "full_dispatch_request":
            serving = True
        frame = frame.f_back
    return " < ".join(chain[:6]) or None, serving


CAPTURE = Capture()


def _before(conn, cursor, statement, parameters, context, executemany):
    CAPTURE.record(statement)


def install() -> None:
    """Listen on every engine the process creates or has created."""
    if not event.contains(Engine, "before_cursor_execute", _before):
        event.listen(Engine, "before_cursor_execute", _before)
