"""A person's day on the dashboard, in a real browser against the live platform."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from runs.models import Run, RunStatus
from tests.e2e.conftest import (
    runs_url,
    screenshot,
    trigger,
    wait_for_status,
    wait_for_status_counts,
)

# Long enough to watch the run execute: the page polls every two seconds.
SLEEP_SECONDS = 4.0


def test_sign_in_and_generate_a_key_shown_once(signed_in, platform):
    page = signed_in
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("billing backend")
    page.get_by_role("button", name="Generate key").click()

    key = page.get_by_label("Secret key").input_value()
    assert key.startswith("tr_dev_")
    expect(page.get_by_text(f"export TRIGGER_SECRET_KEY={key}")).to_be_visible()
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    screenshot(page, "keys")

    response = httpx.get(
        f"{platform.url}/api/v1/runs", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200

    page.reload()  # the page took the list's address: this does not resend the form
    expect(page.get_by_role("cell", name="billing backend")).to_be_visible()
    assert key not in page.content()


def test_trigger_from_the_test_page_and_watch_it_complete(signed_in):
    page = signed_in
    page.get_by_role("link", name="Tasks").click()
    page.get_by_role("row", name=re.compile(r"^sleep ")).get_by_role(
        "link", name="Test"
    ).click()

    editor = page.get_by_label("Payload (JSON)")
    editor.fill('{"seconds": ')
    expect(page.get_by_text("Not valid JSON")).to_be_visible()
    editor.fill(f'{{"seconds": {SLEEP_SECONDS}}}')
    expect(page.get_by_text("Valid JSON.")).to_be_visible()
    page.get_by_label("Tags").fill("from-browser")
    editor.press("Control+Enter")

    # The run page opens while the run is still on its way: not final yet.
    page.wait_for_url(re.compile(r"/runs/run_[0-9a-v]+/$"))
    status = page.locator(".run-status")
    expect(status).to_have_text(re.compile(r"^(Queued|Dequeued|Executing)$"))
    loaded_at = page.evaluate("performance.timeOrigin")
    page.evaluate("window.stillTheSamePage = true")

    # Then it updates by itself: executing, then completed, with its output.
    expect(status).to_have_text("Executing", timeout=30_000)
    expect(status).to_have_text("Completed", timeout=30_000)
    expect(page.locator("#output-json")).to_contain_text(f'"slept": {SLEEP_SECONDS}')
    expect(page.locator(".timeline .event-label")).to_have_text(
        [
            "Triggered",
            "Queued",
            "Dequeued",
            "Attempt 1 started",
            "Attempt 1 completed",
            "Completed",
        ]
    )
    # No navigation happened: the same document, which kept its marker.
    assert page.evaluate("performance.timeOrigin") == loaded_at
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "run")

    # Times read in the viewer's zone, with UTC on hover.
    created = page.locator(".facts time").first
    utc = datetime.fromisoformat(
        created.get_attribute("datetime").replace("Z", "+00:00")
    )
    tokyo = utc.astimezone(ZoneInfo("Asia/Tokyo"))
    assert created.inner_text().endswith(tokyo.strftime("%H:%M:%S"))
    assert utc.strftime("%H:%M:%S UTC") in created.get_attribute("title")


def test_filter_the_runs_list_by_tag(signed_in, api):
    page = signed_in
    tag = f"tag-{uuid.uuid4().hex[:6]}"
    wanted = trigger(api, "hello-world", {"name": "Tagged"}, tags=[tag, "vip"])
    others = [
        trigger(api, "hello-world", {"name": f"Other {i}"}, tags=["other"])
        for i in range(4)
    ]
    failing = trigger(api, "always-fails", {"x": 1})
    trigger(api, "sleep", {"seconds": 1}, delay="2h", tags=["later"])
    for run_id in [wanted, *others]:
        wait_for_status(run_id, RunStatus.COMPLETED)
    wait_for_status(failing, RunStatus.FAILED)

    page.reload()
    expect(page.get_by_role("link", name=wanted)).to_be_visible()
    wait_for_status_counts(page)
    counts = page.locator("#status-counts")
    expect(counts.locator('[data-status="COMPLETED"] .n')).to_have_text("5")
    expect(counts.locator('[data-status="FAILED"] .n')).to_have_text("1")
    expect(counts.locator('[data-status="DELAYED"] .n')).to_have_text("1")
    screenshot(page, "runs")

    page.get_by_role("textbox", name="Tags").fill(tag)
    page.get_by_role("textbox", name="Tags").press("Enter")

    expect(page).to_have_url(re.compile(rf"\?tag={tag}$"))
    expect(page.locator("[data-row]")).to_have_count(1)
    expect(page.get_by_role("link", name=wanted)).to_be_visible()
    for other in others:
        expect(page.get_by_role("link", name=other)).to_have_count(0)


def test_search_inside_payloads_and_outputs(signed_in, api):
    page = signed_in
    grace = trigger(api, "hello-world", {"name": "Grace Hopper"})
    linus = trigger(api, "hello-world", {"name": "Linus"})
    ada = trigger(api, "hello-world", {"name": "Ada"})
    for run_id in (grace, linus, ada):
        wait_for_status(run_id, RunStatus.COMPLETED)
    page.reload()
    expect(page.locator("[data-row]")).to_have_count(3)

    search = page.get_by_role("searchbox", name="Search payload and output")
    hint = "Large values kept in the object store are not searched"
    expect(page.get_by_text(hint)).to_be_visible()
    search.fill("HOPPER")
    search.press("Enter")

    expect(page).to_have_url(re.compile(r"\?search=HOPPER$"))
    expect(page.locator("[data-row]")).to_have_count(1)
    expect(page.get_by_role("link", name=grace)).to_be_visible()
    expect(page.get_by_text("Payload or output contains: HOPPER")).to_be_visible()

    search.fill("hello, linus")  # only its output says so
    search.press("Enter")

    expect(page.locator("[data-row]")).to_have_count(1)
    expect(page.get_by_role("link", name=linus)).to_be_visible()

    search.fill("nobody at all")
    search.press("Enter")

    empty = page.get_by_role("heading", name="No runs match these filters")
    expect(empty).to_be_visible()


def test_cancel_a_run_after_confirming(signed_in, api):
    page = signed_in
    run_id = trigger(api, "sleep", {"seconds": 1}, delay="1h")

    page.goto(runs_url(page) + f"{run_id}/")
    expect(page.locator(".run-status")).to_have_text("Delayed")
    page.get_by_text("Cancel run…").click()
    page.get_by_role("button", name="Yes, cancel this run").click()

    expect(page.locator(".run-status")).to_have_text("Canceled")
    expect(page.get_by_text(f"Canceled {run_id}.")).to_be_visible()
    assert Run.objects.get(pk=run_id).status == RunStatus.CANCELED


def test_replay_with_an_edited_payload(signed_in, api):
    page = signed_in
    original = trigger(api, "hello-world", {"name": "Ada"})
    wait_for_status(original, RunStatus.COMPLETED)

    page.goto(runs_url(page) + f"{original}/")
    page.get_by_role("link", name="Edit and replay…").click()
    editor = page.get_by_label("Payload (JSON)")
    expect(editor).to_have_value('{\n  "name": "Ada"\n}')
    editor.fill('{"name": "Edited"}')
    page.get_by_role("button", name="Replay with these values").click()

    page.wait_for_url(re.compile(r"/runs/run_[0-9a-v]+/$"))
    assert original not in page.url
    expect(page.locator(".run-status")).to_have_text("Completed", timeout=30_000)
    expect(page.locator("#output-json")).to_contain_text("Hello, Edited!")
    expect(page.get_by_role("link", name=original)).to_be_visible()


def test_reschedule_a_delayed_run_later_then_now(signed_in, api):
    page = signed_in
    run_id = trigger(api, "hello-world", {"name": "Later"}, delay="1h")
    due = Run.objects.get(pk=run_id).delay_until

    page.goto(runs_url(page) + f"{run_id}/")
    page.get_by_text("Reschedule…").click()
    expect(page.get_by_label("Start at (your time zone)")).not_to_have_value("")
    page.get_by_role("button", name="+1 h").click()
    expect(page.get_by_text("Rescheduled.")).to_be_visible()
    assert Run.objects.get(pk=run_id).delay_until - due == timedelta(hours=1)

    page.get_by_text("Reschedule…").click()
    page.get_by_role("button", name="Run now").click()

    expect(page.locator(".run-status")).to_have_text("Completed", timeout=30_000)


def test_bulk_cancel_every_run_matching_a_filter(signed_in, api):
    page = signed_in
    tag = f"bulk-{uuid.uuid4().hex[:6]}"
    doomed = [
        trigger(api, "sleep", {"seconds": 1}, delay="1h", tags=[tag]) for _ in range(4)
    ]
    spared = trigger(api, "sleep", {"seconds": 1}, delay="1h", tags=["keep"])

    page.reload()
    expect(page.locator("[data-row]")).to_have_count(5)
    page.get_by_role("textbox", name="Tags").fill(tag)
    page.get_by_role("textbox", name="Tags").press("Enter")
    expect(page.locator("[data-row]")).to_have_count(4)
    page.get_by_text("Bulk actions").click()
    expect(page.get_by_text("Every run matching the filters: about 4")).to_be_visible()
    page.get_by_role("button", name="Cancel all matching").click()

    expect(page.get_by_role("heading", name="Done")).to_be_visible(timeout=30_000)
    expect(page.locator("#progress-text")).to_contain_text("4 canceled")
    assert {Run.objects.get(pk=run_id).status for run_id in doomed} == {
        RunStatus.CANCELED
    }
    assert Run.objects.get(pk=spared).status == RunStatus.DELAYED


def test_shortcuts_theme_and_columns(signed_in, api):
    page = signed_in
    trigger(api, "noop", None)
    trigger(api, "noop", None)
    page.reload()
    expect(page.locator("[data-row]")).to_have_count(2)

    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()

    page.keyboard.press("j")
    expect(page.locator("[data-row].highlighted")).to_have_count(1)
    page.keyboard.press("x")
    expect(page.get_by_text("Paused while runs are selected")).to_be_visible()
    page.keyboard.press("x")
    page.keyboard.press("p")
    expect(page.locator("[data-live-toggle]")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("p")

    theme = page.get_by_role("button", name=re.compile("Colour theme"))
    theme.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    theme.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.get_by_role("button", name=re.compile("Colour theme")).click()
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile("."))

    page.get_by_text("Columns", exact=True).click()
    page.get_by_role("checkbox", name="Queue").uncheck()
    expect(page.locator("th.col-queue")).to_be_hidden()
    page.reload()
    expect(page.locator("th.col-queue")).to_be_hidden()

    page.keyboard.press("g")
    page.keyboard.press("k")
    expect(page.get_by_role("heading", name=re.compile("API keys"))).to_be_visible()


def test_create_a_schedule_then_switch_it_off(signed_in, live_project):
    from runs.models import Schedule
    from tests.schedules.conftest import register_scheduled_tasks

    page = signed_in
    development = live_project.environments["DEVELOPMENT"]
    register_scheduled_tasks([development])
    page.get_by_role("link", name="Schedules", exact=True).click()
    expect(page.get_by_role("heading", name="No schedules yet")).to_be_visible()

    page.get_by_label("Task").select_option("user-digest")
    page.get_by_label("Cron").fill("0 0 9 * * *")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Create schedule").click()
    refused = page.get_by_text("CRON expressions with seconds are not allowed")
    expect(refused).to_be_visible()
    page.get_by_label("Cron").fill("0 9 * * 1-5")
    page.get_by_role("button", name="Create schedule").click()

    page.wait_for_url(re.compile(r"/schedules/sched_[0-9a-z]+/$"))
    fires = page.locator("#schedule-state .fire-times li")
    expect(fires).to_have_count(5)
    expect(fires.first).to_contain_text("09:00 CE")
    page.get_by_role("switch").click()
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    expect(page.get_by_text("Paused: no fires")).to_be_visible()
    assert not Schedule.objects.get(environment=development).active
    screenshot(page, "schedule")
