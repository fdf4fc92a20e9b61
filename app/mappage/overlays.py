"""Map overlays contributed by features (incidents, patrols, visits, heat …).

The map page shows every layer of ``app.api.layers.LAYERS`` plus the overlays
registered here. An overlay is fetched by the browser from ``endpoint`` with
``?bbox=minLon,minLat,maxLon,maxLat&limit=N`` and must answer GeoJSON.
Each feature of the answer should carry an ``id``, so that popups and
``/?focus=<overlay>:<id>`` can find it.
"""
from dataclasses import dataclass, field


@dataclass
class Overlay:
    """One browser-loaded GeoJSON layer on the map page."""
    name: str
    title: object                       # lazy_gettext string
    endpoint: str                       # Flask endpoint answering GeoJSON for a bbox
    url_kwargs: dict = field(default_factory=dict)
    geom_type: str = "Point"
    style: dict = field(default_factory=dict)
    popup: list[str] | None = None      # property names shown in the popup, in order
    color_by: str | None = None         # property whose value picks a colour from ``colors``
    colors: dict = field(default_factory=dict)
    min_zoom: int = 0
    roles: tuple[str, ...] | None = None  # None: every logged-in user
    visible: bool = False               # shown when the page opens
    order: int = 50
    labels: dict = field(default_factory=dict)        # property → lazy label (beside app.mappage.labels)
    value_labels: dict = field(default_factory=dict)  # property → {code → lazy label}
    item_endpoint: str | None = None    # endpoint answering one Feature, for ``/?focus=<name>:<id>``
    item_id_arg: str = "id"             # the endpoint's keyword for the feature id
    list_endpoint: str | None = None    # a page listing the overlay's records, linked from popups
    label: str | None = None            # property drawn as a permanent label on each feature


OVERLAYS: dict[str, Overlay] = {}


def register_overlay(overlay: Overlay) -> Overlay:
    """Offer ``overlay`` in the map page's layer switcher."""
    OVERLAYS[overlay.name] = overlay
    return overlay
