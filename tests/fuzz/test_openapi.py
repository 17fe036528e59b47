"""Schemathesis against the API's own OpenAPI document, in process through WSGI.

Every operation gets generated requests (valid ones and deliberately broken
ones) with a valid secret key. No answer may be a 5xx, and every answer must
match what the document declares: its status code, content type and body.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.conftest import create_test_project
from tests.fuzz import known

# Raise it for a deeper search on your machine: TRIGGERKIT_FUZZ_EXAMPLES=500 pytest tests/fuzz
EXAMPLES_PER_OPERATION = int(os.environ.get("TRIGGERKIT_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
)


@pytest.fixture
def key(db):
    return create_test_project().dev


@pytest.fixture(autouse=True)
def keep_the_test_transaction():
    """Requests through raw WSGI would close the connection, and the test's transaction.

    Django's test client does the same: it disconnects these handlers.
    """
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
def test_the_api_answers_every_request_as_its_document_says(case, key):
    steer_clear_of_known_bugs(case)
    case.call_and_validate(
        headers={
            "Authorization": f"Bearer {key}",
            "x-trigger-api-version": "2025-07-16",
        },
        checks=CHECKS,
    )


def steer_clear_of_known_bugs(case) -> None:
    """Tame the generated request so that it does not find a pinned bug again (known.py)."""
    if case.path_parameters:
        case.path_parameters = {
            name: known.tame_task_id(known.tame(value))
            if name == "task_id"
            else known.tame(value)
            for name, value in case.path_parameters.items()
        }
    if case.query:
        case.query = known.tame_query(case.query)
    if isinstance(case.body, (dict, list, str)):
        case.body = known.tame_body(case.body)


def test_every_run_and_batch_operation_declares_the_guard_s_429_and_503():
    """The auth guard limits every route (429) and maps a lost database to 503."""
    from runs.api.base import api

    document = api.get_openapi_schema()
    operations = [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if {"runs", "batches"} & set(operation.get("tags", []))
    ]

    assert operations
    for method, path, operation in operations:
        assert {"429", "503"} <= set(map(str, operation["responses"])), (method, path)
