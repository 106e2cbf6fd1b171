"""Schemathesis over the published /openapi.json: no request the schema allows (or breaks) makes a 5xx.

Every operation is called with an admin token, with bounded, derandomised
examples by default and many more under ``HYPOTHESIS_PROFILE=deep``. Each
response must be no server error and must conform to the document: a
declared status, content type and body schema; and an operation that needs
a token must refuse a request without one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from sidecar.app import create_app
from sidecar.audit.checkpoints import new_signer_key
from sidecar.settings import Settings
from tests.api.support import Api, Opener

DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
EXAMPLES = 200 if DEEP else 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,  # an operation the document says needs a token refuses a request without one
]


# The document does not depend on the store or the database: load it once, at collection.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def fuzzed(opener: Opener) -> Iterator[Api]:
    """The app schemathesis calls (auto_apply off, no rate limit to speak of)."""
    yield opener.open(auto_apply=False, checkpoint_key=new_signer_key("firm.example/pva"))
    # Schemathesis starts the app's lifespan once and keeps it for the process: end it with the module.
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=not DEEP,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case[Any], fuzzed: Api) -> None:
    """Any generated request, valid or not, gets a declared, schema-conforming answer and never a 5xx."""
    case.call_and_validate(app=fuzzed.app, headers=fuzzed.auth("admin"), checks=CHECKS)


def test_document_says_healthz_needs_no_token_and_the_rest_do() -> None:
    """The OpenAPI document requires a bearer token everywhere but /healthz, which probes call bare."""
    document = create_app(Settings()).openapi()
    assert document["security"] == [{"bearer": []}]
    exempt = {
        (path, method)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == []
    }
    assert exempt == {("/healthz", "get")}
