"""What features above incidents add to an incident, without incidents knowing them.

Two registries, filled by the features in their ``init_app`` (consultations is the first):

* :data:`STEP_HANDLERS` — the extra data a workflow step takes (``department_id`` when dispatched,
  ``meeting_id`` when sent to consultation …): ``handler(step)`` checks it, sets the incident's
  columns and returns what the timeline records. Incidents registers its own steps here too.
* :data:`RELATED` — records linked to an incident (the meetings that discussed it …), shown on the
  incident's page: ``provider(incident_id)`` returns links.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.registry import Registry


@dataclass
class Step:
    """One workflow step being taken: what a handler reads and where it reports bad values."""

    incident: object  # app.incidents.models.Incident, locked for the transaction
    to_state: str
    data: dict  # the step's extra values (ids already integers)
    scope: object  # app.auth.policy.Scope of the user taking the step
    errors: dict = field(default_factory=dict)

    def fail(self, name: str, message: str) -> None:
        """Report a bad value: the step is refused with 422, every error named."""
        self.errors[name] = message


@dataclass(frozen=True)
class StepHandler:
    """Checks and applies the extra data of the step to ``name`` (a state); returns what to record."""

    name: str
    handle: Callable[[Step], dict]


STEP_HANDLERS: Registry[StepHandler] = Registry("workflow step handler")


def register_step_handler(to_state: str, handle: Callable[[Step], dict]) -> StepHandler:
    """Let ``handle`` check and apply the extra data of every step to ``to_state``."""
    return STEP_HANDLERS.register(StepHandler(to_state, handle))


@dataclass(frozen=True)
class Link:
    """A link shown on an incident's page."""

    url: str
    text: str


@dataclass(frozen=True)
class Related:
    """A kind of record linked to incidents: ``label`` on the page, ``links(incident_id)`` the records."""

    name: str
    label: object  # lazy_gettext string
    links: Callable[[int], list[Link]]
    order: int = 50


RELATED: Registry[Related] = Registry("related-records provider")


def register_related(name: str, label, links: Callable[[int], list[Link]], order: int = 50) -> Related:
    """Show the records ``links(incident_id)`` returns on every incident's page, under ``label``."""
    return RELATED.register(Related(name, label, links, order))


def related_links(incident_id: int) -> list[tuple[object, Link]]:
    """(label, link) pairs of every registered provider, in registry order."""
    return [(r.label, link) for r in RELATED for link in r.links(incident_id)]
