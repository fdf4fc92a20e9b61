"""Transitional: the personal-data rule now lives in :mod:`app.auth.policy`."""
from app.auth.policy import (SMALL_COUNT as K_ANONYMITY, counts_clause, personal_clause,  # noqa: F401
                             reads_personal, suppress, suppressed_label)

PERSONAL_ROLES = ("admin", "staff", "grid_worker")
