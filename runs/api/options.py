"""From wire options to a TriggerSpec: the rules of API.md §2.1 and §4."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from runs import packets, storage
from runs.api.schemas import TriggerOptions
from runs.durations import resolve_delay, ttl_seconds
from runs.engine import (
    InvalidRequestError,
    PayloadTooLargeError,
    TriggerSpec,
    check_metadata_size,
    check_tags,
)

KEY_TTL_PATTERN = re.compile(r"^(\d+)([smhd])$")
KEY_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_BOUNDS = (5, 2**31 - 1)
# Options we accept and keep for display, without acting on them.
EXTRA_OPTION_NAMES = ("machine", "region", "lockToVersion", "concurrency", "gates", "debounce")


def encode_payload(payload: Any, present: bool, payload_type: str | None) -> tuple[str | None, str]:
    """Return the stored form of a payload and its type, enforcing the size limit.

    An application/store payload names an object the SDK uploaded; it is checked
    and kept as the record of that object.
    """
    payload_type = payload_type or packets.JSON
    if payload_type == packets.STORE:
        return storage.attach_upload(payload).to_column(), packets.STORE
    if payload_type == packets.JSON:
        data = packets.encode_json(payload) if present else None
    elif isinstance(payload, str):
        data = payload
    else:
        data = None

    limit = settings.TRIGGERKIT_PAYLOAD_MAX_BYTES
    if data is not None and len(data.encode()) > limit:
        raise PayloadTooLargeError(
            f"Payload is too large: {len(data.encode())} bytes, the limit is {limit}"
        )
    if data is not None and payload_type == packets.SUPERJSON:
        try:
            packets.decode(data, payload_type)
        except packets.PacketError as exc:
            raise InvalidRequestError(str(exc)) from exc
    return data, payload_type


def normalise_tags(tags: str | list[str] | None) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    return [tag.strip() for tag in tags if tag.strip()]


def parse_ttl(value: str | int | float | None) -> int | None:
    if value is None:
        return None
    try:
        return ttl_seconds(value)
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from exc


def build_spec(
    payload: Any,
    payload_present: bool,
    options: TriggerOptions | None,
    *,
    offload: bool = True,
) -> TriggerSpec:
    """Read a trigger's payload and options; store a payload above the threshold.

    With offload=False a large payload stays inline in the spec, for callers that
    check more (a batch's total size) before storing anything.
    """
    options = options or TriggerOptions()
    now = timezone.now()
    data, payload_type = encode_payload(payload, payload_present, options.payloadType)
    check_metadata_size(options.metadata)
    tags = normalise_tags(options.tags)
    # The engine checks tags too; checking here first means a refusal uploads nothing.
    check_tags(tags)
    if offload:
        data, payload_type = storage.offload_if_large(data, payload_type, "payload")

    spec = TriggerSpec(
        payload=data,
        payload_type=payload_type,
        tags=tags,
        metadata=options.metadata,
        ttl_seconds=parse_ttl(options.ttl),
        max_attempts=options.maxAttempts,
        priority_seconds=int(options.priority or 0),
        is_test=bool(options.test),
        idempotency_key=options.idempotencyKey or None,
        idempotency_key_options=options.idempotencyKeyOptions,
    )
    if options.queue is not None:
        spec.queue_name = options.queue.name
        spec.queue_concurrency_limit = options.queue.concurrencyLimit
    if options.concurrencyKey is not None:
        spec.concurrency_key = str(options.concurrencyKey)
    if options.delay:
        try:
            spec.delay_until = resolve_delay(options.delay, now)
        except ValueError:
            spec.delay_until = None  # An unreadable delay on trigger means no delay.
    if options.maxDuration is not None:
        low, high = MAX_DURATION_BOUNDS
        spec.max_duration_seconds = int(min(max(options.maxDuration, low), high))
    if spec.idempotency_key and options.idempotencyKeyTTL:
        match = KEY_TTL_PATTERN.match(options.idempotencyKeyTTL)
        if match:
            seconds = int(match[1]) * KEY_TTL_UNITS[match[2]]
            spec.idempotency_key_expires_at = now + timedelta(seconds=seconds)

    spec.extra_options = {
        name: getattr(options, name)
        for name in EXTRA_OPTION_NAMES
        if getattr(options, name) is not None
    }
    return spec
