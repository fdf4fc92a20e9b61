"""Sections of a household file page that other features contribute (wishes, …).

The households package sits below the features that build on it, so it never imports them: a feature
that keeps records about a household registers a :class:`FileSection` in its ``init_app``, and the
file page (``/households/<id>``) shows every registered section, in ``order``::

    register_file_section(FileSection("wishes", _l("微心愿"), household_wishes,
                                      link_label=_l("登记微心愿"), link_endpoint="wishes.new"))
"""

from collections.abc import Callable
from dataclasses import dataclass

from app.core.registry import Registry


@dataclass(frozen=True)
class FileSection:
    """A heading and its lines on a household's page.

    ``lines(user, household)`` returns the lines (plain text) the user may see; ``link_endpoint``
    (called with ``household_id``) is offered as a button beside "log a visit".
    """

    name: str
    title: object  # lazy_gettext string
    lines: Callable[[object, object], list[str]]
    link_label: object | None = None
    link_endpoint: str | None = None
    order: int = 50


FILE_SECTIONS: Registry[FileSection] = Registry("household file section")


def register_file_section(section: FileSection) -> FileSection:
    """Show ``section`` on every household file page."""
    return FILE_SECTIONS.register(section)


def sections_for(user, household) -> list[dict]:
    """The registered sections with their lines for ``household``, for the page."""
    return [
        {
            "name": s.name,
            "title": s.title,
            "lines": s.lines(user, household),
            "link_label": s.link_label,
            "link_endpoint": s.link_endpoint,
        }
        for s in FILE_SECTIONS
    ]
