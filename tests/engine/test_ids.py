"""Run ids sort in the order a process made them, even within one millisecond."""

import pytest

from runs import ids

FROZEN_MS = 1_700_000_000_000


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves; the process's latest id is put back afterwards,
    so that no later test inherits this test's time."""
    now = [FROZEN_MS]
    monkeypatch.setattr(ids, "now_ms", lambda: now[0])
    monkeypatch.setattr(ids, "_last", (0, 0))
    return now


def test_ids_made_back_to_back_sort_in_the_order_they_were_made():
    made = [ids.new_run_id() for _ in range(5000)]

    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_a_frozen_or_backward_clock_still_gives_increasing_ids(clock):
    first = ids.new_run_id()
    second = ids.new_run_id()
    clock[0] -= 5000
    third = ids.new_run_id()

    assert first < second < third
    # The time part stays the latest one seen, not the stepped-back clock's.
    assert first[:14] == second[:14] == third[:14] == "run_" + ids._encode(FROZEN_MS, ids.TIME_CHARS)


def test_a_millisecond_that_runs_out_of_random_values_moves_to_the_next(
    clock, monkeypatch
):
    monkeypatch.setattr(ids, "_last", (FROZEN_MS, (1 << ids.RANDOM_BITS) - 1))
    last = "run_" + ids._encode(FROZEN_MS, ids.TIME_CHARS) + "v" * ids.RANDOM_CHARS

    following = ids.new_run_id()

    assert following > last
    assert following == "run_" + ids._encode(FROZEN_MS + 1, ids.TIME_CHARS) + "0" * ids.RANDOM_CHARS


def test_a_backdated_id_carries_the_time_it_was_given():
    at = ids.new_id("run", FROZEN_MS)

    assert at[4:14] == ids._encode(FROZEN_MS, ids.TIME_CHARS)
