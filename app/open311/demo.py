"""Demo Open311 key: the 幸福号 people's hotline posts its calls with it (see ``flask seed logins``)."""

from app.open311.keys import create_key, key_exists

DEMO_OPEN311_KEY = "wuwei-demo-open311-key"


def seed_open311() -> int:
    """The hotline's key (idempotent)."""
    if key_exists(DEMO_OPEN311_KEY):
        return 0
    create_key("幸福号人民专线（演示）", DEMO_OPEN311_KEY, source="hotline")
    return 1
