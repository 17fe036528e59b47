"""The schedules pages: list, detail, create, edit, delete and the active switch."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from dashboard.views import schedules as schedule_views
from runs.engine import schedules
from runs.engine.schedules import fire_due_schedules
from runs.models import Run, Schedule, ScheduleType
from tests.schedules.conftest import DIGEST, NIGHTLY, register_scheduled_tasks
from tests.web.helpers import make_run, page, text


@pytest.fixture
def scheduled(project):
    """user-digest takes imperative schedules; nightly-cleanup declares its cron."""
    register_scheduled_tasks(list(project.environments.values()), (DIGEST, NIGHTLY))
    return project


def make_schedule(env, **fields):
    defaults = {
        "task_identifier": "user-digest",
        "cron": "0 9 * * *",
        "timezone_name": "Europe/Paris",
        "external_id": "customer-42",
        "deduplication_key": f"key-{Schedule.objects.count()}",
    }
    return schedules.create_schedule(env, **{**defaults, **fields})


def declarative(env):
    return Schedule.objects.get(environment=env, type=ScheduleType.DECLARATIVE)


def form(**fields):
    return {
        "task": "user-digest",
        "cron": "30 8 * * 1-5",
        "timezone": "America/New_York",
        "external_id": "customer-7",
        "deduplication_key": "",
        **fields,
    }


def in_zone(moments, zone):
    return [
        moment.astimezone(ZoneInfo(zone)).strftime(schedule_views.TIME_FORMAT)
        for moment in moments
    ]


def state(schedule):
    schedule.refresh_from_db()
    return (
        schedule.task_identifier,
        schedule.cron,
        schedule.timezone,
        schedule.external_id,
        schedule.active,
        schedule.next_run_at,
    )


# Seeing schedules


def test_the_list_shows_type_task_cron_zone_external_id_and_next_five_fires(
    as_owner, scheduled, dev
):
    schedule = make_schedule(dev)

    response = as_owner.get(page("schedules", dev))

    body = text(response)
    assert response.status_code == 200
    for shown in [
        schedule.pk,
        "user-digest",
        "0 9 * * *",
        "At 09:00 AM",
        "Europe/Paris",
        "customer-42",
        "imperative",
        "declarative",
        "nightly-cleanup",
    ]:
        assert shown in body
    # The fires are 09:00 in Paris (07:00 or 08:00 in UTC), each in the zone.
    fires = in_zone(schedules.upcoming(schedule), "Europe/Paris")
    assert len(fires) == 5
    assert all(", 09:00 CE" in fire for fire in fires)
    for fire in fires:
        assert fire in body


def test_the_detail_page_shows_the_next_five_fires_in_the_schedules_zone(
    as_owner, scheduled, dev
):
    schedule = make_schedule(dev, cron="0 20 * * *", timezone_name="Asia/Tokyo")

    response = as_owner.get(page("schedule", dev, schedule.pk))

    body = text(response)
    assert response.status_code == 200
    fires = in_zone(schedules.upcoming(schedule), "Asia/Tokyo")
    assert [fire in body for fire in fires] == [True] * 5
    assert all(fire.endswith("20:00 JST") for fire in fires)
    # UTC on hover: 20:00 in Tokyo is 11:00 UTC.
    assert "11:00:00 UTC" in body


def test_the_last_run_and_its_status_are_shown_with_a_link(as_owner, scheduled, dev):
    schedule = make_schedule(dev)
    fire_due_schedules(now=schedule.next_run_at)
    run = Run.objects.get(schedule=schedule)

    listing = text(as_owner.get(page("schedules", dev)))
    detail = text(as_owner.get(page("schedule", dev, schedule.pk)))

    for body in (listing, detail):
        assert page("run", dev, run.pk) in body
        assert 'data-status="QUEUED"' in body
    assert f"{page('runs', dev)}?schedule={schedule.pk}" in detail


def test_a_schedule_whose_fire_is_overdue_is_flagged(as_owner, scheduled, dev):
    late = make_schedule(dev)
    on_time = make_schedule(dev, external_id="on-time")
    Schedule.objects.filter(pk=late.pk).update(
        next_run_at=timezone.now() - timedelta(minutes=5)
    )

    listing = text(as_owner.get(page("schedules", dev)))
    late_page = text(as_owner.get(page("schedule", dev, late.pk)))
    on_time_page = text(as_owner.get(page("schedule", dev, on_time.pk)))

    assert listing.count('class="badge tone-bad"') == 1
    assert "1 schedule overdue on this page" in listing
    assert f'id="schedule-{late.pk}" class="overdue"' in listing
    assert "Overdue:" in late_page
    assert "Overdue" not in on_time_page


def test_an_inactive_schedule_is_not_overdue_and_has_no_next_fires(
    as_owner, scheduled, dev
):
    schedule = make_schedule(dev)
    schedules.set_schedule_active(schedule, False)

    body = text(as_owner.get(page("schedule", dev, schedule.pk)))

    assert "Paused: no fires until it is switched on." in body
    assert 'aria-checked="false"' in body
    assert "Overdue" not in body


def test_an_environment_without_schedules_says_how_to_add_one(as_owner, dev):
    body = text(as_owner.get(page("schedules", dev)))

    assert "No schedules yet" in body
    assert "No scheduled task in development yet" in body


def test_the_list_pages_older_schedules(as_owner, scheduled, dev, monkeypatch):
    monkeypatch.setattr(schedule_views, "PAGE_SIZE", 2)
    oldest, middle, newest = [make_schedule(dev) for _ in range(3)]

    first = text(as_owner.get(page("schedules", dev)))
    second = text(as_owner.get(page("schedules", dev), {"after": middle.pk}))

    assert newest.pk in first and middle.pk in first and oldest.pk not in first
    assert f"?after={middle.pk}" in first
    assert oldest.pk in second and newest.pk not in second


def test_the_nav_leads_to_schedules_and_alerts(as_owner, dev):
    body = text(as_owner.get(page("runs", dev)))

    assert f'href="{page("schedules", dev)}"' in body
    assert f'href="{reverse("alerts:settings")}"' in body


def test_the_run_page_links_its_schedule_page(as_owner, scheduled, dev):
    schedule = make_schedule(dev)
    run = make_run(dev, task="user-digest", schedule=schedule)

    body = text(as_owner.get(page("run", dev, run.pk)))

    assert f'href="{page("schedule", dev, schedule.pk)}"' in body


def test_a_short_schedule_link_leads_members_to_the_schedule(
    client, owner, stranger, scheduled, dev
):
    schedule = make_schedule(dev)
    link = reverse("schedule-link", args=[schedule.pk])

    client.force_login(owner)
    assert client.get(link)["Location"] == page("schedule", dev, schedule.pk)
    client.force_login(stranger)
    assert client.get(link).status_code == 404


# Creating, editing, deleting


def test_the_create_form_creates_an_imperative_schedule(as_owner, scheduled, dev):
    response = as_owner.post(page("schedule-create", dev), form())

    schedule = Schedule.objects.get(environment=dev, external_id="customer-7")
    assert response.status_code == 302
    assert response["Location"] == page("schedule", dev, schedule.pk)
    assert (schedule.type, schedule.cron, schedule.timezone, schedule.active) == (
        ScheduleType.IMPERATIVE,
        "30 8 * * 1-5",
        "America/New_York",
        True,
    )
    assert schedule.deduplication_key is None
    assert schedule.next_run_at == schedules.upcoming(schedule)[0]


def api_error(client, key, body):
    """What the schedules API answers to the same definition."""
    response = client.post(
        "/api/v1/schedules",
        data=json.dumps({**body, "deduplicationKey": "api"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 422
    return response.json()["error"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("cron", "61 * * * *"),
        ("cron", "0 9 * *"),
        ("cron", "0 0 9 * * *"),
        ("timezone", "Mars/Olympus_Mons"),
        ("task", "hello-world"),
    ],
    ids=["out-of-range", "four-fields", "seconds", "unknown-zone", "not-scheduled"],
)
def test_a_bad_definition_is_refused_with_the_apis_words_and_creates_nothing(
    client, owner, scheduled, dev, field, value
):
    client.force_login(owner)
    before = Schedule.objects.count()
    data = form(**{field: value})

    response = client.post(page("schedule-create", dev), data)

    assert response.status_code == 400
    assert Schedule.objects.count() == before
    api_body = {
        "task": data["task"],
        "cron": data["cron"],
        "timezone": data["timezone"],
    }
    message = api_error(client, scheduled.dev, api_body)
    assert escape(message) in text(response)
    assert 'aria-invalid="true"' in text(response)


def test_a_taken_deduplication_key_is_refused_not_redefined(as_owner, scheduled, dev):
    existing = make_schedule(dev, deduplication_key="customer-42")
    before = state(existing)

    response = as_owner.post(
        page("schedule-create", dev), form(deduplication_key="customer-42")
    )

    assert response.status_code == 400
    assert "already names a schedule of this environment" in text(response)
    assert state(existing) == before
    assert Schedule.objects.filter(environment=dev).count() == 2  # and the declarative


def test_the_edit_form_redefines_an_imperative_schedule(as_owner, scheduled, dev):
    schedule = make_schedule(dev)

    response = as_owner.post(
        page("schedule-edit", dev, schedule.pk),
        form(cron="15 6 * * *", timezone="Asia/Tokyo", external_id=""),
    )

    assert response["Location"] == page("schedule", dev, schedule.pk)
    task, cron, zone, external_id, active, next_run_at = state(schedule)
    assert (task, cron, zone, external_id, active) == (
        "user-digest",
        "15 6 * * *",
        "Asia/Tokyo",
        None,
        True,
    )
    assert next_run_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "06:15"


def test_a_bad_edit_changes_nothing(as_owner, scheduled, dev):
    schedule = make_schedule(dev)
    before = state(schedule)

    response = as_owner.post(
        page("schedule-edit", dev, schedule.pk), form(cron="*/5 * * * * *")
    )

    assert response.status_code == 400
    assert "CRON expressions with seconds are not allowed" in text(response)
    assert state(schedule) == before


def test_a_declarative_schedule_cannot_be_edited_or_deleted(as_owner, scheduled, dev):
    schedule = declarative(dev)
    before = state(schedule)

    edited = as_owner.post(page("schedule-edit", dev, schedule.pk), form())
    deleted = as_owner.post(page("schedule-delete", dev, schedule.pk), follow=True)

    message = escape(
        "Cannot update a declarative schedule: change the cron of "
        "@schedules.task 'nightly-cleanup' in the code instead"
    )
    assert edited.status_code == 400
    assert message in text(edited)
    assert escape("Cannot delete a declarative schedule") in text(deleted)
    assert state(schedule) == before


def test_the_declarative_page_offers_no_edit_form_and_says_where_to_change_it(
    as_owner, scheduled, dev
):
    schedule = declarative(dev)

    body = text(as_owner.get(page("schedule", dev, schedule.pk)))

    assert page("schedule-edit", dev, schedule.pk) not in body
    assert page("schedule-delete", dev, schedule.pk) not in body
    assert "Change its cron or zone there" in body
    assert page("schedule-active", dev, schedule.pk) in body


def test_delete_removes_the_schedule_and_keeps_its_runs(as_owner, scheduled, dev):
    schedule = make_schedule(dev)
    run = make_run(dev, task="user-digest", schedule=schedule)

    response = as_owner.post(page("schedule-delete", dev, schedule.pk))

    assert response["Location"] == page("schedules", dev)
    assert not Schedule.objects.filter(pk=schedule.pk).exists()
    run.refresh_from_db()
    assert run.schedule_id is None


# The active switch


def test_the_switch_on_the_list_answers_htmx_with_the_row(as_owner, scheduled, dev):
    schedule = make_schedule(dev)

    response = as_owner.post(
        page("schedule-active", dev, schedule.pk),
        {"active": "0", "from": "list"},
        HTTP_HX_REQUEST="true",
    )

    body = text(response)
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="schedule-{schedule.pk}"')
    assert 'aria-checked="false"' in body
    assert "<html" not in body
    schedule.refresh_from_db()
    assert (schedule.active, schedule.next_run_at) == (False, None)


def test_the_switch_on_the_detail_page_answers_htmx_with_the_state_card(
    as_owner, scheduled, dev
):
    schedule = make_schedule(dev)
    schedules.set_schedule_active(schedule, False)

    response = as_owner.post(
        page("schedule-active", dev, schedule.pk),
        {"active": "1", "from": "detail"},
        HTTP_HX_REQUEST="true",
    )

    body = text(response)
    assert body.lstrip().startswith('<section id="schedule-state"')
    assert 'aria-checked="true"' in body
    schedule.refresh_from_db()
    assert schedule.active
    assert in_zone([schedule.next_run_at], "Europe/Paris")[0] in body


def test_the_switch_works_without_javascript(as_owner, scheduled, dev):
    schedule = declarative(dev)

    response = as_owner.post(
        page("schedule-active", dev, schedule.pk), {"active": "0", "from": "list"}
    )

    assert response["Location"] == page("schedules", dev)
    schedule.refresh_from_db()
    assert not schedule.active


def test_the_forms_require_a_csrf_token(client, owner, scheduled, dev):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    schedule = make_schedule(dev)

    created = browser.post(page("schedule-create", dev), form())
    switched = browser.post(page("schedule-active", dev, schedule.pk), {"active": "0"})

    assert (created.status_code, switched.status_code) == (403, 403)
    schedule.refresh_from_db()
    assert schedule.active
    assert Schedule.objects.filter(environment=dev).count() == 2


# Strangers


def actions(schedule):
    return [
        ("get", "schedules", [], {}),
        ("get", "schedule", [schedule.pk], {}),
        ("post", "schedule-create", [], form()),
        ("post", "schedule-edit", [schedule.pk], form(cron="1 1 * * *")),
        ("post", "schedule-delete", [schedule.pk], {}),
        ("post", "schedule-active", [schedule.pk], {"active": "0"}),
    ]


ACTION_NAMES = ["list", "detail", "create", "edit", "delete", "toggle"]


@pytest.mark.parametrize("index", range(len(ACTION_NAMES)), ids=ACTION_NAMES)
def test_a_stranger_gets_404_on_every_schedule_page_and_action(
    client, stranger, scheduled, dev, index
):
    schedule = make_schedule(dev)
    before = state(schedule)
    count = Schedule.objects.count()
    method, name, args, data = actions(schedule)[index]
    client.force_login(stranger)

    response = getattr(client, method)(page(name, dev, *args), data)

    assert response.status_code == 404
    assert state(schedule) == before
    assert Schedule.objects.count() == count


def test_a_schedule_of_another_environment_is_404(as_owner, scheduled, dev, prod):
    schedule = make_schedule(prod)

    response = as_owner.get(page("schedule", dev, schedule.pk))

    assert response.status_code == 404


def test_a_teammate_sees_the_pages(client, teammate, scheduled, dev):
    schedule = make_schedule(dev)
    client.force_login(teammate)

    assert client.get(page("schedules", dev)).status_code == 200
    assert client.get(page("schedule", dev, schedule.pk)).status_code == 200
