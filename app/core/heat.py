"""Heat sources: what the heat maps (``app.heatmaps``) can bin, declared by the features that own the tables.

A feature registers a :class:`HeatSource` over its own table (``Incident.__table__``), naming the
columns by the table's own ``Column`` objects, so a renamed column fails when the feature is imported,
not by making a layer vanish. The heat maps read :data:`HEAT_SOURCES` and never import a feature::

    t = Visit.__table__
    register_source(HeatSource(
        name="visits", title=_l("入户走访"), table=t, geom=t.c.geom, time=t.c.visited_at, grid=t.c.grid_id,
        filters=(Filter("purpose", t.c.purpose, _l("目的"), lambda: [(p, p) for p in VISIT_PURPOSES]),),
        drill=(("id", t.c.id), ("visited_at", t.c.visited_at)), drill_order=t.c.visited_at, personal=True,
        person=t.c.household_id, people=_l("户"), people_days=_l("户·天")))

Sources over people (visits, wishes, positions) are *personal*: they name the ``person`` a row is about
and the heat maps count those people, never rows (``app.heatmaps.people``: per whole day and coarse
cell for bins, per area for the choropleth, nothing below the policy's small count and no total that
would tell a hidden count by difference). Only roles that may read personal data list their records.
"""
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.core.registry import Registry


@dataclass(frozen=True, eq=False)
class Filter:
    """A query parameter narrowing a source: ``?state=filed,closed`` keeps rows whose ``column`` is among them."""
    name: str
    column: sa.ColumnElement
    label: object
    choices: Callable[[], list[tuple[str, object]]]   # (value, label) offered on the page
    # Turns the requested values into column values (e.g. category codes → ids); raises ValueError for
    # unknown ones. None: the values must be among ``choices()`` and are compared as given.
    resolve: Callable[[list[str]], list] | None = None


@dataclass(frozen=True, eq=False)
class HeatSource:
    """A binnable table of a feature. Every column is the table's own, never user input."""
    name: str
    title: object
    table: sa.Table
    geom: sa.ColumnElement | None                     # None: no location of its own, shown per area only
    time: sa.ColumnElement | None                     # None: a stock (chargers), not events in time
    grid: sa.ColumnElement | None                     # None: no grid (positions): scoped by geometry, bins only
    drill: tuple[tuple[str, sa.ColumnElement], ...]   # what a drill-down lists: (label, column); nothing personal
    drill_order: sa.ColumnElement
    filters: tuple[Filter, ...] = ()
    personal: bool = False
    # Personal sources: whom a row is about (never NULL: coalesce to the row itself), and what one
    # person is called in the legend, per area (人, 户) and per day in a bin (人·天).
    person: sa.ColumnElement | None = None
    people: object = _l("人")
    people_days: object = _l("人·天")
    where: sa.ColumnElement | None = None             # a fixed condition, e.g. "incidents of the e-bike categories"
    unit: object = _l("条")
    order: int = 50

    def __post_init__(self):
        if self.personal and self.person is None:
            raise ValueError(f"personal heat source {self.name!r} must name its person (who a row is about)")

    @property
    def drill_permission(self) -> str:
        """The permission (``app.auth.policy``) needed to list this source's records."""
        return "personal.read" if self.personal else "heat.drill"


HEAT_SOURCES: Registry[HeatSource] = Registry("heat source")


def register_source(source: HeatSource) -> HeatSource:
    """Offer ``source`` on the heat map."""
    return HEAT_SOURCES.register(source)
