"""Every page and action belongs to a project: members use it, strangers get 404."""

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apikeys.models import ApiKey, create_api_key
from runs import tasks
from runs.engine import TriggerSpec
from runs.models import (
    BulkAction,
    BulkActionKind,
    BulkActionStatus,
    Queue,
    Run,
    RunStatus,
)
from tests.web.helpers import make_run, page


def later(*tags: str) -> TriggerSpec:
    """A trigger delayed by an hour, so the run waits for whatever the test does."""
    due = timezone.now() + timedelta(hours=1)
    return TriggerSpec(payload="{}", tags=list(tags), delay_until=due)


@pytest.fixture
def objects(dev, owner):
    """One of everything a URL can name, in the owner's development environment."""
    run = make_run(dev, status=RunStatus.DELAYED)
    action = BulkAction.objects.create(
        environment=dev, kind=BulkActionKind.CANCEL, status=BulkActionStatus.COMPLETED
    )
    return {
        "run": run,
        "queue": Queue.objects.filter(environment=dev).first(),
        "key": ApiKey.objects.filter(environment=dev).first(),
        "bulk": action,
    }


def pages(objects):
    """(method, url name, extra args, form data) of every page and action."""
    run, queue, key = objects["run"], objects["queue"], objects["key"]
    return [
        ("get", "runs", [], {}),
        ("get", "run", [run.pk], {}),
        ("get", "run-replay", [run.pk], {}),
        ("get", "bulk", [objects["bulk"].pk], {}),
        ("get", "tasks", [], {}),
        ("get", "task-test", ["hello-world"], {}),
        ("get", "batches", [], {}),
        ("get", "queues", [], {}),
        ("get", "keys", [], {}),
        ("get", "runs-counts", [], {}),
        ("get", "runs-estimate", [], {}),
        ("post", "run-cancel", [run.pk], {}),
        ("post", "run-replay", [run.pk], {"unchanged": "1"}),
        ("post", "run-reschedule", [run.pk], {"action": "now"}),
        ("post", "bulk-create", [], {"scope": "filters", "kind": "CANCEL"}),
        ("post", "task-test", ["hello-world"], {"payload": "{}"}),
        ("post", "queue-pause", [queue.pk], {}),
        ("post", "queue-resume", [queue.pk], {}),
        ("post", "queue-limit", [queue.pk], {"limit": "1"}),
        ("post", "key-create", [], {"name": "stolen"}),
        ("post", "key-revoke", [key.pk], {}),
        ("post", "key-regenerate", [key.pk], {"overlap": "0"}),
    ]


def ids(entry):
    return f"{entry[0]} {entry[1]}"


PAGE_NAMES = [
    "runs",
    "run",
    "run-replay",
    "bulk",
    "tasks",
    "task-test",
    "batches",
    "queues",
    "keys",
    "runs-counts",
    "runs-estimate",
    "run-cancel",
    "run-replay-post",
    "run-reschedule",
    "bulk-create",
    "task-test-post",
    "queue-pause",
    "queue-resume",
    "queue-limit",
    "key-create",
    "key-revoke",
    "key-regenerate",
]


@pytest.mark.parametrize("index", range(len(PAGE_NAMES)), ids=PAGE_NAMES)
def test_a_stranger_gets_404_on_every_page_and_action(
    client, stranger, objects, dev, index
):
    method, name, args, data = pages(objects)[index]
    client.force_login(stranger)
    before = (Run.objects.count(), ApiKey.objects.count(), BulkAction.objects.count())

    response = getattr(client, method)(page(name, dev, *args), data)

    assert response.status_code == 404
    assert before == (
        Run.objects.count(),
        ApiKey.objects.count(),
        BulkAction.objects.count(),
    )
    assert not ApiKey.objects.filter(name="stolen").exists()
    assert Queue.objects.filter(paused=True).count() == 0


@pytest.mark.parametrize("index", range(11), ids=PAGE_NAMES[:11])
def test_a_teammate_can_open_every_page(client, teammate, objects, dev, index):
    method, name, args, data = pages(objects)[index]
    client.force_login(teammate)

    response = client.get(page(name, dev, *args))

    assert response.status_code == 200


@pytest.fixture
def as_teammate(client, teammate, owner):
    """Signed in as a member of the project who did not set anything up in it."""
    client.force_login(teammate)
    return client


def shown(response) -> str:
    return html.unescape(response.content.decode())


def test_a_teammate_can_cancel_a_run(as_teammate, dev):
    run = make_run(dev, spec=later())

    response = as_teammate.post(page("run-cancel", dev, run.pk), follow=True)

    assert response.redirect_chain[-1][0] == page("run", dev, run.pk)
    assert f"Canceled {run.pk}." in shown(response)
    assert 'data-run-status="CANCELED"' in shown(response)
    assert Run.objects.get(pk=run.pk).status == RunStatus.CANCELED


def test_a_teammate_can_replay_a_run(as_teammate, dev):
    run = make_run(dev, status=RunStatus.COMPLETED)

    response = as_teammate.post(
        page("run-replay", dev, run.pk), {"unchanged": "1"}, follow=True
    )

    replay = Run.objects.get(replayed_from=run)
    assert response.redirect_chain[-1][0] == page("run", dev, replay.pk)
    assert f"Replayed as {replay.pk}." in shown(response)
    assert f"as a replay of {run.pk}" in shown(response)


def test_a_teammate_can_reschedule_a_delayed_run(as_teammate, dev):
    run = make_run(dev, spec=later())

    response = as_teammate.post(
        page("run-reschedule", dev, run.pk), {"action": "later"}, follow=True
    )

    assert "Rescheduled." in shown(response)
    moved = Run.objects.get(pk=run.pk).delay_until
    assert moved - run.delay_until == timedelta(hours=1)
    assert moved.strftime("%Y-%m-%d %H:%M:%S UTC") in shown(response)


def test_a_teammate_can_pause_and_resume_a_queue(as_teammate, dev):
    queue = Queue.objects.get(environment=dev, name="task/hello-world")

    paused = as_teammate.post(page("queue-pause", dev, queue.pk), follow=True)

    assert paused.redirect_chain[-1][0] == page("queues", dev)
    assert "Paused “task/hello-world”. Running runs finish; queued runs wait." in (
        shown(paused)
    )
    queue.refresh_from_db()
    assert queue.paused

    resumed = as_teammate.post(page("queue-resume", dev, queue.pk), follow=True)

    assert "Resumed “task/hello-world”." in shown(resumed)
    queue.refresh_from_db()
    assert not queue.paused


def test_a_teammate_can_generate_a_key_and_use_it(as_teammate, client, dev):
    response = as_teammate.post(page("key-create", dev), {"name": "teammate's key"})

    assert response.status_code == 200
    raw = re.search(r"export TRIGGER_SECRET_KEY=(tr_dev_\S+)<", shown(response))[1]
    assert "Your new key “teammate's key”" in shown(response)
    assert ApiKey.objects.filter(environment=dev, name="teammate's key").exists()
    api = client.get("/api/v1/runs", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.status_code == 200


def test_a_teammate_can_revoke_a_key_someone_else_made(as_teammate, client, dev):
    key, raw = create_api_key(dev, "owner's backend")

    response = as_teammate.post(page("key-revoke", dev, key.pk), follow=True)

    assert f"Revoked “owner's backend” ({key.masked})." in shown(response)
    assert "Revoked</span>" in shown(response)
    api = client.get("/api/v1/runs", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.status_code == 401


def test_a_teammate_can_run_a_bulk_action(as_teammate, teammate, dev, monkeypatch):
    doomed = [make_run(dev, spec=later("nightly")) for _ in range(2)]
    spared = make_run(dev, spec=later("keep"))

    response = as_teammate.post(
        page("bulk-create", dev),
        {"scope": "filters", "kind": "CANCEL", "tag": "nightly"},
        follow=True,
    )

    action = BulkAction.objects.get(environment=dev)
    assert response.redirect_chain[-1][0] == page("bulk", dev, action.pk)
    assert "Bulk cancel" in shown(response)
    assert f"Started by</dt><dd>{teammate.username}," in shown(response)

    # A worker carries it out (in this test's transaction, see test_bulk_actions).
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)
    tasks.bulk_action(action.pk)
    progress = as_teammate.get(page("bulk", dev, action.pk))

    assert "Done" in shown(progress)
    assert "<strong>2</strong> canceled" in shown(progress)
    canceled = Run.objects.filter(pk__in=[run.pk for run in doomed])
    assert set(canceled.values_list("status", flat=True)) == {RunStatus.CANCELED}
    assert Run.objects.get(pk=spared.pk).status == RunStatus.DELAYED


@pytest.mark.parametrize("name", ["runs", "tasks", "batches", "queues", "keys"])
def test_every_page_of_production_carries_its_banner(client, owner, prod, name):
    client.force_login(owner)

    response = client.get(page(name, prod))

    assert response.status_code == 200
    assert "what you do here affects live runs" in response.content.decode()


def test_the_key_form_address_leads_back_to_the_keys_page(as_owner, dev):
    response = as_owner.get(page("key-create", dev))

    assert response["Location"] == page("keys", dev)


def test_it_asks_anonymous_visitors_to_sign_in(client, dev):
    response = client.get(page("runs", dev))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_anonymous_posts_change_nothing(client, dev):
    run = make_run(dev)

    response = client.post(page("run-cancel", dev, run.pk))

    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED


def test_a_run_of_another_project_is_404_under_your_own_project(
    as_owner, dev, stranger
):
    other_env = stranger.projects.get().environments.get(kind="DEVELOPMENT")
    foreign = make_run(other_env)

    response = as_owner.get(page("run", dev, foreign.pk))

    assert response.status_code == 404
    assert "belongs to a project you are not a member of" in response.content.decode()


def test_an_unknown_environment_name_is_404(as_owner, project):
    response = as_owner.get(f"/projects/{project.project.slug}/qa/runs/")

    assert response.status_code == 404


def test_the_landing_page_opens_the_last_environment_seen(as_owner, dev, prod):
    as_owner.get(page("keys", prod))

    response = as_owner.get("/")

    assert response["Location"] == page("runs", prod)


def test_the_landing_page_starts_members_in_development(as_owner, dev):
    response = as_owner.get("/")

    assert response["Location"] == page("runs", dev)


def test_someone_in_no_project_is_told_how_to_get_one(client, db):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("newcomer"))

    response = client.get("/")

    assert response.status_code == 200
    assert "No projects yet" in response.content.decode()


def test_a_short_run_link_leads_members_to_the_run(as_owner, dev):
    run = make_run(dev)

    response = as_owner.get(reverse("run-link", args=[run.pk]))

    assert response["Location"] == page("run", dev, run.pk)


def test_a_short_run_link_is_404_for_a_stranger(client, stranger, dev):
    run = make_run(dev)
    client.force_login(stranger)

    assert client.get(reverse("run-link", args=[run.pk])).status_code == 404
