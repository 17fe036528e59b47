"""`triggerkit runs list / show / cancel / replay` against a live server."""

import json
import uuid

import httpx

from tests.live import poll


def trigger(platform, key, task, payload=None, **options):
    response = httpx.post(
        f"{platform.url}/api/v1/tasks/{task}/trigger",
        json={"payload": payload, "options": options},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def status_of(platform, key, run_id):
    response = httpx.get(
        f"{platform.url}/api/v3/runs/{run_id}",
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.json()["status"]


def finished(platform, key, run_id):
    return poll(
        lambda: status_of(platform, key, run_id) in ("COMPLETED", "FAILED"), timeout=30
    )


def test_list_shows_the_runs_of_the_environment_newest_first(cli, platform):
    tag = f"t-{uuid.uuid4().hex}"
    first = trigger(platform, cli.project.dev, "echo", {"n": 1}, tags=[tag])
    second = trigger(platform, cli.project.dev, "echo", {"n": 2}, tags=[tag])

    result = cli("runs", "list", "--tag", tag)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "TASK", "CREATED", "DURATION"]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == [second, first]


def test_list_filters_by_task_and_limits_across_pages(cli, platform):
    tag = f"t-{uuid.uuid4().hex}"
    runs = [
        trigger(platform, cli.project.dev, "echo", {"n": n}, tags=[tag])
        for n in range(3)
    ]
    trigger(platform, cli.project.dev, "hello-world", {"name": "Ada"}, tags=[tag])

    result = cli(
        "runs",
        "list",
        "--tag",
        tag,
        "--task",
        "echo",
        "--limit",
        "2",
        "--json",
        "--progress",
    )

    data = json.loads(result.out)
    assert [run["id"] for run in data] == runs[:0:-1]
    assert {run["taskIdentifier"] for run in data} == {"echo"}
    assert "fetched 2 runs" in result.err


def test_list_with_no_matching_run_prints_only_the_header(cli):
    result = cli("runs", "list", "--tag", f"none-{uuid.uuid4().hex}")

    assert result.code == 0
    assert result.out.splitlines() == ["ID  STATUS  TASK  CREATED  DURATION"]


def test_show_prints_a_finished_run_with_its_output(cli, platform):
    run_id = trigger(platform, cli.project.dev, "hello-world", {"name": "Ada"})
    finished(platform, cli.project.dev, run_id)

    result = cli("runs", "show", run_id)

    assert result.code == 0, result.err
    assert f"id        {run_id}" in result.out
    assert "status    COMPLETED" in result.out
    assert '"Hello, Ada!"' in result.out


def test_show_wait_waits_for_the_run_to_finish(cli, platform):
    run_id = trigger(platform, cli.project.dev, "sleep", {"seconds": 4})

    result = cli("runs", "show", run_id, "--wait", "--json", "--progress")

    assert result.code == 0, result.err
    assert json.loads(result.out)["status"] == "COMPLETED"
    assert f"{run_id} is " in result.err


def test_show_wait_gives_up_after_the_timeout_with_exit_6(cli, platform):
    run_id = trigger(platform, cli.project.dev, "sleep", {"seconds": 30})

    result = cli("runs", "show", run_id, "--wait", "--timeout", "1")

    assert result.code == 6
    assert "still" in result.err
    cli("runs", "cancel", run_id)


def test_show_of_an_unknown_run_exits_2(cli):
    result = cli("runs", "show", "run_00000000000000000000000000")

    assert result.code == 2
    assert "Run not found" in result.err
    assert result.out == ""


def test_show_of_another_environments_run_exits_2(cli, platform):
    run_id = trigger(platform, cli.project.prod, "echo", {})

    result = cli("runs", "show", run_id)

    assert result.code == 2


def test_cancel_stops_a_running_run(cli, platform):
    run_id = trigger(platform, cli.project.dev, "sleep", {"seconds": 30})
    poll(lambda: status_of(platform, cli.project.dev, run_id) == "EXECUTING")

    result = cli("runs", "cancel", run_id)

    assert result.code == 0, result.err
    assert result.out == f"{run_id}\tCANCELED\n"
    assert status_of(platform, cli.project.dev, run_id) == "CANCELED"


def test_cancel_leaves_a_finished_run_as_it_is(cli, platform):
    run_id = trigger(platform, cli.project.dev, "echo", {})
    finished(platform, cli.project.dev, run_id)

    result = cli("runs", "cancel", run_id)

    assert result.code == 0
    assert result.out == f"{run_id}\tCOMPLETED\n"


def test_cancel_of_several_runs_goes_on_past_an_unknown_one_and_exits_2(cli, platform):
    known = trigger(platform, cli.project.dev, "sleep", {"seconds": 30}, delay="1h")
    unknown = "run_00000000000000000000000000"

    result = cli("runs", "cancel", unknown, known, "--progress")

    assert result.code == 2
    assert result.out == f"{known}\tCANCELED\n"
    assert f"{unknown}: Run not found" in result.err
    assert "[2/2]" in result.err


def test_replay_starts_a_new_run_with_the_same_payload(cli, platform):
    original = trigger(platform, cli.project.dev, "echo", {"n": 7})

    result = cli("runs", "replay", original)

    assert result.code == 0, result.err
    original_id, new_id = result.out.split()
    assert original_id == original and new_id != original
    finished(platform, cli.project.dev, new_id)
    shown = json.loads(cli("runs", "show", new_id, "--json").out)
    assert shown["output"] == {"n": 7}


def test_replay_with_a_payload_replaces_it(cli, platform):
    original = trigger(platform, cli.project.dev, "echo", {"n": 7})

    result = cli("runs", "replay", original, "--payload", '{"n": 8}', "--tag", "again")

    new_id = result.out.split()[1]
    finished(platform, cli.project.dev, new_id)
    shown = json.loads(cli("runs", "show", new_id, "--json").out)
    assert shown["output"] == {"n": 8}
    assert shown["tags"] == ["again"]


def test_replay_refused_by_the_server_exits_5(cli, platform):
    original = trigger(platform, cli.project.dev, "echo", {})

    result = cli("runs", "replay", original, "--tag", "x" * 200)

    assert result.code == 5
    assert "400" in result.err


def test_runs_commands_with_a_revoked_key_exit_3(cli):
    result = cli("runs", "list", "--secret-key", "tr_dev_" + "0" * 24)

    assert result.code == 3
