"""Each task's test page: a JSON editor with the trigger options, and recent payloads."""

import json

import pytest

from runs.engine import TriggerSpec
from runs.models import Run, RunStatus
from tests.web.helpers import make_run, page, text


def test_it_triggers_a_test_run_with_the_options_given(as_owner, dev):
    response = as_owner.post(
        page("task-test", dev, "hello-world"),
        {
            "payload": '{"name": "Grace"}',
            "tags": "vip, user:42",
            "metadata": '{"source": "dashboard"}',
            "queue": "greetings",
            "concurrency_key": "tenant-9",
            "max_attempts": "2",
            "ttl": "30m",
            "idempotency_key": "welcome-grace",
        },
    )

    run = Run.objects.get()
    assert response["Location"] == page("run", dev, run.pk)
    assert run.is_test
    assert json.loads(run.payload) == {"name": "Grace"}
    assert run.tags == ["user:42", "vip"]
    assert run.metadata == {"source": "dashboard"}
    assert run.queue.name == "greetings"
    assert run.concurrency_key == "tenant-9"
    assert run.max_attempts == 2
    assert run.ttl_seconds == 1800
    assert run.idempotency_key == "welcome-grace"
    assert run.status == RunStatus.QUEUED


def test_a_delay_makes_a_delayed_run(as_owner, dev):
    as_owner.post(
        page("task-test", dev, "hello-world"), {"payload": "{}", "delay": "1h"}
    )

    assert Run.objects.get().status == RunStatus.DELAYED


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"payload": "{'name': 'Ada'}"}, "payload", "This is not valid JSON"),
        (
            {"payload": "{}", "metadata": '"just text"'},
            "metadata",
            "must be a JSON object",
        ),
        (
            {"payload": "{}", "max_attempts": "0"},
            "max_attempts",
            "greater than or equal to 1",
        ),
        (
            {"payload": "{}", "max_duration": "-3"},
            "max_duration",
            "Write a whole number",
        ),
        (
            {"payload": "{}", "delay": "2001-01-01T00:00:00Z"},
            "delay",
            "That moment has passed",
        ),
        ({"payload": "{}", "queue": "q" * 200}, "queue", "at most 128 characters"),
    ],
    ids=["json", "metadata", "attempts", "duration", "past-delay", "queue-name"],
)
def test_bad_input_is_explained_beside_its_field_and_triggers_nothing(
    as_owner, dev, data, field, message
):
    response = as_owner.post(page("task-test", dev, "hello-world"), data)

    assert response.status_code == 400
    assert message in response.context["form"].errors[field]
    assert message in text(response)
    assert "Nothing was triggered" in text(response)
    assert not Run.objects.exists()


def test_the_typed_values_are_kept_after_an_error(as_owner, dev):
    response = as_owner.post(
        page("task-test", dev, "hello-world"), {"payload": '{"a": }', "tags": "keep-me"}
    )

    assert "{&quot;a&quot;: }" in text(response)
    assert 'value="keep-me"' in text(response)


def test_recent_payloads_are_offered_to_start_from(as_owner, dev):
    make_run(dev, spec=TriggerSpec(payload='{"name":"Ada"}'))
    latest = make_run(dev, spec=TriggerSpec(payload='{"name":"Grace"}'))
    older = Run.objects.exclude(pk=latest.pk).get()

    fresh = as_owner.get(page("task-test", dev, "hello-world"))
    picked = as_owner.get(page("task-test", dev, "hello-world"), {"from": older.pk})

    assert json.loads(fresh.context["form"].payload) == {"name": "Grace"}
    assert json.loads(picked.context["form"].payload) == {"name": "Ada"}
    assert "Use this payload" in text(fresh)


def test_the_editor_checks_json_as_you_type_and_ctrl_enter_triggers(as_owner, dev):
    body = text(as_owner.get(page("task-test", dev, "hello-world")))

    assert "data-json-editor" in body
    assert 'aria-live="polite" data-json-status' in body
    assert "data-submit-shortcut" in body


def test_a_task_the_environment_does_not_know_is_404(as_owner, dev):
    assert as_owner.get(page("task-test", dev, "no-such-task")).status_code == 404


def test_a_used_idempotency_key_leads_to_the_run_that_holds_it(as_owner, dev):
    data = {"payload": "{}", "idempotency_key": "once"}
    first = as_owner.post(page("task-test", dev, "hello-world"), data)

    again = as_owner.post(page("task-test", dev, "hello-world"), data, follow=True)

    run = Run.objects.get()
    assert first["Location"] == page("run", dev, run.pk)
    assert "already holds this idempotency key" in text(again)
