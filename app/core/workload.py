"""Worker measures: what a leader's assessment of each grid worker (网格员考核) shows, declared by the
features that own the tables.

A measure computes, for a list of users and a half-open period ``[start, end)``, one number per user
(users without any are left out: they count 0). A feature registers its measures with its own tables;
the assessment page (``app.assessment``) reads this registry and never imports a feature::

    register_measure(Measure("visits_done", _l("入户走访"), _l("次"), visits_by, personal=True, order=30))

``personal``: the number counts residents' records (visits to households, their wishes): a reader who
may not read household files sees it under the small-count rule (:func:`app.auth.policy.suppress`).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from app.core.registry import Registry

Compute = Callable[[list[int], dt.datetime, dt.datetime], dict[int, float]]


@dataclass(frozen=True)
class Measure:
    """One column of the assessment: ``compute(user_ids, start, end)`` → {user id: value}."""

    name: str
    title: object  # lazy_gettext
    unit: object
    compute: Compute
    personal: bool = False
    digits: int = 0
    order: int = 50
    help: object = ""


MEASURES: Registry[Measure] = Registry("worker measure")


def register_measure(measure: Measure) -> Measure:
    """Show ``measure`` on the assessment page, in ``order``."""
    return MEASURES.register(measure)
