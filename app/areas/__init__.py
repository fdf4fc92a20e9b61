"""The area hierarchy: district → street (街道) → community (社区) → grid (网格) → micro-grid (微网格)."""

from app.areas import models  # noqa: F401


def init_app(app) -> None:
    """The demo areas (first of ``flask seed demo``). Areas are served through the layer API
    (``app.basemap``); grid workers by ``app.accounts``."""
    from app.areas import demo
    from app.core.registry import register_demo_step

    register_demo_step("areas", demo.seed_areas, order=10)
