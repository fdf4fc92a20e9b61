"""The CSV export of the files a user keeps: one row per member, audited as an export."""

from flask import Response

from app.households.files import list_households
from app.web.tables import csv_response

HEADER = [
    "household_id",
    "grid_code",
    "building",
    "flat_no",
    "head_name",
    "phone",
    "household_tags",
    "member",
    "relation",
    "age",
    "member_phone",
    "party_member",
    "member_tags",
    "notes",
]


def _rows(households):
    for h in households:
        base = [
            h.id,
            h.grid.code if h.grid else "",
            h.building.name if h.building else "",
            h.flat_no,
            h.head_name,
            h.phone or "",
            " ".join(t.code for t in h.tags),
        ]
        if not h.members:
            yield base + ["", "", "", "", "", "", h.notes or ""]
        for m in h.members:
            yield base + [
                m.name,
                m.relation or "",
                m.age if m.age is not None else "",
                m.phone or "",
                int(m.party_member),
                " ".join(t.code for t in m.tags),
                h.notes or "",
            ]


def households_csv(user) -> Response:
    """The files ``user`` keeps as CSV (cells that would start a formula are escaped)."""
    households, _total = list_households(user, limit=100000, action="export")
    return csv_response(HEADER, _rows(households), "households.csv")
