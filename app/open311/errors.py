"""The error every Open311 answer carries as an error array (``[{"code": 400, "description": "..."}]``)."""

from app.core.errors import ApiError


class Open311Error(ApiError):
    """An error answered as an Open311 error array."""
