"""The schedule endpoints of API.md §2.12, through the Django test client."""

from datetime import UTC, datetime, timedelta

import pytest

from runs.engine import schedules
from runs.engine.schedules import DeclaredSchedule, register_declared_schedules
from runs.models import Run, Schedule, ScheduleType
from tests.schedules.conftest import make_schedule


def next_eight_oclock() -> str:
    now = datetime.now(UTC)
    tick = now.replace(hour=8, minute=0, second=0, microsecond=0)
    if tick <= now:
        tick += timedelta(days=1)
    return tick.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_create_answers_the_schedule_object(api, env):
    response = api.create(externalId="user-1", deduplicationKey="digest-user-1")

    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("sched_")
    assert body == {
        "id": body["id"],
        "type": "IMPERATIVE",
        "task": "user-digest",
        "active": True,
        "deduplicationKey": "digest-user-1",
        "externalId": "user-1",
        "generator": {
            "type": "CRON",
            "expression": "0 8 * * *",
            "description": "At 08:00 AM",
        },
        "timezone": "UTC",
        "nextRun": next_eight_oclock(),
        "nextRunEffectiveAt": next_eight_oclock(),
        "environments": [
            {"id": env.public_id, "type": "DEVELOPMENT", "userName": None}
        ],
    }
    assert Schedule.objects.get(pk=body["id"]).environment == env


def test_create_with_an_existing_deduplication_key_updates_that_schedule(api):
    first = api.create(cron="0 8 * * *").json()

    second = api.create(cron="*/5 * * * *", timezone="Europe/Paris", externalId="u1")

    assert second.status_code == 200
    body = second.json()
    assert body["id"] == first["id"]
    assert body["generator"]["expression"] == "*/5 * * * *"
    assert body["generator"]["description"] == "Every 5 minutes"
    assert (body["timezone"], body["externalId"]) == ("Europe/Paris", "u1")
    assert Schedule.objects.count() == 1


def test_the_same_key_in_another_environment_is_another_schedule(api, project):
    dev = api.create().json()

    prod = api.call(
        "POST",
        "/api/v1/schedules",
        {"task": "user-digest", "cron": "0 8 * * *", "deduplicationKey": "user-1"},
        key=project.prod,
    ).json()

    assert prod["id"] != dev["id"]
    assert prod["environments"][0]["type"] == "PRODUCTION"


def test_extra_spaces_in_a_cron_are_normalised(api):
    body = api.create(cron="  0   8 * *  * ").json()

    assert body["generator"]["expression"] == "0 8 * * *"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"cron": "0 8 * * * *"},
            "CRON expressions with seconds are not allowed",
            id="seconds",
        ),
        pytest.param({"cron": "every day"}, "it needs five fields", id="two-fields"),
        pytest.param(
            {"cron": "61 * * * *"}, "Invalid cron expression '61 * * * *'", id="range"
        ),
        pytest.param(
            {"cron": "0 0 30 2 *"}, "Invalid cron expression '0 0 30 2 *'", id="never"
        ),
        pytest.param(
            {"timezone": "Mars/Olympus"}, "Invalid timezone 'Mars/Olympus'", id="zone"
        ),
        pytest.param(
            {"timezone": "localtime"}, "Invalid timezone 'localtime'", id="not-a-zone"
        ),
        pytest.param(
            {"task": "hello-world"},
            "'hello-world' is not a scheduled task",
            id="not-scheduled",
        ),
        pytest.param(
            {"task": "no-such-task"}, "'no-such-task' not found", id="unknown-task"
        ),
    ],
)
def test_a_definition_the_engine_refuses_is_a_422_and_creates_nothing(
    api, changes, message
):
    response = api.create(**changes)

    assert response.status_code == 422
    assert message in response.json()["error"]
    assert Schedule.objects.count() == 0


def test_a_refused_upsert_leaves_the_existing_schedule_as_it_was(api):
    original = api.create().json()

    response = api.create(cron="0 8 * * * *")

    assert response.status_code == 422
    assert api.call("GET", f"/api/v1/schedules/{original['id']}").json() == original


@pytest.mark.parametrize(
    ("body", "path"),
    [
        pytest.param(
            {"task": "user-digest", "cron": "0 8 * * *"},
            ["deduplicationKey"],
            id="no-key",
        ),
        pytest.param(
            {"cron": "0 8 * * *", "deduplicationKey": "k"}, ["task"], id="no-task"
        ),
        pytest.param(
            {"task": 7, "cron": "0 8 * * *", "deduplicationKey": "k"},
            ["task"],
            id="int",
        ),
        pytest.param(
            {"task": "user-digest", "cron": "", "deduplicationKey": "k"},
            ["cron"],
            id="empty",
        ),
        pytest.param([1, 2], [], id="not-an-object"),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400_with_its_issues(api, body, path):
    response = api.call("POST", "/api/v1/schedules", body)

    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "Invalid request body"
    assert path in [issue["path"] for issue in error["issues"]]
    assert all(issue["message"] for issue in error["issues"])
    assert Schedule.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("{oops", "Invalid JSON", id="json"),
        pytest.param("", "Request body is empty", id="empty"),
    ],
)
def test_a_body_that_is_not_json_is_a_400(api, raw, message):
    response = api.call("POST", "/api/v1/schedules", raw=raw)

    assert (response.status_code, response.json()) == (400, {"error": message})


def test_list_pages_through_the_environment_schedules_newest_first(api, project):
    ids = [api.create(deduplicationKey=f"user-{n}").json()["id"] for n in range(3)]
    api.call(
        "POST",
        "/api/v1/schedules",
        {"task": "user-digest", "cron": "0 8 * * *", "deduplicationKey": "other-env"},
        key=project.prod,
    )

    first = api.call(
        "GET", "/api/v1/schedules", params={"page": 1, "perPage": 2}
    ).json()
    second = api.call(
        "GET", "/api/v1/schedules", params={"page": "2", "perPage": "2"}
    ).json()
    past = api.call("GET", "/api/v1/schedules", params={"page": 3, "perPage": 2}).json()

    assert [item["id"] for item in first["data"]] == ids[::-1][:2]
    assert first["pagination"] == {"currentPage": 1, "totalPages": 2, "count": 3}
    assert [item["id"] for item in second["data"]] == ids[:1]
    assert second["pagination"] == {"currentPage": 2, "totalPages": 2, "count": 3}
    assert (past["data"], past["pagination"]["currentPage"]) == ([], 3)


def test_list_defaults_to_twenty_a_page_and_caps_the_page_size(api):
    default = api.call("GET", "/api/v1/schedules").json()
    capped = api.call("GET", "/api/v1/schedules", params={"perPage": 500}).json()

    assert default == {
        "data": [],
        "pagination": {"currentPage": 1, "totalPages": 0, "count": 0},
    }
    assert capped["pagination"]["totalPages"] == 0


@pytest.mark.parametrize("params", [{"page": "zero"}, {"page": 0}, {"perPage": -1}])
def test_list_refuses_a_bad_page(api, params):
    response = api.call("GET", "/api/v1/schedules", params=params)

    assert response.status_code == 400
    assert "must be" in response.json()["error"]


def test_retrieve_finds_a_schedule_by_id_or_by_deduplication_key(api):
    created = api.create(deduplicationKey="team/7").json()

    by_id = api.call("GET", f"/api/v1/schedules/{created['id']}")
    by_key = api.call("GET", "/api/v1/schedules/team/7")

    assert by_id.status_code == by_key.status_code == 200
    assert by_id.json() == by_key.json() == created


def test_a_schedule_of_another_environment_is_not_found(api, project):
    created = api.create().json()

    response = api.call("GET", f"/api/v1/schedules/{created['id']}", key=project.prod)

    assert response.status_code == 404
    assert response.json() == {"error": "Schedule not found"}
    assert response["x-should-retry"] == "false"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("POST", "/activate"),
        ("POST", "/deactivate"),
    ],
)
def test_every_call_on_an_unknown_schedule_is_a_404(api, method, suffix):
    body = {"task": "user-digest", "cron": "0 8 * * *"}

    response = api.call(method, f"/api/v1/schedules/sched_missing{suffix}", body)

    assert (response.status_code, response.json()) == (
        404,
        {"error": "Schedule not found"},
    )


def test_update_replaces_the_definition_and_moves_the_next_run(api):
    created = api.create(timezone="Europe/Paris", externalId="u1").json()

    response = api.call(
        "PUT",
        f"/api/v1/schedules/{created['id']}",
        {"task": "user-digest", "cron": "30 * * * *"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["generator"] == {
        "type": "CRON",
        "expression": "30 * * * *",
        "description": "At 30 minutes past the hour",
    }
    # A PUT replaces the definition: no zone means UTC, no external id means none.
    assert (body["timezone"], body["externalId"]) == ("UTC", None)
    assert body["deduplicationKey"] == "user-1"
    next_run = datetime.fromisoformat(body["nextRun"])
    assert next_run.minute == 30 and next_run - datetime.now(UTC) <= timedelta(hours=1)


def test_update_by_deduplication_key_refuses_a_bad_cron_and_changes_nothing(api):
    created = api.create().json()

    response = api.call(
        "PUT", "/api/v1/schedules/user-1", {"task": "user-digest", "cron": "* * *"}
    )

    assert response.status_code == 422
    assert api.call("GET", f"/api/v1/schedules/{created['id']}").json() == created


def test_update_with_a_body_of_the_wrong_shape_is_a_400(api):
    created = api.create().json()

    response = api.call(
        "PUT", f"/api/v1/schedules/{created['id']}", {"task": "user-digest"}
    )

    assert response.status_code == 400
    assert response.json()["issues"][0]["path"] == ["cron"]


@pytest.fixture
def declarative(env):
    declared = [
        DeclaredSchedule("nightly-cleanup", "0 3 * * *"),
        DeclaredSchedule("user-digest"),
    ]
    register_declared_schedules(declared, [env])
    return Schedule.objects.get(environment=env, type=ScheduleType.DECLARATIVE)


def test_a_declarative_schedule_cannot_be_updated(api, declarative):
    response = api.call(
        "PUT",
        f"/api/v1/schedules/{declarative.pk}",
        {"task": "nightly-cleanup", "cron": "0 4 * * *"},
    )

    assert response.status_code == 422
    assert response.json()["error"].startswith("Cannot update a declarative schedule")
    declarative.refresh_from_db()
    assert declarative.cron == "0 3 * * *"


def test_a_declarative_schedule_cannot_be_deleted(api, declarative):
    response = api.call("DELETE", f"/api/v1/schedules/{declarative.pk}")

    assert response.status_code == 422
    assert response.json()["error"].startswith("Cannot delete a declarative schedule")
    assert Schedule.objects.filter(pk=declarative.pk).exists()


def test_a_declarative_schedule_reads_as_such(api, declarative):
    body = api.call("GET", f"/api/v1/schedules/{declarative.pk}").json()

    assert (body["type"], body["task"], body["deduplicationKey"]) == (
        "DECLARATIVE",
        "nightly-cleanup",
        None,
    )
    assert body["generator"]["description"] == "At 03:00 AM"


def test_delete_removes_the_schedule_and_keeps_its_runs(api, env):
    schedule = make_schedule(env, next_run_at=datetime(2030, 1, 1, 10, tzinfo=UTC))
    schedules.fire_due_schedules(now=datetime(2030, 1, 1, 10, 0, 1, tzinfo=UTC))
    run = Run.objects.get(schedule=schedule)

    response = api.call("DELETE", f"/api/v1/schedules/{schedule.pk}")

    assert (response.status_code, response.json()) == (200, {"id": schedule.pk})
    assert api.call("GET", f"/api/v1/schedules/{schedule.pk}").status_code == 404
    run.refresh_from_db()
    assert run.schedule_id is None


def test_deactivate_stops_the_schedule_and_activate_starts_it_from_the_next_tick(
    api, env
):
    schedule = make_schedule(
        env, cron="0 8 * * *", next_run_at=datetime(2020, 1, 1, 8, tzinfo=UTC)
    )

    off = api.call("POST", f"/api/v1/schedules/{schedule.pk}/deactivate")
    off_again = api.call("POST", f"/api/v1/schedules/{schedule.pk}/deactivate")
    fired = schedules.fire_due_schedules()
    on = api.call("POST", f"/api/v1/schedules/{schedule.pk}/activate")

    assert off.status_code == off_again.status_code == 200
    assert (
        off.json()["active"],
        off.json()["nextRun"],
        off.json()["nextRunEffectiveAt"],
    ) == (
        False,
        None,
        None,
    )
    assert off_again.json() == off.json()
    assert fired == 0 and not Run.objects.filter(schedule=schedule).exists()
    # The tick missed while it was inactive is not caught up.
    assert (on.json()["active"], on.json()["nextRun"]) == (True, next_eight_oclock())


def test_activate_and_deactivate_accept_a_deduplication_key_with_slashes(api):
    api.create(deduplicationKey="team/7/digest")

    response = api.call("POST", "/api/v1/schedules/team/7/digest/deactivate")

    assert response.status_code == 200
    assert response.json()["deduplicationKey"] == "team/7/digest"
    assert response.json()["active"] is False


def test_the_runs_list_filters_by_schedule(api, env):
    tick = datetime(2030, 1, 1, 10, tzinfo=UTC)
    mine = make_schedule(env, next_run_at=tick, key="mine")
    make_schedule(env, next_run_at=tick, key="other")
    schedules.fire_due_schedules(now=tick + timedelta(seconds=1))

    listed = api.call(
        "GET", "/api/v1/runs", params={"filter[schedule]": mine.pk}
    ).json()
    none = api.call(
        "GET", "/api/v1/runs", params={"filter[schedule]": "sched_nope"}
    ).json()

    assert [run["id"] for run in listed["data"]] == [Run.objects.get(schedule=mine).pk]
    assert none["data"] == []


def test_timezones_need_no_key_and_can_leave_out_utc(api):
    response = api.call("GET", "/api/v1/timezones", key=False)
    without_utc = api.call(
        "GET", "/api/v1/timezones", key=False, params={"excludeUtc": "true"}
    )

    assert response.status_code == 200
    zones = response.json()["timezones"]
    assert zones[0] == "UTC"
    assert {"Europe/Paris", "America/New_York", "Asia/Tokyo"} <= set(zones)
    assert "localtime" not in zones
    assert without_utc.json()["timezones"] == zones[1:]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/schedules"),
        ("POST", "/api/v1/schedules"),
        ("GET", "/api/v1/schedules/sched_x"),
        ("PUT", "/api/v1/schedules/sched_x"),
        ("DELETE", "/api/v1/schedules/sched_x"),
        ("POST", "/api/v1/schedules/sched_x/activate"),
        ("POST", "/api/v1/schedules/sched_x/deactivate"),
    ],
)
def test_every_schedule_call_needs_a_valid_key(api, method, path):
    missing = api.call(method, path, {}, key=False)
    wrong = api.call(method, path, {}, key="tr_dev_000000000000000000000000")

    assert missing.status_code == wrong.status_code == 401
    assert "error" in missing.json() and "error" in wrong.json()
