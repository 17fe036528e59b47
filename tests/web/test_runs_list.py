"""The runs list: filters kept in the URL, counts that filter, keyset pages, live news."""

import html
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import listing
from runs.engine import TriggerSpec
from runs.ids import new_id
from runs.models import Batch, BatchStatus, BulkAction, Run, RunStatus, Schedule
from tests.web.helpers import make_run, page, tagged, text


def shown(response) -> set[str]:
    """The ids of the runs in the table of a response."""
    return {run.pk for run in response.context["page"].runs}


def test_a_member_sees_the_runs_of_the_environment_newest_first(as_owner, dev, prod):
    first, second = make_run(dev), make_run(dev)
    make_run(prod)

    response = as_owner.get(page("runs", dev))

    assert response.status_code == 200
    # Newest first: by id, which sorts by creation time (to the millisecond).
    expected = sorted([first.pk, second.pk], reverse=True)
    assert [run.pk for run in response.context["page"].runs] == expected
    assert second.pk in text(response)


def test_several_statuses_can_be_chosen_at_once(as_owner, dev):
    queued = make_run(dev)
    completed = make_run(dev, status=RunStatus.COMPLETED)
    make_run(dev, status=RunStatus.FAILED)

    response = as_owner.get(page("runs", dev), {"status": ["QUEUED", "COMPLETED"]})

    assert shown(response) == {queued.pk, completed.pk}


def test_executing_includes_runs_between_two_attempts_as_the_api_does(as_owner, dev):
    executing = make_run(dev, status=RunStatus.EXECUTING)
    retrying = make_run(dev, status=RunStatus.RETRYING)
    make_run(dev)

    response = as_owner.get(page("runs", dev), {"status": "EXECUTING"})

    assert shown(response) == {executing.pk, retrying.pk}


def test_it_filters_by_task(as_owner, dev):
    hello = make_run(dev, "hello-world")
    make_run(dev, "noop")

    response = as_owner.get(page("runs", dev), {"task": "hello-world"})

    assert shown(response) == {hello.pk}


def test_runs_with_any_of_the_tags_match_by_default(as_owner, dev):
    vip = make_run(dev, spec=tagged("vip"))
    user = make_run(dev, spec=tagged("user:42"))
    make_run(dev, spec=tagged("other"))

    response = as_owner.get(page("runs", dev), {"tag": "vip, user:42"})

    assert shown(response) == {vip.pk, user.pk}


def test_runs_with_all_of_the_tags_match_when_asked(as_owner, dev):
    both = make_run(dev, spec=tagged("vip", "user:42"))
    make_run(dev, spec=tagged("vip"))

    response = as_owner.get(page("runs", dev), {"tag": "vip,user:42", "match": "all"})

    assert shown(response) == {both.pk}


def test_a_period_preset_keeps_only_recent_runs(as_owner, dev):
    recent = make_run(dev, age=timedelta(minutes=10))
    make_run(dev, age=timedelta(hours=3))

    response = as_owner.get(page("runs", dev), {"period": "1h"})

    assert shown(response) == {recent.pk}


def test_a_custom_range_is_read_in_the_viewers_time_zone(as_owner, dev):
    inside = make_run(dev, age=timedelta(days=2))
    make_run(dev, age=timedelta(days=5))
    make_run(dev)
    start = timezone.localtime(
        timezone.now() - timedelta(days=3), timezone.get_fixed_timezone(60)
    )
    end = start + timedelta(days=2)

    response = as_owner.get(
        page("runs", dev),
        {
            "from": start.strftime("%Y-%m-%dT%H:%M:%S"),
            "to": end.strftime("%Y-%m-%dT%H:%M:%S"),
            "tz": "Africa/Lagos",  # UTC+1 all year, like the fixed zone above
        },
    )

    assert shown(response) == {inside.pk}


@pytest.mark.parametrize(
    "name",
    ["batch", "queue", "run", "key", "schedule", "bulk"],
)
def test_it_filters_by_each_relation_and_key(as_owner, dev, name):
    wanted = make_run(dev, spec=TriggerSpec(payload="{}", idempotency_key="order-7"))
    other = make_run(dev, "sleep")
    batch = Batch.objects.create(
        environment=dev, status=BatchStatus.COMPLETED, run_count=1
    )
    schedule = Schedule.objects.create(
        environment=dev,
        task_identifier="hello-world",
        type="IMPERATIVE",
        cron="0 * * * *",
    )
    action = BulkAction.objects.create(
        environment=dev, kind="REPLAY", status="COMPLETED"
    )
    Run.objects.filter(pk=wanted.pk).update(
        batch=batch, schedule=schedule, bulk_action=action
    )
    values = {
        "batch": batch.pk,
        "queue": "task/hello-world",
        "run": wanted.pk,
        "key": "order-7",
        "schedule": schedule.pk,
        "bulk": action.pk,
    }

    response = as_owner.get(page("runs", dev), {name: values[name]})

    assert shown(response) == {wanted.pk}
    assert other.pk not in text(response)


def test_the_filters_live_in_the_url_and_fill_the_form(as_owner, dev):
    response = as_owner.get(
        page("runs", dev),
        {"status": "FAILED", "task": "noop", "tag": "vip", "period": "7d"},
    )
    body = text(response)

    assert 'value="FAILED" checked' in body
    assert '<option value="noop" selected>' in body
    assert 'name="tag" value="vip"' in body
    assert '<option value="7d" selected>' in body
    assert "Status: Failed" in body  # a removable pill


def test_an_unknown_status_is_explained_and_ignored(as_owner, dev):
    run = make_run(dev)

    response = as_owner.get(page("runs", dev), {"status": "DONE"})

    assert response.status_code == 400
    assert "Unknown status &#x27;DONE&#x27;" in text(response)
    assert shown(response) == {run.pk}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"period": "forever"}, "is not a duration"),
        ({"from": "yesterday"}, "is not a date and time"),
        ({"after": "not-a-run"}, "is not a run id"),
        ({"tz": "Mars/Olympus"}, "Unknown time zone"),
    ],
    ids=["period", "from", "cursor", "zone"],
)
def test_unreadable_filters_get_a_readable_message(as_owner, dev, params, message):
    response = as_owner.get(page("runs", dev), params)

    assert response.status_code == 400
    assert message in text(response)


COUNT_LINK = re.compile(
    r'<a href="[^"?]*\?([^"]*)" class="status-count( selected)?" data-status="(\w+)"'
    r'.*?(?:<span class="n">([^<]*)</span>)?\s*</a>',
    re.S,
)


@dataclass
class ShownCount:
    count: str
    selected: bool
    query: str


def counts_of(client, environment, params=None) -> dict[str, ShownCount]:
    """The status counts the list loads after itself, as shown, by status."""
    response = client.get(
        page("runs-counts", environment), params or {}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    return {
        status: ShownCount(count, bool(selected), html.unescape(query))
        for query, selected, status, count in COUNT_LINK.findall(text(response))
    }


def test_status_counts_count_each_status_and_link_to_it(as_owner, dev):
    make_run(dev)
    make_run(dev, status=RunStatus.FAILED)
    make_run(dev, status=RunStatus.FAILED)

    counts = counts_of(as_owner, dev, {"status": "QUEUED"})

    assert counts["FAILED"].count == "2"
    assert counts["QUEUED"].count == "1"
    assert counts["QUEUED"].selected
    # Clicking a count adds its status to the filter; clicking a chosen one removes it.
    assert counts["FAILED"].query == "status=QUEUED&status=FAILED"
    assert counts["QUEUED"].query == ""


def test_status_counts_respect_the_other_filters(as_owner, dev):
    make_run(dev, "noop", status=RunStatus.FAILED)
    make_run(dev, "hello-world", status=RunStatus.FAILED)

    counts = counts_of(as_owner, dev, {"task": "noop"})

    assert counts["FAILED"].count == "1"


def test_counts_stop_at_a_cap(as_owner, dev, monkeypatch):
    monkeypatch.setattr(listing, "COUNT_CAP", 2)
    for _ in range(4):
        make_run(dev)

    counts = counts_of(as_owner, dev)

    assert counts["QUEUED"].count == "2+"


def test_the_counts_fragment_links_each_count_to_the_list(as_owner, dev):
    make_run(dev, status=RunStatus.FAILED)

    response = as_owner.get(page("runs-counts", dev), HTTP_HX_REQUEST="true")

    body = text(response)
    assert "<html" not in body
    assert f'href="{page("runs", dev)}?status=FAILED"' in body
    assert 'hx-target="#results"' in body
    # Fresh counts do not ask for themselves again.
    assert 'hx-trigger="load"' not in body


def test_the_list_page_does_not_count_and_loads_the_counts_after_itself(
    as_owner, dev
):
    make_run(dev, status=RunStatus.FAILED)
    as_owner.get(page("runs", dev))  # the first visit also saves the session

    with CaptureQueriesContext(connection) as queries:
        response = as_owner.get(page("runs", dev), {"task": "hello-world"})

    assert not [q["sql"] for q in queries if "UNION ALL" in q["sql"]]
    body = text(response)
    assert (
        f'hx-get="{page("runs-counts", dev)}?task=hello-world" hx-trigger="load"'
        in body
    )
    assert "Counting runs per status" in body


def test_the_list_shows_cached_counts_and_refreshes_them_once_stale(
    as_owner, dev, monkeypatch
):
    make_run(dev, status=RunStatus.FAILED)
    counts_of(as_owner, dev)  # counted, as the browser asks after the page

    fresh = text(as_owner.get(page("runs", dev)))
    assert "Counting runs per status" not in fresh
    assert 'data-status="FAILED"' in fresh
    assert 'hx-trigger="load"' not in fresh

    # When the counts are older than COUNTS_FRESH_SECONDS
    monkeypatch.setattr(listing, "COUNTS_FRESH_SECONDS", 0)
    stale = text(as_owner.get(page("runs", dev)))

    # Then the old ones stay on screen while fresh ones are asked for
    assert 'data-status="FAILED"' in stale
    assert f'hx-get="{page("runs-counts", dev)}?" hx-trigger="load"' in stale


def test_counts_are_counted_once_for_several_viewers(as_owner, dev):
    make_run(dev, status=RunStatus.FAILED)
    counts_of(as_owner, dev)
    make_run(dev, status=RunStatus.FAILED)

    with CaptureQueriesContext(connection) as queries:
        counts = counts_of(as_owner, dev, {"status": "FAILED"})

    # The cache serves them (the status filter does not change the counts).
    assert counts["FAILED"].count == "1"
    assert not [q["sql"] for q in queries if "runs_run" in q["sql"]]


def test_a_status_chosen_before_counting_can_still_be_removed(as_owner, dev):
    make_run(dev, status=RunStatus.FAILED)

    body = text(as_owner.get(page("runs", dev), {"status": "FAILED"}))

    assert f'href="{page("runs", dev)}?" class="status-count selected"' in body


def test_pages_go_older_and_newer_by_run_id(as_owner, dev, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    runs = [make_run(dev).pk for _ in range(7)]
    newest_first = sorted(runs, reverse=True)  # two ids of one millisecond tie on time

    first = as_owner.get(page("runs", dev)).context["page"]
    second = as_owner.get(page("runs", dev), {"after": first.older}).context["page"]
    third = as_owner.get(page("runs", dev), {"after": second.older}).context["page"]
    back = as_owner.get(page("runs", dev), {"before": third.newer}).context["page"]

    assert [r.pk for r in first.runs] == newest_first[:3]
    assert [r.pk for r in second.runs] == newest_first[3:6]
    assert [r.pk for r in third.runs] == newest_first[6:]
    assert third.older == ""
    assert [r.pk for r in back.runs] == newest_first[3:6]
    assert first.newer == ""


def test_pages_keep_the_filters(as_owner, dev, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    for _ in range(3):
        make_run(dev, spec=tagged("vip"))
    make_run(dev)

    response = as_owner.get(page("runs", dev), {"tag": "vip"})

    assert f"?tag=vip&amp;after={response.context['page'].older}" in text(response)


def test_live_refresh_keeps_the_page_and_announces_new_runs(as_owner, dev):
    seen = make_run(dev)
    first = as_owner.get(page("runs", dev))
    assert first.context["page"].anchor == seen.pk
    newer = [make_run(dev), make_run(dev)]
    Run.objects.filter(pk=seen.pk).update(status=RunStatus.COMPLETED)

    refresh = as_owner.get(
        page("runs", dev), {"until": seen.pk}, HTTP_HX_REQUEST="true"
    )

    assert refresh.status_code == 200
    assert "<html" not in text(refresh)
    assert seen.pk in text(refresh)
    assert "Completed" in text(refresh)
    assert all(run.pk not in text(refresh) for run in newer)
    assert "2 new runs — show" in text(refresh)


def test_the_live_region_polls_and_can_be_paused(as_owner, dev):
    make_run(dev)

    body = text(as_owner.get(page("runs", dev)))

    assert 'hx-trigger="every 3s [window.tk && tk.live()]"' in body
    assert "data-live-toggle" in body


def test_an_empty_environment_points_to_the_test_page(as_owner, dev):
    response = as_owner.get(page("runs", dev))

    assert "No runs yet" in text(response)
    assert page("tasks", dev) in text(response)


def test_no_match_offers_to_clear_the_filters(as_owner, dev):
    make_run(dev)

    response = as_owner.get(page("runs", dev), {"task": "noop"})

    assert "No runs match these filters" in text(response)


def test_the_filter_form_pushes_a_tidy_url(as_owner, dev):
    response = as_owner.get(
        page("runs", dev),
        {"task": "noop", "tag": "", "period": "", "queue": ""},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TRIGGER="filter-form",
    )

    assert response["HX-Push-Url"] == page("runs", dev) + "?task=noop"


def test_the_page_costs_the_same_queries_for_many_runs_as_for_one(as_owner, dev):
    make_run(dev)
    as_owner.get(page("runs", dev))  # the first visit also saves the session
    with CaptureQueriesContext(connection) as one:
        as_owner.get(page("runs", dev))
    for _ in range(10):
        make_run(dev, spec=tagged("vip"))
    with CaptureQueriesContext(connection) as many:
        as_owner.get(page("runs", dev))

    assert len(many) == len(one)


@pytest.mark.parametrize(
    "params",
    [{}, {"status": "QUEUED"}, {"task": "hello-world"}, {"after": "run_zzz"}],
    ids=["newest", "status", "task", "page"],
)
def test_the_page_query_walks_an_index_in_id_order(dev, params):
    from urllib.parse import urlencode

    from django.http import QueryDict

    from dashboard.filters import parse_filters

    filters = parse_filters(QueryDict(urlencode(params)))
    cursor = listing.Cursor(after=new_id("run") if params.get("after") else "")
    matching = listing.matching_runs(dev, filters.to_wire())
    query = matching.order_by("-id").values("pk")[:51]
    if cursor.after:
        query = matching.filter(pk__lt=cursor.after).order_by("-id").values("pk")[:51]
    sql, sql_params = query.query.sql_with_params()

    with connection.cursor() as cursor_:
        # On a table this small any plan is cheap: forbid scanning it whole and
        # sorting it, so that the plan shows whether an index serves the order.
        cursor_.execute("SET LOCAL enable_seqscan = off")
        cursor_.execute("SET LOCAL enable_sort = off")
        cursor_.execute("EXPLAIN " + sql, sql_params)
        plan = "\n".join(row[0] for row in cursor_.fetchall())

    assert "Index" in plan
    assert "Sort" not in plan


def test_counts_that_cannot_be_counted_are_not_asked_for_again(
    as_owner, dev, monkeypatch
):
    from runs.engine import InvalidRequestError

    def refused(environment, filters):
        raise InvalidRequestError("no")

    monkeypatch.setattr(listing, "status_counts_for", refused)

    response = as_owner.get(page("runs-counts", dev), HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "hx-get" not in text(response).split('class="status-count')[0]
    assert "Counting runs per status" not in text(response)
