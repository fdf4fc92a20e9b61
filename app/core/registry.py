"""Registries: what features offer to the pages that show it, declared by the feature.

A feature registers in its ``init_app`` (or at import of its own module); the consumer reads the
registry and never imports the feature. Indico's ``indico.core.signals`` is the model; plain
registries suffice here because every contribution is a value, not a reaction.

=============================  ==============================  =====================================
registry                       filled by                       read by
=============================  ==============================  =====================================
:data:`NAV`                    features with pages             the top bar (``app.web.pages``)
:data:`ROLE_TASKS`             this module (per role)          the phone's tab bar (``app.web.pages``)
:data:`SEARCH`                 features with findable records  the search box (``app.web.search``)
:data:`OVERLAYS`               features with map records       the map page (``app.mappage``)
:data:`DEMO_STEPS`             features with demo data         ``flask seed demo`` (``app.seed``)
:data:`.heat.HEAT_SOURCES`     features with events in space   heat maps (``app.heatmaps``)
:data:`.figures.FIGURES`       features with countable work    the dashboard (``app.dashboard``)
:data:`.figures.SERIES`        features with daily counts      the dashboard's line charts
:data:`.figures.BREAKDOWNS`    features with other breakdowns  the dashboard's tables and sheets
=============================  ==============================  =====================================

The heat sources and figures live in :mod:`app.core.heat` and :mod:`app.core.figures` with their types
and the builders a feature declares them with; each feature registers its own in its ``heat.py`` and
``figures.py``, over its own tables.

Which role may see an entry is a permission name of :mod:`app.auth.policy`, never a role list.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries in a stable order (``order``, then name); registering a name again replaces it."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, T] = {}
        self._ordered: list[T] | None = None

    def register(self, entry: T) -> T:
        """Add ``entry`` (keyed by its ``name``); returns it, so it can be used as a decorator-like call."""
        self._entries[entry.name] = entry
        self._ordered = None
        return entry

    def get(self, name: str, default=None) -> T | None:
        return self._entries.get(name, default)

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no {self.what} named {name!r}") from None

    def __setitem__(self, name: str, entry: T) -> None:
        if entry.name != name:
            raise KeyError(f"{self.what} {entry.name!r} registered as {name!r}")
        self.register(entry)

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
        self._ordered = None

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        if self._ordered is None:
            self._ordered = sorted(self._entries.values(), key=lambda e: (getattr(e, "order", 50), e.name))
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return [e.name for e in self]


# --------------------------------------------------------------------------- top bar


@dataclass(frozen=True)
class NavItem:
    """A link in the top bar to ``endpoint``, shown to users holding ``permission`` (all when None)."""

    name: str  # the endpoint, unique
    label: object  # lazy_gettext string
    permission: str | None = None
    order: int = 50

    @property
    def endpoint(self) -> str:
        return self.name


NAV: Registry[NavItem] = Registry("navigation entry")


def register_nav(endpoint: str, label, permission: str | None = None, order: int = 50) -> NavItem:
    """Show a link to ``endpoint`` in the top bar for users with ``permission``."""
    return NAV.register(NavItem(endpoint, label, permission, order))


# The few tasks a role does most, in the order of its phone's bottom tab bar (the top bar's first links
# on a desktop); every other link it may follow sits under "更多". Endpoints of :data:`NAV`: one that is
# not registered, or that the user lacks the permission for, is skipped. A role missing here gets the
# first links of :data:`NAV`.
ROLE_TASKS: dict[str, tuple[str, ...]] = {
    "grid_worker": ("mappage.index", "households.due", "incidents.new", "incidents.index"),
    "patrol": ("patrols.phone", "incidents.new", "mappage.index", "patrols.index"),
    "staff": ("incidents.index", "households.index", "consultations.index", "mappage.index"),
    "leader": ("dashboard.page", "heatmaps.page", "mappage.index", "incidents.index"),
    "planner": ("mappage.index", "mappage.layer_index", "heatmaps.page", "incidents.index"),
    "admin": ("mappage.index", "dashboard.page", "incidents.index", "mappage.layer_index"),
    "department": ("incident_desk.index", "mappage.index", "mappage.layer_index"),
}
TASKS_SHOWN = 4  # tabs of the bottom bar besides "更多"


# --------------------------------------------------------------------------- the search box


@dataclass(frozen=True)
class SearchProvider:
    """Finds a feature's records for the search box: ``search(user, text, limit)`` returns dicts with
    ``title``, ``subtitle``, ``lon``, ``lat`` and ``url``, only of records the user may see (the provider
    applies the access policy: a household only for those who read personal data)."""

    name: str
    label: object  # lazy_gettext string: what kind of record (小区, 楼栋, 事件 …)
    search: Callable
    order: int = 50


SEARCH: Registry[SearchProvider] = Registry("search provider")


def register_search(name: str, label, search: Callable, order: int = 50) -> SearchProvider:
    """Let the search box find ``name`` records with ``search``."""
    return SEARCH.register(SearchProvider(name, label, search, order))


# --------------------------------------------------------------------------- map overlays


@dataclass
class Overlay:
    """One browser-loaded GeoJSON layer on the map page, contributed by a feature.

    The browser fetches ``endpoint`` with ``?bbox=minLon,minLat,maxLon,maxLat&limit=N``; the answer is
    GeoJSON whose features carry an ``id``, so that popups and ``/?focus=<overlay>:<id>`` find them.
    """

    name: str
    title: object  # lazy_gettext string
    endpoint: str  # Flask endpoint answering GeoJSON for a bbox
    url_kwargs: dict = field(default_factory=dict)
    geom_type: str = "Point"
    style: dict = field(default_factory=dict)
    popup: list[str] | None = None  # property names shown in the popup, in order
    color_by: str | None = None  # property whose value picks a colour from ``colors``
    colors: dict = field(default_factory=dict)
    min_zoom: int = 0
    permission: str | None = None  # None: every logged-in user
    visible: bool = False  # shown when the page opens
    order: int = 50
    labels: dict = field(default_factory=dict)  # property → lazy label
    value_labels: dict = field(default_factory=dict)  # property → {code → lazy label}
    item_endpoint: str | None = None  # endpoint answering one Feature, for ``/?focus=<name>:<id>``
    item_id_arg: str = "id"  # the endpoint's keyword for the feature id
    list_endpoint: str | None = None  # a page listing the overlay's records, linked from popups
    label: str | None = None  # property drawn as a permanent label on each feature
    # A tile source of app.tiles drawing the same rows (``/tiles/<tiles>/{z}/{x}/{y}.mvt``): the map then
    # draws the overlay from vector tiles and fetches ``<endpoint>/<id>`` for a popup.
    tiles: str | None = None


OVERLAYS: Registry[Overlay] = Registry("map overlay")


def register_overlay(overlay: Overlay) -> Overlay:
    """Offer ``overlay`` in the map page's layer switcher."""
    return OVERLAYS.register(overlay)


# --------------------------------------------------------------------------- demo data


@dataclass(frozen=True)
class DemoStep:
    """One step of ``flask seed demo``: ``run()`` adds what is missing and returns how many rows it added.

    Steps run in ``order``; each must be idempotent (look records up by a natural key first).
    """

    name: str
    run: Callable[[], int]
    order: int = 50


DEMO_STEPS: Registry[DemoStep] = Registry("demo step")


def register_demo_step(name: str, run: Callable[[], int], order: int = 50) -> DemoStep:
    """Run ``run`` when the demo is seeded, after every step of a lower ``order``."""
    return DEMO_STEPS.register(DemoStep(name, run, order))
