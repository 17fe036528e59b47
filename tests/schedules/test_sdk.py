"""The Python SDK's `schedules`: declaring scheduled tasks, and every API call.

The wire tests answer from a fake server, for the sync calls and their async
twins alike (both run the same flows). The round trips go through the real Django
application in-process, over an httpx transport that calls the Django test client.
"""

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from tests.sdk.conftest import FakeServer
from triggerkit import client as sdk_client
from triggerkit import schedules
from triggerkit._tasks import Task, registry
from triggerkit.errors import BadRequestError, NotFoundError, UnprocessableEntityError
from triggerkit.schedules import (
    Schedule,
    ScheduledTask,
    ScheduledTaskPayload,
    ScheduleType,
)

SCHEDULE = {
    "id": "sched_abc",
    "type": "IMPERATIVE",
    "task": "user-digest",
    "active": True,
    "deduplicationKey": "user-1",
    "externalId": None,
    "generator": {
        "type": "CRON",
        "expression": "0 8 * * *",
        "description": "At 08:00 AM",
    },
    "timezone": "Europe/Paris",
    "nextRun": "2030-01-02T07:00:00.000Z",
    "nextRunEffectiveAt": "2030-01-02T07:00:00.000Z",
    "environments": [{"id": "env_1", "type": "DEVELOPMENT", "userName": None}],
}


@pytest.fixture(autouse=True)
def clean_sdk():
    sdk_client.reset()
    yield
    sdk_client.reset()


@pytest.fixture
def server():
    fake = FakeServer()
    sdk_client.configure(
        "tr_dev_x", "https://triggerkit.test", transport=httpx.MockTransport(fake)
    )
    return fake


def sent(server, index=-1):
    request = server.requests[index]
    body = json.loads(request.content) if request.content else None
    return request.method, request.url.path, dict(request.url.params), body


# Declaring scheduled tasks


def test_a_scheduled_task_is_a_task_with_its_schedule():
    @schedules.task(id="sdk-daily-report", cron=" 0  9 * * *", timezone="Europe/Paris")
    def daily_report(payload):
        return payload.timestamp

    try:
        assert isinstance(daily_report, ScheduledTask) and isinstance(
            daily_report, Task
        )
        assert registry["sdk-daily-report"] is daily_report
        assert (daily_report.cron, daily_report.timezone) == (
            "0 9 * * *",
            "Europe/Paris",
        )
        assert daily_report.environments is None
        assert daily_report.queue.name == "task/sdk-daily-report"
    finally:
        registry.pop("sdk-daily-report", None)


WIRE_PAYLOAD = {
    "scheduleId": "sched_abc",
    "type": "DECLARATIVE",
    "timestamp": "2030-01-01T08:00:00.000Z",
    "lastTimestamp": "2029-12-31T08:00:00.000Z",
    "timezone": "Europe/Paris",
    "upcoming": ["2030-01-02T08:00:00.000Z"],
}


def test_the_function_receives_the_payload_as_a_typed_object():
    seen = []
    report = ScheduledTask(
        lambda payload, ctx: seen.append((payload, ctx)), id="report"
    )

    report(WIRE_PAYLOAD, "ctx")

    payload, ctx = seen[0]
    assert payload == ScheduledTaskPayload(
        schedule_id="sched_abc",
        type=ScheduleType.DECLARATIVE,
        timestamp=datetime(2030, 1, 1, 8, tzinfo=UTC),
        last_timestamp=datetime(2029, 12, 31, 8, tzinfo=UTC),
        external_id=None,
        timezone="Europe/Paris",
        upcoming=[datetime(2030, 1, 2, 8, tzinfo=UTC)],
    )
    assert ctx == "ctx"
    assert report.takes_context


def test_an_async_function_receives_the_typed_payload_too():
    async def report(payload):
        return payload.schedule_id

    declared = ScheduledTask(report, id="async-report")

    assert declared.is_async and not declared.takes_context
    assert asyncio.run(declared.func(WIRE_PAYLOAD)) == "sched_abc"


def test_a_payload_that_is_not_a_schedule_payload_is_a_clear_error():
    declared = ScheduledTask(lambda payload: payload, id="report")

    with pytest.raises(TypeError, match="A scheduled task receives a schedule payload"):
        declared({"name": "Ada"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "0 0 9 * * *"}, "CRON expressions with seconds are not allowed"),
        ({"cron": "daily"}, "it needs five fields"),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
        ({"environments": ["PREVIEW"]}, "environments must name some of"),
        ({"environments": []}, "environments must name some of"),
    ],
)
def test_a_bad_declaration_fails_at_import_time(options, message):
    with pytest.raises(ValueError, match=message):
        ScheduledTask(lambda payload: None, id="bad", **options)


def test_environments_are_kept_as_upper_case_kinds():
    declared = ScheduledTask(
        lambda payload: None, id="x", cron="* * * * *", environments="production"
    )

    assert declared.environments == frozenset({"PRODUCTION"})


# What goes on the wire


def test_create_sends_the_definition_and_returns_a_schedule(server):
    server.reply(json=SCHEDULE)

    schedule = schedules.create(
        task="user-digest",
        cron="0 8 * * *",
        deduplication_key="user-1",
        timezone="Europe/Paris",
        external_id="u1",
    )

    assert sent(server) == (
        "POST",
        "/api/v1/schedules",
        {},
        {
            "task": "user-digest",
            "cron": "0 8 * * *",
            "timezone": "Europe/Paris",
            "externalId": "u1",
            "deduplicationKey": "user-1",
        },
    )
    assert schedule == Schedule.from_wire(SCHEDULE)
    assert (schedule.id, schedule.type, schedule.cron, schedule.description) == (
        "sched_abc",
        ScheduleType.IMPERATIVE,
        "0 8 * * *",
        "At 08:00 AM",
    )
    assert schedule.next_run == datetime(2030, 1, 2, 7, tzinfo=UTC)
    assert schedule.environments[0].type == "DEVELOPMENT"
    assert schedule.raw["generator"]["type"] == "CRON"


def test_optional_fields_are_left_out_of_the_body(server):
    server.reply(json=SCHEDULE)

    schedules.update("sched_abc", task="user-digest", cron="0 9 * * *")

    assert sent(server) == (
        "PUT",
        "/api/v1/schedules/sched_abc",
        {},
        {"task": "user-digest", "cron": "0 9 * * *"},
    )


def test_list_sends_the_page_and_reads_the_pagination(server):
    server.reply(
        json={
            "data": [SCHEDULE],
            "pagination": {"currentPage": 2, "totalPages": 3, "count": 41},
        }
    )

    page = schedules.list(page=2, per_page=20)

    assert sent(server)[:3] == (
        "GET",
        "/api/v1/schedules",
        {"page": "2", "perPage": "20"},
    )
    assert [s.id for s in page.schedules] == ["sched_abc"]
    assert (page.current_page, page.total_pages, page.count, page.has_next_page) == (
        2,
        3,
        41,
        True,
    )


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        (lambda: schedules.retrieve("team/7"), "GET", "/api/v1/schedules/team%2F7"),
        (
            lambda: schedules.activate("sched_abc"),
            "POST",
            "/api/v1/schedules/sched_abc/activate",
        ),
        (
            lambda: schedules.deactivate("sched_abc"),
            "POST",
            "/api/v1/schedules/sched_abc/deactivate",
        ),
    ],
)
def test_single_schedule_calls_use_their_paths(server, call, method, path):
    server.reply(json=SCHEDULE)

    assert call().id == "sched_abc"

    request = server.requests[-1]
    assert (request.method, request.url.raw_path.decode()) == (method, path)


def test_delete_returns_the_deleted_id(server):
    server.reply(json={"id": "sched_abc"})

    assert schedules.delete("sched_abc") == "sched_abc"
    assert sent(server)[:2] == ("DELETE", "/api/v1/schedules/sched_abc")


def test_timezones_can_leave_out_utc(server):
    server.reply(json={"timezones": ["Europe/Paris"]})

    assert schedules.timezones(exclude_utc=True) == ["Europe/Paris"]
    assert sent(server)[:3] == ("GET", "/api/v1/timezones", {"excludeUtc": "true"})


def test_a_422_raises_unprocessable_entity_without_retrying(server):
    server.reply(422, {"error": "Invalid cron expression '* *'"})

    with pytest.raises(UnprocessableEntityError, match="Invalid cron expression"):
        schedules.create(task="t", cron="* *", deduplication_key="k")
    assert len(server.requests) == 1


def test_the_async_twins_send_the_same_requests(server):
    for _ in range(7):
        server.reply(json=SCHEDULE)
    server.reply(json={"id": "sched_abc"})
    server.reply(
        json={"data": [], "pagination": {"currentPage": 1, "totalPages": 0, "count": 0}}
    )
    server.reply(json={"timezones": ["UTC"]})

    async def main():
        await schedules.create_async(task="t", cron="* * * * *", deduplication_key="k")
        await schedules.retrieve_async("sched_abc")
        await schedules.update_async("sched_abc", task="t", cron="* * * * *")
        await schedules.activate_async("sched_abc")
        await schedules.deactivate_async("sched_abc")
        await schedules.update_async("k", task="t", cron="0 * * * *", external_id="e")
        await schedules.retrieve_async("k")
        await schedules.delete_async("sched_abc")
        page = await schedules.list_async()
        zones = await schedules.timezones_async()
        return page, zones

    page, zones = asyncio.run(main())

    assert [(r.method, r.url.path) for r in server.requests] == [
        ("POST", "/api/v1/schedules"),
        ("GET", "/api/v1/schedules/sched_abc"),
        ("PUT", "/api/v1/schedules/sched_abc"),
        ("POST", "/api/v1/schedules/sched_abc/activate"),
        ("POST", "/api/v1/schedules/sched_abc/deactivate"),
        ("PUT", "/api/v1/schedules/k"),
        ("GET", "/api/v1/schedules/k"),
        ("DELETE", "/api/v1/schedules/sched_abc"),
        ("GET", "/api/v1/schedules"),
        ("GET", "/api/v1/timezones"),
    ]
    assert (page.count, zones) == (0, ["UTC"])


# Round trips through the Django application


@pytest.fixture
def django_sdk(client, project, env):
    """The SDK configured against the Django app, in this thread and transaction."""

    def handle(request: httpx.Request) -> httpx.Response:
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in ("content-type", "content-length", "host")
        }
        answer = client.generic(
            request.method,
            request.url.raw_path.decode(),
            data=request.content,
            content_type=request.headers.get("content-type", ""),
            headers=headers,
        )
        return httpx.Response(
            answer.status_code, headers=dict(answer.items()), content=answer.content
        )

    transport = httpx.MockTransport(handle)
    sdk_client.configure(
        project.dev, "http://testserver", transport=transport, retry_min_delay=0.001
    )
    return project


def test_every_call_round_trips_through_the_server(django_sdk):
    created = schedules.create(
        task="user-digest",
        cron="0 8 * * *",
        deduplication_key="team/7",
        external_id="t7",
    )
    upserted = schedules.create(
        task="user-digest",
        cron="0 9 * * *",
        deduplication_key="team/7",
        timezone="Asia/Tokyo",
    )
    by_key = schedules.retrieve("team/7")
    updated = schedules.update(created.id, task="user-digest", cron="*/10 * * * *")
    paused = schedules.deactivate("team/7")
    resumed = schedules.activate(created.id)
    page = schedules.list(per_page=5)
    deleted = schedules.delete("team/7")

    assert upserted.id == by_key.id == updated.id == created.id
    assert (upserted.cron, upserted.timezone, upserted.external_id) == (
        "0 9 * * *",
        "Asia/Tokyo",
        None,
    )
    assert by_key == upserted
    assert (updated.cron, updated.description) == ("*/10 * * * *", "Every 10 minutes")
    assert (paused.active, paused.next_run) == (False, None)
    assert resumed.active and resumed.next_run > datetime.now(UTC)
    assert [s.id for s in page.schedules] == [created.id]
    assert deleted == created.id
    with pytest.raises(NotFoundError, match="Schedule not found"):
        schedules.retrieve(created.id)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"cron": "0 8 * * * *"}, UnprocessableEntityError, "seconds are not allowed"),
        ({"timezone": "Mars/Olympus"}, UnprocessableEntityError, "Invalid timezone"),
        ({"task": "hello-world"}, UnprocessableEntityError, "is not a scheduled task"),
        ({"deduplication_key": ""}, BadRequestError, "Invalid request body"),
    ],
)
def test_refusals_raise_the_matching_errors(django_sdk, options, error, message):
    arguments = {
        "task": "user-digest",
        "cron": "0 8 * * *",
        "deduplication_key": "k",
        **options,
    }

    with pytest.raises(error, match=message):
        schedules.create(**arguments)
