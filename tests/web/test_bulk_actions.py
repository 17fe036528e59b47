"""Bulk cancel and replay: of selected rows or of every run matching the filters."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runs import tasks
from runs.engine import TriggerSpec, bulk
from runs.models import BulkAction, BulkActionStatus, Run, RunStatus
from tests.web.helpers import make_run, page, tagged, text


def delayed(dev, *tags):
    due = timezone.now() + timedelta(hours=1)
    return make_run(
        dev, spec=TriggerSpec(payload="{}", tags=list(tags), delay_until=due)
    )


def post_bulk(client, environment, **data):
    return client.post(page("bulk-create", environment), data, follow=True)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_cancel_of_selected_runs_runs_in_the_background(
    as_owner, dev, django_capture_on_commit_callbacks, monkeypatch
):
    # Given two delayed runs and one finished run, all selected
    picked = [delayed(dev), delayed(dev)]
    done = make_run(dev, status=RunStatus.COMPLETED)
    spare = delayed(dev)

    # When the owner cancels the selection
    with django_capture_on_commit_callbacks() as callbacks:
        response = as_owner.post(
            page("bulk-create", dev),
            {
                "scope": "selected",
                "kind": "CANCEL",
                "selected": [r.pk for r in picked] + [done.pk],
            },
        )
    action = BulkAction.objects.get()

    # Then a bulk action waits for a worker, announced once the request commits
    assert response["Location"] == page("bulk", dev, action.pk)
    assert action.status == BulkActionStatus.PENDING
    assert action.total == 3
    assert len(callbacks) == 1

    # When the worker carries it out (inside this test's transaction, which
    # the task's connection hygiene would otherwise close)
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)
    tasks.bulk_action(action.pk)

    # Then the unfinished runs are canceled and the finished one is left alone
    action.refresh_from_db()
    assert (action.status, action.processed, action.succeeded, action.failed) == (
        BulkActionStatus.COMPLETED,
        3,
        2,
        1,
    )
    assert {r.status for r in Run.objects.filter(pk__in=[p.pk for p in picked])} == {
        "CANCELED"
    }
    assert Run.objects.get(pk=done.pk).status == RunStatus.COMPLETED
    assert Run.objects.get(pk=spare.pk).status == RunStatus.DELAYED


def test_cancel_of_every_matching_run_follows_the_filters(as_owner, dev):
    matching = [delayed(dev, "nightly") for _ in range(3)]
    other = delayed(dev, "keep")

    post_bulk(as_owner, dev, scope="filters", kind="CANCEL", tag="nightly")
    action = BulkAction.objects.get()
    later = delayed(dev, "nightly")
    bulk.perform_bulk_action(action.pk)

    action.refresh_from_db()
    assert action.filters["filter[tag]"] == "nightly"
    assert action.succeeded == 3
    assert all(Run.objects.get(pk=r.pk).status == RunStatus.CANCELED for r in matching)
    assert Run.objects.get(pk=other.pk).status == RunStatus.DELAYED
    # A run triggered after the action was asked for is not part of it.
    assert Run.objects.get(pk=later.pk).status == RunStatus.DELAYED


def test_replay_of_every_matching_run_makes_one_replay_each(as_owner, dev):
    failed = [make_run(dev, status=RunStatus.FAILED) for _ in range(2)]
    make_run(dev, status=RunStatus.COMPLETED)

    post_bulk(as_owner, dev, scope="filters", kind="REPLAY", status="FAILED")
    action = BulkAction.objects.get()
    bulk.perform_bulk_action(action.pk)

    replays = Run.objects.filter(bulk_action=action)
    assert sorted(r.replayed_from_id for r in replays) == sorted(r.pk for r in failed)
    listed = as_owner.get(page("runs", dev), {"bulk": action.pk})
    assert {r.pk for r in listed.context["page"].runs} == {r.pk for r in replays}


def test_progress_is_shown_and_polled_until_done(as_owner, dev):
    runs = [delayed(dev) for _ in range(3)]
    action = bulk.create_bulk_action(dev, "CANCEL", run_ids=[r.pk for r in runs])

    waiting = as_owner.get(page("bulk", dev, action.pk))
    assert "Waiting for a worker to start" in text(waiting)
    assert 'hx-trigger="every 1s"' in text(waiting)

    BulkAction.objects.filter(pk=action.pk).update(
        status="RUNNING", processed=1, succeeded=1
    )
    midway = as_owner.get(page("bulk", dev, action.pk), HTTP_HX_REQUEST="true")
    assert midway.status_code == 200
    assert "<strong>1</strong> of 3 runs processed" in text(midway)

    BulkAction.objects.filter(pk=action.pk).update(
        status="PENDING", processed=0, succeeded=0
    )
    bulk.perform_bulk_action(action.pk)
    done = as_owner.get(page("bulk", dev, action.pk), HTTP_HX_REQUEST="true")
    assert done.status_code == 286
    assert "<strong>3</strong> canceled" in text(done)


def test_a_second_delivery_of_the_task_does_nothing(dev):
    run = make_run(dev, status=RunStatus.FAILED)
    action = bulk.create_bulk_action(dev, "REPLAY", run_ids=[run.pk])

    bulk.perform_bulk_action(action.pk)
    assert bulk.perform_bulk_action(action.pk) is None

    assert Run.objects.filter(replayed_from=run).count() == 1


def test_production_asks_to_type_its_name(as_owner, prod):
    run = delayed(prod)

    refused = post_bulk(
        as_owner, prod, scope="selected", kind="CANCEL", selected=run.pk, confirm="prod"
    )
    assert "Type production to confirm" in messages_of(refused)[0]
    assert not BulkAction.objects.exists()

    post_bulk(
        as_owner,
        prod,
        scope="selected",
        kind="CANCEL",
        selected=run.pk,
        confirm="production",
    )
    assert BulkAction.objects.filter(environment=prod).count() == 1


def test_the_runs_page_of_production_shows_the_confirmation_field(as_owner, prod):
    delayed(prod)

    body = text(as_owner.get(page("runs", prod)))

    assert "Type <strong>production</strong> to confirm" in body


@pytest.mark.parametrize(
    "data, message",
    [
        ({"scope": "selected", "kind": "CANCEL"}, "Select at least one run first"),
        (
            {"scope": "filters", "kind": "CANCEL", "tag": "nobody"},
            "No runs match these filters",
        ),
        ({"scope": "filters", "kind": "DELETE"}, "Unknown bulk action"),
        (
            {"scope": "selected", "kind": "CANCEL", "selected": "run_elsewhere"},
            "None of the selected",
        ),
        ({"scope": "filters", "kind": "CANCEL", "period": "ages"}, "is not a duration"),
    ],
    ids=["nothing-selected", "no-match", "unknown-kind", "foreign-run", "bad-filter"],
)
def test_bad_bulk_requests_explain_and_create_nothing(as_owner, dev, data, message):
    run = delayed(dev)

    response = post_bulk(as_owner, dev, **data)

    assert message in messages_of(response)[0]
    assert not BulkAction.objects.exists()
    assert Run.objects.get(pk=run.pk).status == RunStatus.DELAYED


def test_bulk_actions_are_not_offered_when_no_run_matches(as_owner, dev):
    assert "Bulk actions" not in text(as_owner.get(page("runs", dev)))


def test_the_runs_page_estimates_how_many_runs_match(as_owner, dev):
    for _ in range(3):
        make_run(dev, spec=tagged("vip"))
    make_run(dev)

    body = text(as_owner.get(page("runs", dev), {"tag": "vip"}))
    estimate = as_owner.get(
        page("runs-estimate", dev), {"tag": "vip"}, HTTP_HX_REQUEST="true"
    )

    # The panel asks for the estimate when it is opened.
    assert (
        f'hx-get="{page("runs-estimate", dev)}?tag=vip" '
        'hx-trigger="toggle once from:closest details"'
    ) in body
    assert text(estimate) == ": about 3"
    assert 'type="hidden" name="tag" value="vip"' in body


def test_changing_the_filters_in_place_redraws_the_bulk_actions(as_owner, dev):
    for _ in range(2):
        make_run(dev, spec=tagged("vip"))
    make_run(dev)

    response = as_owner.get(
        page("runs", dev),
        {"tag": "vip"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TRIGGER="filter-form",
    )

    assert 'id="bulk-panel" hx-swap-oob="true"' in text(response)
    assert 'type="hidden" name="tag" value="vip"' in text(response)
    assert f'hx-get="{page("runs-estimate", dev)}?tag=vip"' in text(response)


def test_a_live_refresh_leaves_the_bulk_actions_alone(as_owner, dev):
    run = make_run(dev)

    response = as_owner.get(
        page("runs", dev),
        {"until": run.pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TRIGGER="results",
    )

    assert "bulk-panel" not in text(response)
