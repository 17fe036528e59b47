"""Cancel, replay and reschedule from the run page, each through the engine."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from runs.engine import TriggerSpec
from runs.models import Run, RunStatus
from tests.web.helpers import make_run, page, text


def delayed(dev, hours: float = 2) -> Run:
    due = timezone.now() + timedelta(hours=hours)
    return make_run(dev, spec=TriggerSpec(payload='{"name":"Ada"}', delay_until=due))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_cancel_stops_a_run_that_has_not_finished(as_owner, dev):
    run = delayed(dev)

    response = as_owner.post(page("run-cancel", dev, run.pk), follow=True)

    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED
    assert run.error == {"message": "Canceled by user"}
    assert f"Canceled {run.pk}." in messages_of(response)


def test_cancel_of_a_finished_run_changes_nothing(as_owner, dev):
    run = make_run(dev, status=RunStatus.COMPLETED)

    response = as_owner.post(page("run-cancel", dev, run.pk), follow=True)

    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert "had already finished, so nothing changed" in messages_of(response)[0]


def test_cancel_asks_for_confirmation_first(as_owner, dev):
    run = delayed(dev)

    body = text(as_owner.get(page("run", dev, run.pk)))

    assert "Cancel run…" in body
    assert "Yes, cancel this run" in body


def test_cancel_needs_a_post(as_owner, dev):
    run = delayed(dev)

    assert as_owner.get(page("run-cancel", dev, run.pk)).status_code == 405


def test_replay_as_it_was_starts_a_new_run_with_the_same_input(as_owner, dev):
    run = make_run(
        dev, spec=TriggerSpec(payload='{"name":"Ada"}', tags=["vip"]), status="FAILED"
    )

    response = as_owner.post(page("run-replay", dev, run.pk), {"unchanged": "1"})

    replay = Run.objects.get(replayed_from=run)
    assert response["Location"] == page("run", dev, replay.pk)
    assert replay.payload == run.payload
    assert replay.tags == ["vip"]
    assert replay.trigger_source == "replay"


def test_the_replay_form_starts_from_the_original_values(as_owner, dev):
    run = make_run(
        dev,
        spec=TriggerSpec(
            payload='{"name":"Ada"}', tags=["vip"], metadata={"plan": "pro"}
        ),
    )

    form = as_owner.get(page("run-replay", dev, run.pk)).context["form"]

    assert json.loads(form.payload) == {"name": "Ada"}
    assert json.loads(form.metadata) == {"plan": "pro"}
    assert form.tags == "vip"
    assert form.queue == "task/hello-world"


def test_replay_with_edits_uses_the_edited_values(as_owner, dev):
    run = make_run(dev, spec=TriggerSpec(payload='{"name":"Ada"}', tags=["vip"]))

    as_owner.post(
        page("run-replay", dev, run.pk),
        {
            "payload": '{"name": "Grace"}',
            "tags": "retry, manual",
            "metadata": '{"reason": "fixed the bug"}',
            "max_attempts": "5",
            "delay": "10m",
        },
    )

    replay = Run.objects.get(replayed_from=run)
    assert json.loads(replay.payload) == {"name": "Grace"}
    assert replay.tags == ["manual", "retry"]
    assert replay.metadata == {"reason": "fixed the bug"}
    assert replay.max_attempts == 5
    assert replay.status == RunStatus.DELAYED


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("payload", '{"name": ', "This is not valid JSON"),
        ("metadata", "[1, 2]", "Metadata must be a JSON object"),
        ("delay", "soon", "Write a duration such as 30s"),
        ("ttl", "a while", "Write a duration such as 10m"),
        ("max_attempts", "many", "Write a whole number"),
        ("tags", ",".join(f"t{i}" for i in range(11)), "at most 10 tags"),
        ("idempotency_key_ttl", "1 week", "Write a number and a unit"),
    ],
    ids=["payload", "metadata", "delay", "ttl", "attempts", "tags", "key-ttl"],
)
def test_replay_with_bad_input_explains_and_starts_nothing(
    as_owner, dev, field, value, message
):
    run = make_run(dev)
    data = {"payload": '{"name": "Grace"}', field: value}

    response = as_owner.post(page("run-replay", dev, run.pk), data)

    assert response.status_code == 400
    assert message in text(response)
    assert 'aria-invalid="true"' in text(response)
    assert not Run.objects.filter(replayed_from=run).exists()
    assert Run.objects.count() == 1


def test_reschedule_moves_a_delayed_run_one_hour_later(as_owner, dev):
    run = delayed(dev, hours=2)
    before = run.delay_until

    as_owner.post(page("run-reschedule", dev, run.pk), {"action": "later"})

    run.refresh_from_db()
    assert run.delay_until - before == timedelta(hours=1)
    assert run.status == RunStatus.DELAYED


def test_run_now_makes_a_delayed_run_due_at_once(as_owner, dev):
    run = delayed(dev)

    response = as_owner.post(
        page("run-reschedule", dev, run.pk), {"action": "now"}, follow=True
    )

    run.refresh_from_db()
    assert run.delay_until <= timezone.now()
    assert "It joins its queue now." in messages_of(response)


def test_reschedule_reads_the_picked_time_in_the_viewers_zone(as_owner, dev):
    run = delayed(dev)
    tokyo = ZoneInfo("Asia/Tokyo")
    wanted = (
        (timezone.now() + timedelta(days=1)).astimezone(tokyo).replace(microsecond=0)
    )

    as_owner.post(
        page("run-reschedule", dev, run.pk),
        {
            "action": "at",
            "when": wanted.strftime("%Y-%m-%dT%H:%M:%S"),
            "tz": "Asia/Tokyo",
        },
    )

    run.refresh_from_db()
    assert run.delay_until == wanted


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "at", "when": "2001-01-01T00:00"}, "That time has passed"),
        ({"action": "at", "when": "next tuesday"}, "Pick a date and time"),
    ],
    ids=["past", "unreadable"],
)
def test_reschedule_to_a_bad_time_explains_and_changes_nothing(
    as_owner, dev, data, message
):
    run = delayed(dev)
    before = run.delay_until

    response = as_owner.post(page("run-reschedule", dev, run.pk), data, follow=True)

    run.refresh_from_db()
    assert run.delay_until == before
    assert message in messages_of(response)[0]


def test_a_run_that_is_not_delayed_cannot_be_rescheduled(as_owner, dev):
    run = make_run(dev)

    response = as_owner.post(
        page("run-reschedule", dev, run.pk), {"action": "later"}, follow=True
    )

    run.refresh_from_db()
    assert run.delay_until is None
    assert "Only a delayed run can be rescheduled; this one is queued." in messages_of(
        response
    )
