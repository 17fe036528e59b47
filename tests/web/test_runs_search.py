"""Search inside payloads and outputs: in the runs list, its counts and bulk actions."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from runs import filtering, tasks
from runs.engine import TriggerSpec
from runs.models import BulkAction, BulkActionStatus, Run, RunStatus
from tests.web.helpers import make_run, page, text

STORED = (
    '{"key": "packets/p1/payload.json", "size": 20000000, "type": "application/json"}'
)


def with_payload(dev, payload, task="hello-world", **fields):
    return make_run(dev, task, spec=TriggerSpec(payload=payload), **fields)


def delayed(dev, payload):
    due = timezone.now() + timedelta(hours=1)
    return make_run(dev, spec=TriggerSpec(payload=payload, delay_until=due))


def shown(response) -> list[str]:
    """The ids of the runs in the table, newest first."""
    return [run.pk for run in response.context["page"].runs]


def search(client, dev, words, **params):
    return client.get(page("runs", dev), {"search": words, **params})


def counts_shown(response) -> dict[str, str]:
    """The counts per status the page shows (statuses without runs are left out)."""
    pattern = r'data-status="(\w+)">[^<]+</span> <span class="n">([^<]+)</span>'
    found = re.findall(pattern, text(response))
    return dict(found)


LIMIT_NOTICE = "Searched the newest {} runs that match the other filters"


def test_it_finds_text_inside_payloads_ignoring_case(as_owner, dev):
    ada = with_payload(dev, '{"name":"Ada Lovelace"}')
    with_payload(dev, '{"name":"Grace Hopper"}')

    response = search(as_owner, dev, "LOVELACE")

    assert shown(response) == [ada.pk]
    body = html.unescape(text(response))
    assert 'value="LOVELACE"' in body
    assert "Payload or output contains: LOVELACE" in body
    assert LIMIT_NOTICE.format(100) not in body


def test_it_finds_text_inside_outputs(as_owner, dev):
    done = with_payload(
        dev, "{}", status=RunStatus.COMPLETED, output='{"message":"Hello, Ada!"}'
    )
    with_payload(dev, "{}", status=RunStatus.COMPLETED, output='{"message":"Hi"}')

    response = search(as_owner, dev, "hello, ada")

    assert shown(response) == [done.pk]


def test_a_search_that_matches_nothing_shows_the_empty_state(as_owner, dev):
    with_payload(dev, '{"name":"Ada"}')

    response = search(as_owner, dev, "nobody")

    assert shown(response) == []
    assert "No runs match these filters" in text(response)
    assert "Clear the filters" in text(response)


def test_wildcards_are_searched_for_as_they_are(as_owner, dev):
    rate = with_payload(dev, '{"rate":"50%"}')
    with_payload(dev, '{"rate":"fifty"}')
    under = with_payload(dev, '{"user_id":1}')

    assert shown(search(as_owner, dev, "%")) == [rate.pk]
    assert shown(search(as_owner, dev, "r_i")) == [under.pk]


def test_values_in_the_object_store_are_not_searched_and_the_page_says_so(
    as_owner, dev
):
    with_payload(dev, STORED, payload_type="application/store")

    response = search(as_owner, dev, "packets")

    assert shown(response) == []
    assert "Large values kept in the object store are not searched" in text(response)


def test_the_search_is_kept_in_the_address_with_the_other_filters(as_owner, dev):
    with_payload(dev, '{"name":"Ada"}')

    response = as_owner.get(
        page("runs", dev),
        {"search": "ada", "task": "hello-world", "tag": ""},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TRIGGER="filter-form",
    )

    assert response["HX-Push-Url"] == page("runs", dev) + "?task=hello-world&search=ada"
    counts = text(as_owner.get(page("runs-counts", dev), {"search": "ada"}))
    assert "status=QUEUED&amp;search=ada" in counts


def test_the_search_reads_only_the_newest_runs_and_says_so(as_owner, dev, monkeypatch):
    monkeypatch.setattr(filtering, "SEARCH_SCAN_LIMIT_RUNS", 3)
    with_payload(dev, '{"word":"needle"}')  # older than the newest three
    with_payload(dev, '{"word":"needle"}')
    with_payload(dev, '{"word":"hay"}')
    newest_needle = with_payload(dev, '{"word":"needle"}')
    with_payload(dev, '{"word":"hay"}')

    response = search(as_owner, dev, "needle")

    assert shown(response) == [newest_needle.pk]
    assert LIMIT_NOTICE.format(3) in text(response)
    assert "older runs were not searched" in text(response)


def test_the_newest_runs_searched_are_those_matching_the_other_filters(
    as_owner, dev, monkeypatch
):
    monkeypatch.setattr(filtering, "SEARCH_SCAN_LIMIT_RUNS", 2)
    hello = with_payload(dev, '{"word":"needle"}')
    with_payload(dev, '{"word":"hay"}', task="noop")
    with_payload(dev, '{"word":"hay"}', task="noop")

    by_task = search(as_owner, dev, "needle", task="hello-world")
    everything = search(as_owner, dev, "needle")

    assert shown(by_task) == [hello.pk]
    assert LIMIT_NOTICE.format(2) not in text(by_task)  # one run of the task: all read
    assert shown(everything) == []
    assert LIMIT_NOTICE.format(2) in text(everything)


def test_counts_per_status_count_what_the_search_finds(as_owner, dev, monkeypatch):
    monkeypatch.setattr(filtering, "SEARCH_SCAN_LIMIT_RUNS", 2)
    with_payload(dev, '{"word":"needle"}', status=RunStatus.FAILED)
    with_payload(dev, '{"word":"needle"}', status=RunStatus.FAILED)
    with_payload(dev, '{"word":"needle"}', status=RunStatus.FAILED)
    with_payload(dev, '{"word":"needle"}', status=RunStatus.COMPLETED)
    with_payload(dev, '{"word":"hay"}', status=RunStatus.COMPLETED)

    counts = counts_shown(as_owner.get(page("runs-counts", dev), {"search": "needle"}))
    failed = search(as_owner, dev, "needle", status="FAILED")

    # Each count is what choosing its status shows: the search reads the newest
    # two runs of that status.
    assert counts == {"FAILED": "2", "COMPLETED": "1"}
    assert len(shown(failed)) == 2


def test_the_bulk_estimate_counts_what_the_search_finds(as_owner, dev):
    with_payload(dev, '{"word":"needle"}')
    with_payload(dev, '{"word":"needle"}')
    with_payload(dev, '{"word":"hay"}')

    response = as_owner.get(page("runs-estimate", dev), {"search": "needle"})

    assert text(response).strip() == ": about 2"


def test_bulk_cancel_of_every_matching_run_honours_the_search_as_the_list_does(
    as_owner, dev, monkeypatch
):
    # Given delayed runs of which the list, reading the newest two, finds one
    monkeypatch.setattr(filtering, "SEARCH_SCAN_LIMIT_RUNS", 2)
    older = [delayed(dev, '{"word":"needle"}') for _ in range(2)]
    delayed(dev, '{"word":"hay"}')
    newest = delayed(dev, '{"word":"needle"}')
    filters = {"status": "DELAYED", "search": "needle"}
    assert shown(as_owner.get(page("runs", dev), filters)) == [newest.pk]

    # When every run matching the filters is canceled
    as_owner.post(
        page("bulk-create", dev), {"scope": "filters", "kind": "CANCEL", **filters}
    )
    action = BulkAction.objects.get()
    monkeypatch.setattr(tasks, "close_old_connections", lambda: None)
    tasks.bulk_action(action.pk)

    # Then only the run the list showed is canceled: as runs leave DELAYED, the
    # older ones do not slide into the runs searched.
    action.refresh_from_db()
    assert (action.status, action.succeeded) == (BulkActionStatus.COMPLETED, 1)
    assert Run.objects.get(pk=newest.pk).status == RunStatus.CANCELED
    assert {Run.objects.get(pk=run.pk).status for run in older} == {RunStatus.DELAYED}
    progress = text(as_owner.get(page("bulk", dev, action.pk)))
    assert "Payload or output contains" in progress and "needle" in progress


def test_a_filter_holding_a_nul_character_is_refused_with_a_message(as_owner, dev):
    with_payload(dev, '{"name":"Ada"}')

    response = search(as_owner, dev, "a\x00b", key="k\x00")

    assert response.status_code == 400
    assert "A filter held a NUL character" in text(response)
    assert text(response).count("A filter held a NUL character") == 1


@pytest.mark.parametrize("pinned", [False, True], ids=["subquery", "pinned"])
def test_the_search_query_walks_the_id_index_within_its_window(dev, pinned):
    wire = {"filter[search]": "needle"}
    if pinned:
        wire["filter[searchFrom]"] = "run_0000000000000000000000000"
    query = filtering.matching_runs(dev, wire).order_by("-id").values("pk")[:51]
    sql, params = query.query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # The window bounds the walk of the index itself: at most the limit's rows.
    walk = r"Index Scan using run_env_id .*\n.*Index Cond: .*\(id\)::text >="
    assert re.search(walk, plan)
    assert "Sort" not in plan
