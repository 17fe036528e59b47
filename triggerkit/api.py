"""The calls users make: ``tasks``, ``runs``, ``batch`` and ``idempotency_keys``.

Each operation is written once, as a flow: a generator that yields the steps it
needs (an ``ApiRequest``, a presigned download, a pause) and receives their
results. ``_run`` performs those steps with the sync client and ``_run_async`` with
the async one, so ``tasks.trigger`` and ``tasks.trigger_async`` share every line of
their logic.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import secrets
import time
from collections.abc import (
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx

from triggerkit import _subtasks
from triggerkit._runtime import current_runtime
from triggerkit.client import (
    ApiRequest,
    ApiResponse,
    dumps_json,
    get_async_client,
    get_client,
    get_config,
)
from triggerkit.errors import (
    ApiConnectionError,
    BatchNotSealedError,
    PollTimeoutError,
    error_from_response,
)
from triggerkit.results import TaskRunResult
from triggerkit.models import (
    Batch,
    BatchHandle,
    IdempotencyKey,
    Run,
    RunPage,
    TriggerResult,
)

logger = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 1000
BATCH_SEAL_ATTEMPTS = 5
DEFAULT_PAGE_SIZE = 25
JSON_PAYLOAD = "application/json"
STORE_PAYLOAD = "application/store"
# Payloads larger than this (as JSON) are uploaded to the server's object store
# first and sent as a reference, as the TypeScript SDK does; the server keeps
# values up to the same size in its database.
OFFLOAD_THRESHOLD_BYTES = 512 * 1024
NDJSON = "application/x-ndjson"
JWT_HEADER = "x-trigger-jwt"

Scope = Literal["run", "attempt", "global"]

# Set by the worker while a task runs: returns (run id, attempt number) of the
# current run, or None outside a task. Scoped idempotency keys append these.
_current_run_context: Callable[[], tuple[str, int] | None] | None = None

_HASHED_KEY = re.compile(r"[0-9a-f]{64}")
_SCOPES = ("run", "attempt", "global")

T = TypeVar("T")


class TriggerOptions(TypedDict, total=False):
    """Options of a trigger, by their Python names; all are optional.

    Attributes:
        delay: Start no earlier than this: a duration such as ``"1h30m"``, a
            ``timedelta``, or a ``datetime`` (naive ones are local time).
        ttl: Expire the run if it has not started this long after it was queued:
            a duration string, whole seconds or a ``timedelta``; 0 means never.
        idempotency_key: Return the existing run instead of creating one when a run
            of the task has this key: a key from ``idempotency_keys.create``, a
            64-character hex hash, or a raw string (or list of parts) hashed with
            the "run" scope.
        idempotency_key_ttl: How long the key holds, such as ``"1h"`` or ``"7d"``,
            or a ``timedelta``; 30 days by default.
        queue: Name of the queue to run in instead of the task's own, or a
            ``Queue`` whose ``concurrency_limit`` also sets that queue's limit.
        concurrency_key: Gives each value its own copy of the queue's limit.
        tags: One tag or a list of them (at most 10, each up to 128 characters).
        metadata: A JSON object stored with the run.
        max_attempts: Overrides the task's number of attempts.
        max_duration: Seconds a run may execute before it times out.
        priority: Seconds to move the run ahead in its queue.
        machine: Machine preset name; stored, and ignored by Triggerkit workers.
    """

    delay: str | datetime | timedelta
    ttl: str | int | timedelta
    idempotency_key: str | Sequence[str]
    idempotency_key_ttl: str | timedelta
    queue: str | Any
    concurrency_key: str
    tags: str | Sequence[str]
    metadata: dict[str, Any]
    max_attempts: int
    max_duration: int
    priority: int
    machine: str


class ReplayOverrides(TriggerOptions, total=False):
    """What a replay may change; ``payload`` replaces the original payload."""

    payload: Any


class RunFilters(TypedDict, total=False):
    """Filters of ``runs.list``; all are optional and combine with AND.

    Attributes:
        status: One status or several (any of them matches).
        task: One task id or several.
        tag: One tag or several (runs having any of them match).
        batch: A batch id.
        queue: A queue name; a task's own queue is ``"task/<task id>"``.
        schedule: A schedule id.
        is_test: Only test runs (True) or only other runs (False).
        created_from: Runs created at or after this time (naive is local time).
        created_to: Runs created at or before this time (naive is local time).
        period: Runs created within this long before now, such as ``"1d"``.
        page_size: Runs per request, 1 to 100; 25 by default.
    """

    status: str | Sequence[str]
    task: str | Sequence[str]
    tag: str | Sequence[str]
    batch: str
    queue: str
    schedule: str
    is_test: bool
    created_from: datetime | str
    created_to: datetime | str
    period: str | timedelta
    page_size: int


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True)
class _Download:
    url: str


@dataclass(frozen=True)
class _Upload:
    """PUT to a presigned URL; the reply is the response, or the transport error."""

    url: str
    content: bytes
    content_type: str


_Step = ApiRequest | _Download | _Upload | _Sleep
_Flow = Generator[_Step, Any, T]
RunRef = str | TriggerResult | Run


class TasksApi:
    """Trigger tasks by id."""

    def trigger(
        self, task_id: str, payload: Any = None, **options: Unpack[TriggerOptions]
    ) -> TriggerResult:
        """Trigger one run of a task and return without waiting for it.

        Args:
            task_id: The task's id.
            payload: Any JSON value; datetimes are sent as ISO strings. None sends
                no payload.
            **options: Run options, see ``TriggerOptions``.

        Returns:
            The run id, whether an existing run was returned for the idempotency
            key, and a public access token for the run.

        Raises:
            TypeError: for an option name the SDK does not know.
            ApiError: when the server refuses the trigger.
            ApiConnectionError: when the server cannot be reached.
        """
        runtime = current_runtime.get()
        if runtime is not None:
            return _subtasks.trigger(runtime, task_id, payload, dict(options))
        return _run(_trigger_flow(task_id, payload, options))

    async def trigger_async(
        self, task_id: str, payload: Any = None, **options: Unpack[TriggerOptions]
    ) -> TriggerResult:
        """Like ``trigger``, without blocking the event loop."""
        runtime = current_runtime.get()
        if runtime is not None:
            return _subtasks.trigger(runtime, task_id, payload, dict(options))
        return await _run_async(_trigger_flow(task_id, payload, options))

    def batch_trigger(
        self,
        task_id: str | None,
        items: Sequence[Any],
        *,
        idempotency_key: str | Sequence[str] | None = None,
        idempotency_key_ttl: str | timedelta | None = None,
    ) -> BatchHandle:
        """Trigger up to 1,000 runs in one batch and return without waiting.

        The runs are created by the server after this returns; ``batch.retrieve``
        lists their ids.

        Args:
            task_id: The task every item runs, or None when each item names its own.
            items: With a task id, each item is a payload, or a dict
                ``{"payload": …, "options": {…}}`` whose options are those of
                ``TriggerOptions``. (A payload that itself has only a "payload" key
                and maybe "options" must be wrapped that way.) With None, each item
                is a tuple ``(task_id, payload)`` or ``(task_id, payload, options)``.
            idempotency_key: Makes the whole batch idempotent; items without a key
                of their own get one derived from it and their index.
            idempotency_key_ttl: How long the item keys hold, unless an item says.

        Returns:
            The batch id, its run count, whether an existing batch was returned for
            the idempotency key, and a public access token for the batch.

        Raises:
            ValueError: for an empty batch, more than 1,000 items, or items of the
                wrong shape; nothing is sent then.
            BatchNotSealedError: when the server kept missing items after resends.
            ApiError: when the server refuses the batch.
            ApiConnectionError: when the server cannot be reached.
        """
        runtime = current_runtime.get()
        if runtime is not None and idempotency_key is None:
            return _subtasks.batch_trigger(runtime, task_id, items)
        flow = _batch_trigger_flow(task_id, items, idempotency_key, idempotency_key_ttl)
        return _run(flow)

    async def batch_trigger_async(
        self,
        task_id: str | None,
        items: Sequence[Any],
        *,
        idempotency_key: str | Sequence[str] | None = None,
        idempotency_key_ttl: str | timedelta | None = None,
    ) -> BatchHandle:
        """Like ``batch_trigger``, without blocking the event loop."""
        runtime = current_runtime.get()
        if runtime is not None and idempotency_key is None:
            return _subtasks.batch_trigger(runtime, task_id, items)
        flow = _batch_trigger_flow(task_id, items, idempotency_key, idempotency_key_ttl)
        return await _run_async(flow)

    def trigger_and_wait(
        self, task_id: str, payload: Any = None, **options: Unpack[TriggerOptions]
    ) -> TaskRunResult:
        """Run a task as a child of the current task and wait for its result.

        Only inside a task; see ``Task.trigger_and_wait``.
        """
        return _subtasks.trigger_and_wait(task_id, payload, dict(options))

    async def trigger_and_wait_async(
        self, task_id: str, payload: Any = None, **options: Unpack[TriggerOptions]
    ) -> TaskRunResult:
        """Like ``trigger_and_wait``, inside an async task."""
        return await _subtasks.trigger_and_wait_async(task_id, payload, dict(options))

    def batch_trigger_and_wait(
        self, task_id: str | None, items: Sequence[Any]
    ) -> list[TaskRunResult]:
        """Run one child per item and wait for all; results come in item order.

        Only inside a task. Items are those of ``batch_trigger``.
        """
        return _subtasks.batch_trigger_and_wait(task_id, items)

    async def batch_trigger_and_wait_async(
        self, task_id: str | None, items: Sequence[Any]
    ) -> list[TaskRunResult]:
        """Like ``batch_trigger_and_wait``, inside an async task."""
        return await _subtasks.batch_trigger_and_wait_async(task_id, items)

    def trigger_and_poll(
        self,
        task_id: str,
        payload: Any = None,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        **options: Unpack[TriggerOptions],
    ) -> Run:
        """Trigger a run, then poll it until it is completed.

        Args:
            task_id: The task's id.
            payload: As for ``trigger``.
            poll_interval: Seconds between two retrievals of the run.
            timeout: Seconds to poll before giving up; None polls until completed.
            **options: Run options, see ``TriggerOptions``.

        Returns:
            The completed run, with its output or error.

        Raises:
            PollTimeoutError: when the run is not completed within ``timeout``.
            ApiError: when the server refuses the trigger or a retrieval.
            ApiConnectionError: when the server cannot be reached.
        """
        flow = _trigger_and_poll_flow(task_id, payload, poll_interval, timeout, options)
        return _run(flow)

    async def trigger_and_poll_async(
        self,
        task_id: str,
        payload: Any = None,
        poll_interval: float = 1.0,
        timeout: float | None = None,
        **options: Unpack[TriggerOptions],
    ) -> Run:
        """Like ``trigger_and_poll``, without blocking the event loop."""
        flow = _trigger_and_poll_flow(task_id, payload, poll_interval, timeout, options)
        return await _run_async(flow)


class RunsApi:
    """Read and act on runs."""

    def retrieve(self, run: RunRef) -> Run:
        """Fetch a run with its payload, output and error.

        Payloads and outputs the server keeps in its object store are downloaded.

        Args:
            run: A run id, or a ``TriggerResult`` or ``Run`` to take the id from.

        Raises:
            NotFoundError: when no such run exists in this environment.
        """
        return _run(_retrieve_flow(_run_id(run)))

    async def retrieve_async(self, run: RunRef) -> Run:
        """Like ``retrieve``, without blocking the event loop."""
        return await _run_async(_retrieve_flow(_run_id(run)))

    def list(self, **filters: Unpack[RunFilters]) -> Iterator[Run]:
        """Iterate over runs, newest first, fetching further pages as needed.

        Args:
            **filters: See ``RunFilters``.

        Raises:
            TypeError: for a filter name the SDK does not know.
        """
        return _iterate_runs(_list_query(filters))

    def list_async(self, **filters: Unpack[RunFilters]) -> AsyncIterator[Run]:
        """Like ``list``, as an async iterator: ``async for run in …``."""
        return _iterate_runs_async(_list_query(filters))

    def list_page(
        self, after: str | None = None, **filters: Unpack[RunFilters]
    ) -> RunPage:
        """Fetch one page of runs, newest first.

        Args:
            after: The ``next_cursor`` of the previous page; None for the first.
            **filters: See ``RunFilters``.
        """
        return _run(_list_page_flow(_list_query(filters), after))

    async def list_page_async(
        self, after: str | None = None, **filters: Unpack[RunFilters]
    ) -> RunPage:
        """Like ``list_page``, without blocking the event loop."""
        return await _run_async(_list_page_flow(_list_query(filters), after))

    def poll(
        self, run: RunRef, interval: float = 1.0, timeout: float | None = None
    ) -> Run:
        """Retrieve a run every ``interval`` seconds until it is completed.

        Completed runs are those that succeeded, failed, crashed, were cancelled,
        expired or timed out.

        Args:
            run: A run id, or a ``TriggerResult`` or ``Run`` to take the id from.
            interval: Seconds between two retrievals.
            timeout: Seconds before giving up; None polls until completed.

        Raises:
            PollTimeoutError: when the run is not completed within ``timeout``.
        """
        return _run(_poll_flow(_run_id(run), interval, timeout))

    async def poll_async(
        self, run: RunRef, interval: float = 1.0, timeout: float | None = None
    ) -> Run:
        """Like ``poll``, without blocking the event loop."""
        return await _run_async(_poll_flow(_run_id(run), interval, timeout))

    def cancel(self, run: RunRef) -> str:
        """Cancel a run that has not finished; a finished run is left as it is.

        Args:
            run: A run id, or a ``TriggerResult`` or ``Run`` to take the id from.

        Returns:
            The run id.
        """
        return _run(_cancel_flow(_run_id(run)))

    async def cancel_async(self, run: RunRef) -> str:
        """Like ``cancel``, without blocking the event loop."""
        return await _run_async(_cancel_flow(_run_id(run)))

    def replay(self, run: RunRef, **overrides: Unpack[ReplayOverrides]) -> str:
        """Start a new run of the same task with the same payload and options.

        Args:
            run: A run id, or a ``TriggerResult`` or ``Run`` to take the id from.
            **overrides: ``payload`` and the ``TriggerOptions`` to change; the
                replay has no delay, TTL or idempotency key unless given here.

        Returns:
            The id of the new run.
        """
        return _run(_replay_flow(_run_id(run), overrides))

    async def replay_async(
        self, run: RunRef, **overrides: Unpack[ReplayOverrides]
    ) -> str:
        """Like ``replay``, without blocking the event loop."""
        return await _run_async(_replay_flow(_run_id(run), overrides))

    def reschedule(self, run: RunRef, delay: str | datetime | timedelta) -> Run:
        """Move the start of a delayed run.

        Args:
            run: A run id, or a ``TriggerResult`` or ``Run`` to take the id from.
            delay: The new delay, from now: a duration such as ``"2h"``, a
                ``timedelta``, or a ``datetime`` to start at.

        Returns:
            The updated run.

        Raises:
            BadRequestError: when the run is not delayed or the delay is invalid.
        """
        return _run(_reschedule_flow(_run_id(run), delay))

    async def reschedule_async(
        self, run: RunRef, delay: str | datetime | timedelta
    ) -> Run:
        """Like ``reschedule``, without blocking the event loop."""
        return await _run_async(_reschedule_flow(_run_id(run), delay))


class BatchApi:
    """Read batches."""

    def retrieve(self, batch_id: str) -> Batch:
        """Fetch a batch with the ids of the runs created for it so far.

        Raises:
            NotFoundError: when no such batch exists in this environment.
        """
        return _run(_batch_flow(batch_id))

    async def retrieve_async(self, batch_id: str) -> Batch:
        """Like ``retrieve``, without blocking the event loop."""
        return await _run_async(_batch_flow(batch_id))


class IdempotencyKeysApi:
    """Make idempotency keys and release them."""

    def create(
        self, key: str | Sequence[str], scope: Scope = "global"
    ) -> IdempotencyKey:
        """Hash a key into the form the API stores; sends no request.

        Args:
            key: The key, or parts of it to be joined with "-".
            scope: Inside a running task, "run" makes the key unique to the run and
                "attempt" to the attempt; "global" (and any scope outside a task)
                hashes the key alone.

        Returns:
            The lowercase hex SHA-256, which also remembers ``key`` and ``scope``.
        """
        return _create_key(key, scope)

    def reset(
        self, task_id: str, key: str | Sequence[str], scope: Scope = "run"
    ) -> str:
        """Release a key so that the next trigger with it creates a new run.

        Args:
            task_id: The task whose runs hold the key.
            key: A key from ``create`` or a 64-character hash, sent as it is, or a
                raw key hashed with ``scope``.
            scope: As for ``create``; "run" matches a raw key given to ``trigger``.

        Returns:
            The hashed key.

        Raises:
            NotFoundError: when no run of the task has the key.
        """
        return _run(_reset_flow(task_id, key, scope))

    async def reset_async(
        self, task_id: str, key: str | Sequence[str], scope: Scope = "run"
    ) -> str:
        """Like ``reset``, without blocking the event loop."""
        return await _run_async(_reset_flow(task_id, key, scope))


tasks = TasksApi()
runs = RunsApi()
batch = BatchApi()
idempotency_keys = IdempotencyKeysApi()


def _run(flow: _Flow[T]) -> T:
    """Perform a flow's steps with the sync client and return its result."""
    reply: Any = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

        if isinstance(step, _Sleep):
            time.sleep(step.seconds)
            reply = None
        elif isinstance(step, _Download):
            reply = get_client().download(step.url)
        elif isinstance(step, _Upload):
            reply = _put(step)
        else:
            reply = get_client().send(step)


async def _run_async(flow: _Flow[T]) -> T:
    """Perform a flow's steps with the async client and return its result."""
    reply: Any = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

        if isinstance(step, _Sleep):
            await asyncio.sleep(step.seconds)
            reply = None
        elif isinstance(step, _Download):
            reply = await get_async_client().download(step.url)
        elif isinstance(step, _Upload):
            reply = await _put_async(step)
        else:
            reply = await get_async_client().send(step)


def _put(step: _Upload) -> httpx.Response | httpx.TransportError:
    """Upload to a presigned URL, without the API's credentials."""
    config = get_config()
    try:
        with httpx.Client(transport=config.transport, timeout=config.timeout) as http:
            return http.put(
                step.url, content=step.content, headers={"Content-Type": step.content_type}
            )
    except httpx.TransportError as exc:
        return exc


async def _put_async(step: _Upload) -> httpx.Response | httpx.TransportError:
    config = get_config()
    transport = config.async_transport
    if transport is None and isinstance(config.transport, httpx.AsyncBaseTransport):
        transport = config.transport
    try:
        async with httpx.AsyncClient(transport=transport, timeout=config.timeout) as http:
            return await http.put(
                step.url, content=step.content, headers={"Content-Type": step.content_type}
            )
    except httpx.TransportError as exc:
        return exc


def _trigger_flow(
    task_id: str, payload: Any, options: Mapping[str, Any]
) -> _Flow[TriggerResult]:
    body: dict[str, Any] = {"options": {"payloadType": JSON_PAYLOAD, **_wire_options(options)}}
    if payload is not None:
        body["payload"], packet_options = yield from _offload_flow(payload)
        body["options"].update(packet_options)
    path = f"/api/v1/tasks/{_segment(task_id)}/trigger"
    response: ApiResponse = yield ApiRequest("POST", path, json=body)

    return TriggerResult(
        id=response.data["id"],
        is_cached=response.data.get("isCached", False),
        public_access_token=response.headers.get(JWT_HEADER),
    )


def _trigger_and_poll_flow(
    task_id: str,
    payload: Any,
    interval: float,
    timeout: float | None,
    options: Mapping[str, Any],
) -> _Flow[Run]:
    result = yield from _trigger_flow(task_id, payload, options)
    return (yield from _poll_flow(result.id, interval, timeout))


def _batch_trigger_flow(
    task_id: str | None,
    items: Sequence[Any],
    batch_key: str | Sequence[str] | None,
    key_ttl: str | timedelta | None,
) -> _Flow[BatchHandle]:
    """Create the batch (phase 1), then stream its items (phase 2)."""
    lines = _batch_lines(task_id, items, batch_key, key_ttl)
    body: dict[str, Any] = {
        "runCount": len(lines),
        "taskIdentifiers": sorted({line["task"] for line in lines}),
    }
    if batch_key is not None:
        body.update(_wire_idempotency_key(batch_key))
    created: ApiResponse = yield ApiRequest("POST", "/api/v3/batches", json=body)

    handle = BatchHandle(
        batch_id=created.data["id"],
        run_count=created.data["runCount"],
        is_cached=created.data.get("isCached", False),
        public_access_token=created.headers.get(JWT_HEADER),
    )
    if not handle.is_cached:
        for line in lines:
            if "payload" in line:
                line["payload"], packet_options = yield from _offload_flow(line["payload"])
                line["options"].update(packet_options)
        yield from _stream_items_flow(handle.batch_id, lines)
    return handle


def _offload_flow(payload: Any) -> _Flow[tuple[Any, dict[str, Any]]]:
    """Return what to send as a payload, and the options that say what it is.

    A payload above ``OFFLOAD_THRESHOLD_BYTES`` is uploaded first (a presigned
    URL from ``PUT /api/v2/packets/{name}``, then a PUT to it) and sent as the
    ``application/store`` reference the server gave.
    """
    data = dumps_json(payload)
    if len(data) <= OFFLOAD_THRESHOLD_BYTES:
        return payload, {"payloadType": JSON_PAYLOAD}

    name = f"trigger/packet_{secrets.token_hex(11)}/payload.json"
    created: ApiResponse = yield ApiRequest("PUT", f"/api/v2/packets/{_segment(name)}")
    yield from _upload_flow(created.data["presignedUrl"], data, JSON_PAYLOAD)
    options = {"payloadType": STORE_PAYLOAD, "payloadSize": len(data)}
    return created.data["storagePath"], options


def _upload_flow(url: str, content: bytes, content_type: str) -> _Flow[None]:
    """PUT to a presigned URL, retrying as API calls are retried."""
    config = get_config()
    for attempt in range(1, config.max_attempts + 1):
        outcome = yield _Upload(url, content, content_type)
        if isinstance(outcome, httpx.Response) and outcome.is_success:
            return
        last = attempt == config.max_attempts
        if isinstance(outcome, httpx.Response):
            status = outcome.status_code
            if last or not (status >= 500 or status in (408, 429)):
                raise error_from_response(status, _body_of(outcome), outcome.headers)
        elif last:
            raise ApiConnectionError(f"Could not upload the payload: {outcome}")
        yield _Sleep(config.retry_min_delay * config.retry_factor ** (attempt - 1))


def _body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _stream_items_flow(batch_id: str, lines: Sequence[Any]) -> _Flow[None]:
    """Send the items as NDJSON until the server reports the batch sealed.

    The stream is sent whole, with a Content-Length, so that it can be resent; the
    official SDK sends it chunked.
    """
    request = ApiRequest(
        "POST",
        f"/api/v3/batches/{_segment(batch_id)}/items",
        content=b"".join(dumps_json(line) + b"\n" for line in lines),
        headers={"Content-Type": NDJSON},
        idempotent=False,
    )
    for attempt in range(BATCH_SEAL_ATTEMPTS):
        if attempt:
            yield _Sleep(get_config().retry_min_delay * 2 ** (attempt - 1))
        response: ApiResponse = yield request
        if response.data.get("sealed"):
            return
        logger.debug("Batch %s not sealed after attempt %d", batch_id, attempt + 1)

    raise BatchNotSealedError(
        batch_id,
        response.data.get("itemsAccepted", 0),
        response.data.get("itemsDeduplicated", 0),
    )


def _batch_lines(
    task_id: str | None,
    items: Sequence[Any],
    batch_key: str | Sequence[str] | None,
    key_ttl: str | timedelta | None,
) -> list[dict[str, Any]]:
    """Turn batch items into the lines of the item stream."""
    if not 0 < len(items) <= MAX_BATCH_ITEMS:
        raise ValueError(
            f"A batch holds 1 to {MAX_BATCH_ITEMS} items; got {len(items)}"
        )

    lines = []
    for index, item in enumerate(items):
        task, payload, options = _batch_item(task_id, item)
        options = {"idempotency_key_ttl": key_ttl, **options}
        if batch_key is not None and options.get("idempotency_key") is None:
            options["idempotency_key"] = _sha256(f"{_joined(batch_key)}-{index}")

        line: dict[str, Any] = {"index": index, "task": task}
        if payload is not None:
            line["payload"] = payload
        line["options"] = {"payloadType": JSON_PAYLOAD, **_wire_options(options)}
        lines.append(line)
    return lines


def _batch_item(task_id: str | None, item: Any) -> tuple[str, Any, dict[str, Any]]:
    """Return the task, payload and options of one batch item."""
    if task_id is None:
        if not isinstance(item, tuple) or len(item) not in (2, 3):
            raise ValueError(
                "Without a task id, each batch item is a tuple "
                f"(task_id, payload[, options]); got {item!r:.80}"
            )
        task, payload, *rest = item
        return task, payload, dict(rest[0] or {}) if rest else {}

    is_wrapped = isinstance(item, Mapping) and "payload" in item
    if is_wrapped and set(item) <= {"payload", "options"}:
        return task_id, item["payload"], dict(item.get("options") or {})
    return task_id, item, {}


def _retrieve_flow(run_id: str) -> _Flow[Run]:
    request = ApiRequest("GET", f"/api/v3/runs/{_segment(run_id)}")
    return (yield from _run_object_flow(request))


def _run_object_flow(request: ApiRequest) -> _Flow[Run]:
    """Send a request answered by a run object; download its stored packets."""
    response: ApiResponse = yield request
    run = Run.from_wire(response.data)

    if url := response.data.get("payloadPresignedUrl"):
        run = replace(run, payload=(yield _Download(url)))
    if url := response.data.get("outputPresignedUrl"):
        run = replace(run, output=(yield _Download(url)))
    return run


def _poll_flow(run_id: str, interval: float, timeout: float | None) -> _Flow[Run]:
    started = time.monotonic()
    while True:
        run = yield from _retrieve_flow(run_id)
        if run.is_completed:
            return run

        pause = interval
        if timeout is not None:
            remaining = started + timeout - time.monotonic()
            if remaining <= 0:
                raise PollTimeoutError(run_id, timeout)
            pause = min(interval, remaining)
        yield _Sleep(pause)


def _list_page_flow(query: Mapping[str, str], after: str | None) -> _Flow[RunPage]:
    params = dict(query) if after is None else {**query, "page[after]": after}
    response: ApiResponse = yield ApiRequest("GET", "/api/v1/runs", params=params)

    pagination = response.data.get("pagination", {})
    return RunPage(
        runs=[Run.from_wire(item) for item in response.data["data"]],
        next_cursor=pagination.get("next"),
        previous_cursor=pagination.get("previous"),
    )


def _iterate_runs(query: Mapping[str, str]) -> Iterator[Run]:
    after = None
    while True:
        page = _run(_list_page_flow(query, after))
        yield from page.runs
        if page.next_cursor is None:
            return
        after = page.next_cursor


async def _iterate_runs_async(query: Mapping[str, str]) -> AsyncIterator[Run]:
    after = None
    while True:
        page = await _run_async(_list_page_flow(query, after))
        for run in page.runs:
            yield run
        if page.next_cursor is None:
            return
        after = page.next_cursor


def _list_query(filters: Mapping[str, Any]) -> dict[str, str]:
    """Turn ``RunFilters`` into the query parameters of the list endpoint."""
    unknown = set(filters) - set(RunFilters.__optional_keys__)
    if unknown:
        raise TypeError(f"Unknown run filter: {', '.join(sorted(unknown))}")

    is_test = filters.get("is_test")
    params = {
        "page[size]": str(filters.get("page_size", DEFAULT_PAGE_SIZE)),
        "filter[status]": _comma_joined(filters.get("status")),
        "filter[taskIdentifier]": _comma_joined(filters.get("task")),
        "filter[tag]": _comma_joined(filters.get("tag")),
        "filter[batch]": filters.get("batch"),
        "filter[queue]": filters.get("queue"),
        "filter[schedule]": filters.get("schedule"),
        "filter[isTest]": None if is_test is None else str(is_test).lower(),
        "filter[createdAt][from]": _epoch_ms(filters.get("created_from")),
        "filter[createdAt][to]": _epoch_ms(filters.get("created_to")),
        "filter[createdAt][period]": _wire_duration(filters.get("period")),
    }
    return {name: value for name, value in params.items() if value is not None}


def _cancel_flow(run_id: str) -> _Flow[str]:
    response: ApiResponse = yield ApiRequest(
        "POST", f"/api/v2/runs/{_segment(run_id)}/cancel"
    )
    return str(response.data["id"])


def _replay_flow(run_id: str, overrides: Mapping[str, Any]) -> _Flow[str]:
    body = None
    if overrides:
        options = {
            name: value for name, value in overrides.items() if name != "payload"
        }
        body = _wire_options(options)
        if "payload" in overrides:
            body["payload"], packet_options = yield from _offload_flow(overrides["payload"])
            body["payloadType"] = packet_options["payloadType"]

    path = f"/api/v1/runs/{_segment(run_id)}/replay"
    response: ApiResponse = yield ApiRequest("POST", path, json=body)
    return str(response.data["id"])


def _reschedule_flow(run_id: str, delay: str | datetime | timedelta) -> _Flow[Run]:
    body = {"delay": _wire_delay(delay)}
    path = f"/api/v1/runs/{_segment(run_id)}/reschedule"
    return (yield from _run_object_flow(ApiRequest("POST", path, json=body)))


def _batch_flow(batch_id: str) -> _Flow[Batch]:
    path = f"/api/v2/batches/{_segment(batch_id)}"
    response: ApiResponse = yield ApiRequest("GET", path)
    return Batch.from_wire(response.data)


def _reset_flow(task_id: str, key: str | Sequence[str], scope: Scope) -> _Flow[str]:
    hashed = _hashed_key(key, scope)
    path = f"/api/v1/idempotencyKeys/{_segment(hashed)}/reset"
    response: ApiResponse = yield ApiRequest(
        "POST", path, json={"taskIdentifier": task_id}
    )
    return str(response.data["id"])


def _create_key(key: str | Sequence[str], scope: Scope) -> IdempotencyKey:
    if scope not in _SCOPES:
        raise ValueError(f"Scope must be one of {', '.join(_SCOPES)}; got {scope!r}")

    context = _current_run_context() if _current_run_context is not None else None
    suffix: list[str] = []
    if context is not None and scope != "global":
        run_id, attempt_number = context
        suffix = [run_id] if scope == "run" else [run_id, str(attempt_number)]

    digest = _sha256("-".join([_joined(key), *suffix]))
    return IdempotencyKey(digest, key=_joined(key), scope=scope)


def _hashed_key(key: str | Sequence[str], scope: Scope) -> str:
    """Keep a key that is already a hash; hash any other."""
    if isinstance(key, str) and _HASHED_KEY.fullmatch(key):
        return key
    return _create_key(key, scope)


def _wire_idempotency_key(key: str | Sequence[str]) -> dict[str, Any]:
    hashed = _hashed_key(key, "run")
    fields: dict[str, Any] = {"idempotencyKey": str(hashed)}
    if isinstance(hashed, IdempotencyKey):
        fields["idempotencyKeyOptions"] = {"key": hashed.key, "scope": hashed.scope}
    return fields


_OPTION_FIELDS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "delay": lambda value: {"delay": _wire_delay(value)},
    "ttl": lambda value: {"ttl": _wire_ttl(value)},
    "idempotency_key": _wire_idempotency_key,
    "idempotency_key_ttl": lambda value: {"idempotencyKeyTTL": _wire_duration(value)},
    "queue": lambda value: {"queue": _wire_queue(value)},
    "concurrency_key": lambda value: {"concurrencyKey": value},
    "tags": lambda value: {"tags": value if isinstance(value, str) else list(value)},
    "metadata": lambda value: {"metadata": value},
    "max_attempts": lambda value: {"maxAttempts": value},
    "max_duration": lambda value: {"maxDuration": value},
    "priority": lambda value: {"priority": value},
    "machine": lambda value: {"machine": value},
}


def _wire_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Translate ``TriggerOptions`` into the option fields of the wire."""
    unknown = set(options) - set(_OPTION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown trigger option: {', '.join(sorted(unknown))}")

    wire: dict[str, Any] = {}
    for name, value in options.items():
        if value is not None:
            wire.update(_OPTION_FIELDS[name](value))
    return wire


def _wire_queue(queue: Any) -> dict[str, Any]:
    """A queue name, or a ``Queue`` whose limit overrides the queue's own."""
    if isinstance(queue, str):
        return {"name": queue}
    wire: dict[str, Any] = {"name": queue.name}
    if queue.concurrency_limit is not None:
        wire["concurrencyLimit"] = queue.concurrency_limit
    return wire


def _wire_delay(delay: str | datetime | timedelta) -> str:
    if isinstance(delay, datetime):
        moment = delay.astimezone(UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(delay, timedelta):
        return f"{_whole_seconds(delay)}s"
    return delay


def _wire_ttl(ttl: str | int | timedelta) -> str | int:
    return _whole_seconds(ttl) if isinstance(ttl, timedelta) else ttl


def _wire_duration(duration: str | timedelta | None) -> str | None:
    if isinstance(duration, timedelta):
        return f"{_whole_seconds(duration)}s"
    return duration


def _whole_seconds(duration: timedelta) -> int:
    if duration < timedelta(0):
        raise ValueError(f"A duration cannot be negative; got {duration}")
    return math.ceil(duration.total_seconds())


def _epoch_ms(moment: datetime | str | None) -> str | None:
    if isinstance(moment, datetime):
        return str(int(moment.timestamp() * 1000))
    return moment


def _comma_joined(values: str | Sequence[str] | None) -> str | None:
    if values is None or isinstance(values, str):
        return values
    return ",".join(str(value) for value in values)


def _joined(key: str | Sequence[str]) -> str:
    return key if isinstance(key, str) else "-".join(str(part) for part in key)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _segment(value: str) -> str:
    return quote(value, safe="")


def _run_id(run: RunRef) -> str:
    return run if isinstance(run, str) else run.id
