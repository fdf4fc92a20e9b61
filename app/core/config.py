"""Settings from environment variables; nothing secret is a constant in code."""

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def var_dir() -> Path:
    """Where local state lives (secret key, media, the local cluster): ``WUWEI_VAR`` or ``var/``."""
    return Path(os.environ.get("WUWEI_VAR", ROOT / "var"))


VAR = var_dir()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/secret_key (mode 600)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    var = var_dir()
    path = var / "secret_key"
    if path.exists() and not path.read_text().strip():
        path.unlink()  # an empty key file (a crash while writing) is no key
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        # Created with mode 600 from the start, and only if no other worker won the race.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip()


class Config:
    """Read once per application; tests override fields through ``create_app(test_config)``."""

    def __init__(self) -> None:
        self._database()
        self._files_and_imports()
        self._web()

    def _database(self) -> None:
        port = os.environ.get("PGPORT", "55432")
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/wuwei")
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            # No pre-ping: it costs a round trip on every request (a quarter of a tracking fix's
            # time). A connection broken by a server restart fails one request, after which
            # SQLAlchemy drops the whole pool; recycling bounds the age of idle connections.
            "pool_pre_ping": os.environ.get("WUWEI_POOL_PRE_PING", "0") == "1",
            "pool_recycle": 1800,
            # JIT compilation cost more than it saved on every query measured here (hundreds of ms
            # on page and tile queries over a district's tables); the heavy queries are index-driven.
            "connect_args": {"options": "-c timezone=Asia/Shanghai -c jit=off", "application_name": "wuwei"},
        }
        # Read-only views may read from a streaming replica (app/core/replica.py, docs/operations.md).
        self.DATABASE_READ_URL = os.environ.get("DATABASE_READ_URL") or None
        self.WUWEI_REPLICA_RETRY = float(os.environ.get("WUWEI_REPLICA_RETRY", "10"))

    def _files_and_imports(self) -> None:
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        # "json": one JSON object per log line with the request id (app/core/requestlog.py); "text" for people.
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
        self.MEDIA_ROOT = os.environ.get("WUWEI_MEDIA", str(var_dir() / "media"))
        # Retention (flask retention run, app/ops/retention.py): months kept online, where archives go.
        self.WUWEI_POSITIONS_RETENTION_MONTHS = int(os.environ.get("WUWEI_POSITIONS_RETENTION_MONTHS", "13"))
        self.WUWEI_AUDIT_RETENTION_MONTHS = int(os.environ.get("WUWEI_AUDIT_RETENTION_MONTHS", "13"))
        # Device events are personal data like positions: as long as positions unless set.
        self.WUWEI_DEVICE_EVENTS_RETENTION_MONTHS = int(
            os.environ.get("WUWEI_DEVICE_EVENTS_RETENTION_MONTHS") or self.WUWEI_POSITIONS_RETENTION_MONTHS
        )
        self.WUWEI_ARCHIVE_DIR = os.environ.get("WUWEI_ARCHIVE_DIR", str(var_dir() / "archive"))
        self.MAX_CONTENT_LENGTH = int(os.environ.get("WUWEI_MAX_UPLOAD", str(16 * 1024 * 1024)))
        # GIS file imports (POST /api/v1/<layer>/import); larger files → 413.
        self.WUWEI_IMPORT_MAX_BYTES = int(os.environ.get("WUWEI_IMPORT_MAX_BYTES", str(16 * 1024 * 1024)))
        # Caps on what an imported file may hold (422 above), and the size above which an import runs
        # as a background job instead of in the request (docs/operations.md, "Importing").
        self.WUWEI_IMPORT_MAX_FEATURES = int(os.environ.get("WUWEI_IMPORT_MAX_FEATURES", "100000"))
        self.WUWEI_IMPORT_MAX_VERTICES_PER_FEATURE = int(
            os.environ.get("WUWEI_IMPORT_MAX_VERTICES_PER_FEATURE", "10000")
        )
        self.WUWEI_IMPORT_MAX_VERTICES = int(os.environ.get("WUWEI_IMPORT_MAX_VERTICES", "2000000"))
        self.WUWEI_IMPORT_MAX_SECONDS = int(os.environ.get("WUWEI_IMPORT_MAX_SECONDS", "300"))
        self.WUWEI_IMPORT_SYNC_MAX_FEATURES = int(os.environ.get("WUWEI_IMPORT_SYNC_MAX_FEATURES", "2000"))
        # Positions per geometry in a request body or an imported feature; more → 422 (docs/operations.md).
        self.WUWEI_MAX_VERTICES = int(os.environ.get("WUWEI_MAX_VERTICES", "20000"))

    def _web(self) -> None:
        self.SECRET_KEY = _secret_key()
        # Basemap: "tianditu" (天地图 vector + annotation; the default when WUWEI_TIANDITU_KEY is set),
        # "osm" (the default without a key) or "none" (offline). README, "Basemap".
        self.WUWEI_TIANDITU_KEY = os.environ.get("WUWEI_TIANDITU_KEY", "").strip()
        self.WUWEI_BASEMAP = os.environ.get("WUWEI_BASEMAP") or ("tianditu" if self.WUWEI_TIANDITU_KEY else "osm")
        # The Content-Security-Policy of pages (app/web/security.py): scripts only from static/ or with
        # the response's nonce. "0" turns it off (only to find out whether it is what breaks a page).
        self.WUWEI_CSP = os.environ.get("WUWEI_CSP", "1") == "1"
        # Each feature may keep its own catalogue in app/<feature>/translations; Flask-Babel merges them.
        self.BABEL_TRANSLATION_DIRECTORIES = (
            ";".join(str(p) for p in sorted((ROOT / "app").glob("**/translations")) if p.is_dir()) or "translations"
        )
        self.BABEL_DEFAULT_LOCALE = "zh"
        self.BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
        self.LANGUAGES = ["zh", "en"]
        # Counted in PostgreSQL, shared by every worker (app/core/ratelimit.py); set in create_app from
        # the database URL unless RATELIMIT_STORAGE_URI says otherwise.
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI")
        self.RATELIMIT_ENABLED = os.environ.get("RATELIMIT_ENABLED", "1") == "1"
        # The database being down fails the request anyway (503); the limiter does not add a 500 of its own.
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.LOGIN_RATE_LIMIT = os.environ.get("WUWEI_LOGIN_RATE_LIMIT", "10 per minute")
        self.PASSWORD_HASH_METHOD = "scrypt"  # nosec B105 (the name of the hashing method)
        # /track/osmand answered before Flask (app/tracking/gateway.py, installed by app/wsgi.py); "0" routes it through Flask.
        self.TRACKING_GATEWAY = os.environ.get("WUWEI_TRACKING_GATEWAY", "1") == "1"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        # Behind HTTPS (a reverse proxy), cookies are sent over HTTPS only: WUWEI_SECURE_COOKIES=1.
        secure = os.environ.get("WUWEI_SECURE_COOKIES", "0") == "1"
        self.SESSION_COOKIE_SECURE = self.REMEMBER_COOKIE_SECURE = secure
        self.WTF_CSRF_TIME_LIMIT = None
