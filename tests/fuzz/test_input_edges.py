"""Edge inputs the fuzzers found: each must get a 4xx with a JSON error, never a 500.

Each case once answered an HTML 500 (the bugs are named in known.py, whose
taming steps keep the generated fuzz input away from them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from runs import durations
from runs.api.base import UNUSABLE_VALUE_MESSAGE
from tests.fuzz.known import LENGTHS, NUL, OVERFLOW, SURROGATE

TRIGGER = "/api/v1/tasks/echo/trigger"
NDJSON = "application/x-ndjson"


def edge(
    name, bug, method, path, body=None, query=None, content_type="application/json"
):
    return pytest.param((method, path, body, query, content_type), id=name)


def trigger(name, bug, **options):
    return edge(name, bug, "post", TRIGGER, {"payload": "x", "options": options})


def trigger_raw(name, bug, raw):
    return edge(name, bug, "post", TRIGGER, raw)


def listing(name, bug, **query):
    return edge(name, bug, "get", "/api/v1/runs", query=query)


LONG_TASK_ID = "a" * 127
EDGES = [
    trigger("ttl-beyond-int", OVERFLOW, ttl=10**10),
    trigger("ttl-huge-duration", OVERFLOW, ttl="9" * 40 + "w"),
    trigger_raw(
        "ttl-infinity", OVERFLOW, '{"payload": 1, "options": {"ttl": Infinity}}'
    ),
    trigger("priority-beyond-int", OVERFLOW, priority=3e9),
    trigger_raw(
        "priority-nan", OVERFLOW, '{"payload": 1, "options": {"priority": NaN}}'
    ),
    trigger_raw(
        "max-duration-nan", OVERFLOW, '{"payload": 1, "options": {"maxDuration": NaN}}'
    ),
    trigger("delay-two-million-years", OVERFLOW, delay="99999999w"),
    trigger(
        "key-ttl-huge",
        OVERFLOW,
        idempotencyKey="k",
        idempotencyKeyTTL="99999999999999d",
    ),
    listing("list-period-huge", OVERFLOW, **{"filter[createdAt][period]": "99999999w"}),
    edge(
        "reschedule-huge",
        OVERFLOW,
        "post",
        "/api/v1/runs/{delayed}/reschedule",
        {"delay": "99999999w"},
    ),
    trigger("concurrency-key-long", LENGTHS, concurrencyKey="c" * 200),
    trigger("payload-type-long", LENGTHS, payloadType="t" * 100),
    edge(
        "task-id-124",
        LENGTHS,
        "post",
        f"/api/v1/tasks/{'a' * 124}/trigger",
        {"payload": 1},
    ),
    edge(
        "legacy-batch-task-id-127",
        LENGTHS,
        "post",
        "/api/v1/tasks/batch",
        {"items": [{"task": LONG_TASK_ID}]},
    ),
    edge(
        "batch-item-task-id-127",
        LENGTHS,
        "post",
        "/api/v3/batches/{batch}/items",
        json.dumps({"index": 0, "task": LONG_TASK_ID}),
        content_type=NDJSON,
    ),
    edge("run-id-with-nul", NUL, "get", "/api/v3/runs/run_a\x00b"),
    edge("batch-id-with-nul", NUL, "get", "/api/v2/batches/batch_\x00"),
    edge(
        "task-id-with-nul", NUL, "post", "/api/v1/tasks/a\x00b/trigger", {"payload": 1}
    ),
    listing("list-tag-with-nul", NUL, **{"filter[tag]": "a\x00"}),
    listing("list-task-with-nul", NUL, **{"filter[taskIdentifier]": "a\x00b"}),
    trigger("tag-with-nul", NUL, tags=["a\x00"]),
    trigger("metadata-key-with-nul", NUL, metadata={"a\x00": 1}),
    trigger_raw("payload-lone-surrogate", SURROGATE, '{"payload": "\\ud800"}'),
    trigger_raw(
        "metadata-lone-surrogate",
        SURROGATE,
        '{"payload": 1, "options": {"metadata": {"a": "\\ud800"}}}',
    ),
]


@pytest.fixture
def ids(client, project):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {project.dev}"}
    delayed = client.post(
        TRIGGER,
        data=json.dumps({"payload": 1, "options": {"delay": "1h"}}),
        content_type="application/json",
        **headers,
    ).json()["id"]
    batch = client.post(
        "/api/v3/batches",
        data='{"runCount": 1}',
        content_type="application/json",
        **headers,
    ).json()["id"]
    return {"delayed": delayed, "batch": batch}


@pytest.mark.parametrize("request_spec", EDGES)
def test_an_edge_input_gets_a_clear_4xx(project, ids, request_spec):
    method, path, body, query, content_type = request_spec
    client = Client(raise_request_exception=False)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {project.dev}"}
    path = path.format(**ids)

    if method == "get":
        response = client.get(path, query or {}, **headers)
    else:
        data = body if isinstance(body, str) else json.dumps(body)
        response = client.post(path, data=data, content_type=content_type, **headers)

    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error, str)
        # A value nothing can store is refused in fixed words: neither the value
        # nor PostgreSQL's message about it is echoed back.
        if error.startswith("Invalid value"):
            assert error == UNUSABLE_VALUE_MESSAGE


def test_parse_duration_says_none_to_a_duration_no_timedelta_can_hold():
    assert durations.parse_duration("99999999999w") is None


def test_resolve_delay_refuses_a_delay_past_the_end_of_the_calendar():
    now = datetime(2030, 1, 1, tzinfo=UTC)

    with pytest.raises(ValueError):
        durations.resolve_delay("600000w", now)
