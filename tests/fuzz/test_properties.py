"""Properties of the parsers and of the runs list, checked over generated input."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from runs import packets
from runs.durations import format_duration, parse_duration, resolve_delay, ttl_seconds
from runs.ids import ALPHABET
from tests.fuzz import known

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
UNITS = known.DURATION_UNITS
MAX_PARTS = 6
# Each part at most a sixth of ten years: the whole stays clear of known.OVERFLOW.
duration_parts = st.lists(
    st.sampled_from(list(UNITS)).flatmap(
        lambda unit: st.tuples(
            st.integers(0, known.SAFE_SECONDS // MAX_PARTS // UNITS[unit]),
            st.just(unit),
        )
    ),
    min_size=1,
    max_size=MAX_PARTS,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
pure = settings(max_examples=200, deadline=None, derandomize=True)
with_database = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# Durations.


@pure
@given(st.integers(min_value=1, max_value=known.SAFE_SECONDS * 10))
def test_a_formatted_duration_parses_back_to_the_same_seconds(seconds):
    assert parse_duration(format_duration(seconds)) == timedelta(seconds=seconds)


@pure
@given(duration_parts)
def test_a_duration_is_the_sum_of_its_parts(parts):
    text = "".join(f"{number}{unit}" for number, unit in parts)
    assume(len(text) <= 100)

    assert parse_duration(text) == timedelta(
        seconds=sum(n * UNITS[u] for n, u in parts)
    )


@pure
@given(st.text(max_size=120))
@example("")
@example("1h30m ")
@example("-5m")
@example("1.5h")
@example("1H")
@example("1" * 101 + "s")
def test_parse_duration_answers_a_timedelta_or_none_for_any_text(text):
    assume(not known.beyond_safe_duration(text))

    parsed = parse_duration(text)

    assert parsed is None or (isinstance(parsed, timedelta) and parsed >= timedelta(0))


@pure
@given(duration_parts)
def test_a_delay_given_as_a_duration_is_due_that_long_from_now(parts):
    text = "".join(f"{number}{unit}" for number, unit in parts)
    assume(len(text) <= 100)
    seconds = sum(n * UNITS[u] for n, u in parts)

    due = resolve_delay(text, NOW)

    assert due == (NOW + timedelta(seconds=seconds) if seconds else None)


@pure
@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9000, 1, 1),
        timezones=st.just(UTC),
    )
)
def test_a_delay_given_as_a_date_is_due_then_or_not_at_all_if_past(moment):
    text = moment.isoformat().replace("+00:00", "Z")

    due = resolve_delay(text, NOW)

    assert due == (moment if moment > NOW else None)


@pure
@given(st.text(max_size=60))
def test_resolve_delay_answers_a_time_none_or_a_value_error_for_any_text(text):
    assume(not known.beyond_safe_duration(text))
    try:
        due = resolve_delay(text, NOW)
    except ValueError:
        return
    assert due is None or due.tzinfo is not None


@pure
@given(
    st.integers(min_value=-(2**40), max_value=2**31 - 1) | st.floats(-1e9, 2**31 - 1)
)
def test_a_numeric_ttl_is_whole_non_negative_seconds(value):
    assert ttl_seconds(value) == max(0, int(value))


@pure
@given(st.booleans())
def test_a_boolean_is_not_a_ttl(value):
    with pytest.raises(ValueError):
        ttl_seconds(value)


# SuperJSON and the other packet types.


@pure
@given(json_values)
def test_a_json_packet_decodes_to_the_value_encoded(value):
    assert packets.decode(packets.encode_json(value), packets.JSON) == value


@pure
@given(json_values, st.dictionaries(st.text(max_size=8), json_values, max_size=3))
def test_a_superjson_packet_decodes_to_its_json_part(value, meta):
    data = json.dumps({"json": value, "meta": {"values": meta}})

    assert packets.decode(data, packets.SUPERJSON) == value


@pure
@given(st.text(max_size=200))
def test_a_text_packet_is_its_own_text(text):
    assert packets.decode(text, packets.TEXT) == text


@pure
@given(
    st.text(max_size=200) | json_values.map(json.dumps),
    st.sampled_from([packets.JSON, packets.SUPERJSON]),
)
@example("{}", packets.SUPERJSON)
@example('{"meta": {}}', packets.SUPERJSON)
@example("[1, 2]", packets.SUPERJSON)
@example("{", packets.JSON)
def test_decoding_any_text_gives_a_value_or_a_packet_error(data, data_type):
    try:
        packets.decode(data, data_type)
    except packets.PacketError:
        pass


# Cursors and filters of GET /api/v1/runs.


@pytest.fixture
def listing(client, project):
    """Twenty-three runs of two tasks, and a client that lists them."""
    headers = {
        "HTTP_AUTHORIZATION": f"Bearer {project.dev}",
        "HTTP_X_TRIGGER_API_VERSION": "2025-07-16",
    }
    ids = []
    for number in range(23):
        task = "echo" if number % 3 else "noop"
        response = client.post(
            f"/api/v1/tasks/{task}/trigger",
            data=json.dumps(
                {"payload": {"n": number}, "options": {"tags": [f"n{number % 4}"]}}
            ),
            content_type="application/json",
            **headers,
        )
        ids.append(response.json()["id"])

    def get(params):
        return Client(raise_request_exception=False).get(
            "/api/v1/runs", params, **headers
        )

    return get, sorted(ids, reverse=True)


def walk(get, size: int, direction: str, cursor: str | None = None):
    """Follow the cursors in one direction from a page; return the pages seen."""
    pages = []
    while True:
        params = {"page[size]": str(size)}
        if cursor:
            params["page[after]" if direction == "next" else "page[before]"] = cursor
        response = get(params)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([run["id"] for run in body["data"]])
        cursor = body["pagination"].get(direction)
        if cursor is None:
            return pages


@settings(with_database, max_examples=10)
@given(size=st.integers(min_value=1, max_value=25))
def test_following_the_cursors_lists_every_run_once_newest_first_and_back(
    listing, size
):
    get, newest_first = listing

    forward = walk(get, size, "next")
    seen = [run_id for page in forward for run_id in page]

    assert seen == newest_first
    assert all(len(page) == size for page in forward[:-1])
    last_page_first_id = forward[-1][0]
    backward = walk(get, size, "previous", cursor=last_page_first_id)
    assert [run_id for page in reversed(backward) for run_id in page] == newest_first[
        : newest_first.index(last_page_first_id)
    ]


cursors = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=ALPHABET, min_size=26, max_size=26).map(
        lambda body: f"run_{body}"
    ),
    st.text(
        alphabet=string.ascii_letters + string.digits, min_size=26, max_size=26
    ).map(lambda body: f"run_{body}"),
)


@with_database
@given(
    after=st.none() | cursors,
    before=st.none() | cursors,
    size=st.none() | st.text(max_size=6),
)
def test_any_cursor_or_page_size_is_a_page_or_a_400(listing, after, before, size):
    get, _ = listing
    params = {
        name: known.tame_text(value)
        for name, value in (
            ("page[after]", after),
            ("page[before]", before),
            ("page[size]", size),
        )
        if value is not None
    }

    response = get(params)

    assert response.status_code in (200, 400), response.content[:300]
    body = response.json()
    assert (
        isinstance(body["error"], str)
        if response.status_code == 400
        else "data" in body
    )


FILTERS = [
    "filter[status]",
    "filter[taskIdentifier]",
    "filter[tag]",
    "filter[batch]",
    "filter[queue]",
    "filter[schedule]",
    "filter[bulkAction]",
    "filter[isTest]",
    "filter[machine]",
    "filter[region]",
    "filter[createdAt][period]",
    "filter[createdAt][from]",
    "filter[createdAt][to]",
]
filter_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "COMPLETED",
            "QUEUED,FROZEN",
            "true",
            "false",
            "1d",
            "2h30m",
            "0s",
            "2030-01-01T00:00:00Z",
            "1700000000000",
            "echo",
            "n1,n2",
            ",,",
            " ",
        ]
    ),
)


@with_database
@given(st.dictionaries(st.sampled_from(FILTERS), filter_values, max_size=5))
def test_any_filter_values_give_a_page_or_a_400(listing, filters):
    get, _ = listing

    response = get(known.tame_query(filters))

    assert response.status_code in (200, 400), (filters, response.content[:300])
    body = response.json()
    assert (
        isinstance(body["error"], str)
        if response.status_code == 400
        else "data" in body
    )


@with_database
@given(st.sampled_from(["echo", "noop"]), st.sampled_from(["n0", "n1", "n2", "n3"]))
def test_filters_narrow_the_list_to_matching_runs(listing, task, tag):
    get, _ = listing

    body = get(
        {"filter[taskIdentifier]": task, "filter[tag]": tag, "page[size]": "100"}
    ).json()

    assert body["data"], "every task and tag pair has runs"
    assert all(
        run["taskIdentifier"] == task and tag in run["tags"] for run in body["data"]
    )
