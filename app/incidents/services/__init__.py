"""The incidents feature's services, one module per reason to change; this package names what other
modules call (``from app.incidents import services``; ``services.transition(...)``).

========================  ==================================================================
module                    what changes it
========================  ==================================================================
:mod:`.deadlines`         how overdue is computed (also the dashboard's rule)
:mod:`.attributes`        what a report's extra attributes may hold (Open311 datatypes)
:mod:`.categories`        the category tree, departments, stage deadlines
:mod:`.records`           loading one incident in the user's area; its timeline, offers, photos
:mod:`.reporting`         reporting, routing, duplicates, attaching a report
:mod:`.transitions`       the workflow applied, the handlers of each step's data
:mod:`.organisations`     departments and property companies in Wuwei: members, desks, who holds a step
:mod:`.extensions`        requests for more time and their decisions
:mod:`.resident`          the resident's status page and rating
:mod:`.tell`              who is told what at each hand-off (notices)
:mod:`.reminders`         deadline near and overdue, told once per stage
:mod:`.queries`           lists, the map overlay's GeoJSON, the CSV export, counts
:mod:`.detail`            one incident as the API and the page show it
:mod:`.photos`            photo files: checked, re-encoded, thumbnailed
========================  ==================================================================

Each write is one transaction, recorded in the audit log.
"""

from app.incidents.services.attributes import check_attributes
from app.incidents.services.categories import (
    categories,
    category_by_code,
    category_ids,
    create_category,
    departments,
    update_category,
)
from app.incidents.services.deadlines import (
    due_at_sql,
    overdue_of,
    overdue_sql,
    stage_hours_sql,
)
from app.incidents.services.detail import can_read_personal, incident_dict
from app.incidents.services.extensions import decide_extension, pending, request_extension, requests_of
from app.incidents.services.organisations import (
    holder_ids,
    load_for_desk,
    organisation_for,
    organisation_of,
    organisations,
    set_members,
    target_name,
)
from app.incidents.services.photos import add_photo, photo_file
from app.incidents.services.queries import (
    COUNT_CAP,
    CSV_COLUMNS,
    MAX_LIMIT,
    SORTS,
    Filters,
    category_points,
    count_incidents,
    feature_collection,
    filter_conditions,
    list_rows,
    state_counts,
)
from app.incidents.services.records import (
    get_incident,
    last_step_id,
    link_meeting,
    offered_to,
    offers,
    photos_of,
    state_changes,
    timeline,
)
from app.incidents.services.reminders import remind
from app.incidents.services.reporting import (
    DUPLICATE_DAYS,
    DUPLICATE_RADIUS_M,
    MAX_DESCRIPTION,
    attach_report,
    default_source,
    in_served_area,
    report_incident,
    suggest_duplicates,
)
from app.incidents.services.resident import by_case_number, by_token, public_view, rate
from app.incidents.services.tell import case_label
from app.incidents.services.transitions import (
    assignable_users,
    dispatch_companies,
    external_step,
    may_take,
    transition,
)

__all__ = [
    "COUNT_CAP",
    "CSV_COLUMNS",
    "DUPLICATE_DAYS",
    "DUPLICATE_RADIUS_M",
    "MAX_DESCRIPTION",
    "MAX_LIMIT",
    "SORTS",
    "Filters",
    "add_photo",
    "assignable_users",
    "attach_report",
    "by_case_number",
    "by_token",
    "can_read_personal",
    "case_label",
    "categories",
    "category_by_code",
    "category_ids",
    "category_points",
    "check_attributes",
    "count_incidents",
    "create_category",
    "decide_extension",
    "default_source",
    "departments",
    "dispatch_companies",
    "due_at_sql",
    "external_step",
    "feature_collection",
    "filter_conditions",
    "get_incident",
    "holder_ids",
    "in_served_area",
    "incident_dict",
    "last_step_id",
    "link_meeting",
    "list_rows",
    "load_for_desk",
    "may_take",
    "offered_to",
    "offers",
    "organisation_for",
    "organisation_of",
    "organisations",
    "overdue_of",
    "overdue_sql",
    "pending",
    "photo_file",
    "photos_of",
    "public_view",
    "rate",
    "remind",
    "report_incident",
    "request_extension",
    "requests_of",
    "set_members",
    "stage_hours_sql",
    "state_changes",
    "state_counts",
    "suggest_duplicates",
    "target_name",
    "timeline",
    "transition",
    "update_category",
]
