"""微协商 (micro-consultation): councils, meetings, decisions and the consultation ledger (协商台账)."""
from app.consultations import models  # noqa: F401


def init_app(app) -> None:
    """Register the pages and the API."""
