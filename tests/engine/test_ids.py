"""Run ids sort in the order a process made them, even within one millisecond."""

from runs import ids


def test_ids_made_back_to_back_sort_in_the_order_they_were_made():
    made = [ids.new_run_id() for _ in range(5000)]

    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_a_frozen_or_backward_clock_still_gives_increasing_ids(monkeypatch):
    now = [1_800_000_000.0]
    monkeypatch.setattr(ids.time, "time", lambda: now[0])
    first = ids.new_run_id()
    second = ids.new_run_id()
    now[0] -= 5
    third = ids.new_run_id()

    assert first < second < third
    # The time part stays the latest one seen, not the stepped-back clock's.
    assert first[:14] == second[:14] == third[:14]


def test_a_millisecond_that_runs_out_of_random_values_moves_to_the_next(monkeypatch):
    monkeypatch.setattr(ids.time, "time", lambda: 1_800_000_000.0)
    last = ids.new_run_id()
    millis, _ = ids._last
    monkeypatch.setattr(ids, "_last", (millis, (1 << ids.RANDOM_BITS) - 1))

    following = ids.new_run_id()

    assert following > last
    assert ids._last == (millis + 1, 0)


def test_a_backdated_id_carries_the_time_it_was_given():
    at = ids.new_id("run", 1_700_000_000_000)

    assert at[4:14] == ids._encode(1_700_000_000_000, ids.TIME_CHARS)
