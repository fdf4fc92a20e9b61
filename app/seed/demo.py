"""``flask seed demo``: every demo step the features registered, in order.

The base steps (areas, users, base map) are registered by ``app.areas``, ``app.auth`` and
``app.basemap``; features add theirs with :func:`app.core.registry.register_demo_step`. Every step
looks its records up by a natural key first, so seeding twice adds nothing.
"""

from sqlalchemy import func, select

from app.areas.models import Area
from app.core.extensions import db
from app.core.registry import DEMO_STEPS


def database_is_empty() -> bool:
    """No areas yet."""
    return db.session.scalar(select(func.count()).select_from(Area)) == 0


def seed_demo() -> dict:
    """Run every demo step, each committed; returns rows added per step."""
    counts = {}
    for step in DEMO_STEPS:
        counts[step.name] = step.run()
        db.session.commit()
    return counts
