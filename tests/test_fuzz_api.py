"""A property-based fuzz of every operation in ``/api/v1/openapi.json`` (schemathesis + hypothesis).

Requests are generated from the document itself, valid and invalid, and sent as a logged-in admin
(bearer token, so writes need no CSRF header). Whatever is sent, the answer is never a 5xx, and a
documented answer's status is one the document lists. Each operation runs in the test's rolled-back
transaction, so nothing the fuzzer writes stays.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import status_code_conformance

FUZZ_EXAMPLES = 12

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def api_schema(app):
    """The document of the session's app (migrated, seeded test database)."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def admin_headers(auth):
    return auth.token("admin")


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_no_operation_answers_a_server_error(case, admin_headers):
    response = case.call(headers=admin_headers)
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body, response.text[:300])
    if response.status_code not in (401, 403, 404, 405):
        status_code_conformance(None, response, case)
