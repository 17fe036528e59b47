"""Every page and action belongs to a project: members use it, strangers get 404."""

import pytest
from django.urls import reverse

from apikeys.models import ApiKey
from runs.models import (
    BulkAction,
    BulkActionKind,
    BulkActionStatus,
    Queue,
    Run,
    RunStatus,
)
from tests.web.helpers import make_run, page


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
