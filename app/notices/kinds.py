"""The kinds of notice, registered by the features that send them (``register_kind`` in their ``init_app``).

A kind names its label (the settings page), its message (shown in the reader's language, filled with the
notice's ``params``: ``%(case)s``, ``%(category)s`` …; a parameter ending in ``_at`` holds an ISO time and is
shown as a local date and time), whether it is e-mailed by default, and whether users may subscribe to it
for an area ("new incidents in my grid").
"""

from dataclasses import dataclass

from app.core.registry import Registry


@dataclass(frozen=True)
class Kind:
    name: str  # "incident.dispatched"
    label: object  # lazy_gettext: the settings page
    message: object  # lazy_gettext with %(param)s placeholders
    email: bool = True  # e-mailed by default (when the user has an address)
    area: bool = False  # users may subscribe to it for an area
    order: int = 50


KINDS: Registry[Kind] = Registry("notice kind")


def register_kind(name: str, label, message, *, email: bool = True, area: bool = False, order: int = 50) -> Kind:
    """Let features tell users of ``name``."""
    return KINDS.register(Kind(name, label, message, email, area, order))


def area_kinds() -> list[Kind]:
    """The kinds an area subscription may choose."""
    return [k for k in KINDS if k.area]
