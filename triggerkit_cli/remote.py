"""Commands that talk to a Triggerkit server over HTTP, through the Python SDK.

They read TRIGGER_SECRET_KEY and TRIGGER_API_URL unless --secret-key and
--api-url say otherwise, and import no Django.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from triggerkit_cli import exits
from triggerkit_cli.exits import CliError
from triggerkit_cli.output import Progress, as_json, duration, fields, moment, table

# One attempt and two retries, 0.5 s then 0.8 s apart: a script learns quickly
# that the server is down, where the SDK's default would wait about ten seconds.
DEFAULT_MAX_ATTEMPTS = 3
RETRY_MIN_DELAY_SECONDS = 0.5
LIST_PAGE_MAX = 100
WAIT_INTERVAL_SECONDS = 1.0


def add_commands(commands: argparse._SubParsersAction) -> None:
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection")
    group.add_argument(
        "--secret-key",
        help="the environment's secret key (default: $TRIGGER_SECRET_KEY)",
    )
    group.add_argument(
        "--api-url", help="the server's base URL (default: $TRIGGER_API_URL)"
    )
    group.add_argument(
        "--max-attempts",
        type=positive_int,
        default=DEFAULT_MAX_ATTEMPTS,
        help=f"tries per request on network and server errors (default {DEFAULT_MAX_ATTEMPTS})",
    )
    progress = argparse.ArgumentParser(add_help=False)
    progress.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: only on a terminal)",
    )

    whoami = commands.add_parser(
        "whoami",
        parents=[connection],
        help="show the project and environment of the secret key",
        description="Show the project and environment the secret key belongs to.",
    )
    whoami.add_argument("--json", action="store_true", help="print JSON")
    whoami.set_defaults(handler=run_whoami)

    runs = commands.add_parser(
        "runs",
        help="list, show, cancel or replay runs",
        description="Read and act on runs.",
    )
    runs.set_defaults(command_parser=runs)
    actions = runs.add_subparsers(dest="action", metavar="ACTION")

    listing = actions.add_parser(
        "list",
        parents=[connection, progress],
        help="list runs, newest first",
        description="List runs of the key's environment, newest first.",
    )
    listing.add_argument(
        "--status", action="append", help="only this status (repeatable)"
    )
    listing.add_argument(
        "--task", action="append", help="only this task id (repeatable)"
    )
    listing.add_argument(
        "--tag", action="append", help="only runs with this tag (repeatable)"
    )
    listing.add_argument(
        "--since", help="only runs created within this period, e.g. 1h or 7d"
    )
    listing.add_argument(
        "--limit",
        type=positive_int,
        default=25,
        help="at most this many runs (default 25)",
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=run_list)

    show = actions.add_parser(
        "show",
        parents=[connection, progress],
        help="show one run",
        description="Show one run with its payload, output and error.",
    )
    show.add_argument("run_id")
    show.add_argument("--wait", action="store_true", help="wait until the run finishes")
    show.add_argument(
        "--timeout",
        type=float,
        help="with --wait: give up after this many seconds (exit 6)",
    )
    show.add_argument("--json", action="store_true", help="print the API's run object")
    show.set_defaults(handler=run_show)

    cancel = actions.add_parser(
        "cancel",
        parents=[connection, progress],
        help="cancel runs that have not finished",
        description="Cancel runs; a run that already finished is left as it is.",
    )
    cancel.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    cancel.set_defaults(handler=run_cancel)

    replay = actions.add_parser(
        "replay",
        parents=[connection, progress],
        help="start new runs like existing ones",
        description="Start a new run of the same task and payload for each run; "
        "print the new run ids, one a line.",
    )
    replay.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    replay.add_argument(
        "--payload", type=json_value, help="a JSON payload instead of the original"
    )
    replay.add_argument("--tag", action="append", help="tag the new runs (repeatable)")
    replay.set_defaults(handler=run_replay)


def positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def json_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc


def connect(args: argparse.Namespace) -> None:
    import triggerkit

    # The SDK's warnings ("Giving up on … after 3 attempts") would repeat our
    # one-line message; without a handler Python would print them anyway.
    logging.getLogger("triggerkit").addHandler(logging.NullHandler())

    triggerkit.configure(
        args.secret_key,
        args.api_url,
        max_attempts=args.max_attempts,
        retry_min_delay=RETRY_MIN_DELAY_SECONDS,
    )


@contextmanager
def api_errors(subject: str = "") -> Iterator[None]:
    """Turn the SDK's errors into one-line messages with their exit codes."""
    import triggerkit as tk

    prefix = f"{subject}: " if subject else ""
    try:
        yield
    except tk.ConfigurationError as exc:
        raise CliError(f"{exc} (or pass --secret-key)", exits.USAGE) from exc
    except tk.NotFoundError as exc:
        raise CliError(f"{prefix}{exc.message}", exits.NOT_FOUND) from exc
    except (tk.AuthenticationError, tk.PermissionDeniedError) as exc:
        raise CliError(f"{prefix}{exc.message}", exits.AUTH) from exc
    except tk.ApiError as exc:
        code = (
            exits.REJECTED
            if 400 <= exc.status < 500 and exc.status != 429
            else exits.UNAVAILABLE
        )
        raise CliError(f"{prefix}{exc.status}: {exc.message}", code) from exc
    except tk.ApiConnectionError as exc:
        raise CliError(f"{prefix}{exc}", exits.UNAVAILABLE) from exc


def run_whoami(args: argparse.Namespace) -> int:
    from triggerkit.client import ApiRequest, get_client, get_config

    connect(args)
    with api_errors():
        data = (
            get_client()
            .send(ApiRequest("GET", "/api/v1/whoami", idempotent=False))
            .data
        )
        url = get_config().api_url
    if args.json:
        as_json({**data, "apiUrl": url}, sys.stdout)
        return exits.OK
    project, environment = data["project"], data["environment"]
    fields(
        [
            ("project", f"{project['name']} ({project['slug']})"),
            ("environment", f"{environment['slug']} ({environment['kind']})"),
            ("server", url),
        ],
        sys.stdout,
    )
    return exits.OK


def run_list(args: argparse.Namespace) -> int:
    import triggerkit

    connect(args)
    filters = {
        name: value
        for name, value in (
            ("status", args.status),
            ("task", args.task),
            ("tag", args.tag),
            ("period", args.since),
        )
        if value
    }
    progress = Progress(args.progress)
    found: list[Any] = []
    cursor = None
    with api_errors():
        while len(found) < args.limit:
            size = min(LIST_PAGE_MAX, args.limit - len(found))
            page = triggerkit.runs.list_page(cursor, page_size=size, **filters)
            found.extend(page.runs)
            progress.update(f"fetched {len(found)} runs…")
            cursor = page.next_cursor
            if cursor is None:
                break
    progress.done()

    if args.json:
        as_json([run.raw for run in found], sys.stdout)
        return exits.OK
    rows = [
        (
            run.id,
            run.status,
            run.task_identifier,
            moment(run.created_at),
            duration(run.duration_ms),
        )
        for run in found
    ]
    table(rows, ("ID", "STATUS", "TASK", "CREATED", "DURATION"), sys.stdout)
    return exits.OK


def run_show(args: argparse.Namespace) -> int:
    import triggerkit

    connect(args)
    with api_errors(args.run_id):
        run = triggerkit.runs.retrieve(args.run_id)
        code = exits.OK
        if args.wait and not run.is_completed:
            run, finished = wait_for(run, args.timeout, Progress(args.progress))
            if not finished:
                code = exits.TIMEOUT
    if args.json:
        as_json(run.raw, sys.stdout)
    else:
        print_run(run)
    if code == exits.TIMEOUT:
        print(
            f"triggerkit: {run.id} is still {run.status} after {args.timeout:g}s",
            file=sys.stderr,
        )
    return code


def wait_for(run: Any, timeout: float | None, progress: Progress) -> tuple[Any, bool]:
    """Retrieve the run until it is completed; False if the timeout ran out first."""
    import triggerkit

    started = time.monotonic()
    while not run.is_completed:
        waited = time.monotonic() - started
        progress.update(f"{run.id} is {run.status} ({waited:.0f}s)")
        if timeout is not None and waited >= timeout:
            progress.done()
            return run, False
        time.sleep(
            WAIT_INTERVAL_SECONDS
            if timeout is None
            else min(WAIT_INTERVAL_SECONDS, max(0.05, timeout - waited))
        )
        run = triggerkit.runs.retrieve(run.id)
    progress.done()
    return run, True


def print_run(run: Any) -> None:
    error = run.error and (
        f"{run.error.name}: {run.error.message}"
        if run.error.name
        else run.error.message
    )
    fields(
        [
            ("id", run.id),
            ("status", run.status),
            ("task", run.task_identifier),
            ("created", moment(run.created_at)),
            ("started", moment(run.started_at)),
            ("finished", moment(run.finished_at)),
            ("attempts", run.raw.get("attemptCount")),
            ("duration", duration(run.duration_ms)),
            ("tags", ", ".join(run.tags)),
            ("batch", run.batch_id),
            ("payload", compact(run.payload)),
            ("output", compact(run.output)),
            ("error", error),
        ],
        sys.stdout,
    )


def compact(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def run_cancel(args: argparse.Namespace) -> int:
    import triggerkit

    connect(args)

    def cancel(run_id: str) -> str:
        triggerkit.runs.cancel(run_id)
        return triggerkit.runs.retrieve(run_id).status

    return for_each(args.run_ids, cancel, Progress(args.progress))


def run_replay(args: argparse.Namespace) -> int:
    import triggerkit

    connect(args)
    overrides: dict[str, Any] = {}
    if args.payload is not None:
        overrides["payload"] = args.payload
    if args.tag:
        overrides["tags"] = args.tag

    def replay(run_id: str) -> str:
        return triggerkit.runs.replay(run_id, **overrides)

    return for_each(args.run_ids, replay, Progress(args.progress))


def for_each(run_ids: list[str], act: Callable[[str], str], progress: Progress) -> int:
    """Act on each run in turn, printing `run_id<TAB>result`; errors do not stop it.

    Returns the exit code of the first failure, or 0.
    """
    code = exits.OK
    for number, run_id in enumerate(run_ids, start=1):
        progress.update(f"[{number}/{len(run_ids)}] {run_id}")
        try:
            with api_errors(run_id):
                result = act(run_id)
        except CliError as exc:
            progress.done()
            print(f"triggerkit: {exc}", file=sys.stderr)
            code = code or exc.code
            continue
        progress.done()
        print(f"{run_id}\t{result}", flush=True)
    return code
