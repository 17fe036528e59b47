"""What a trigger asks for, after the API has read and checked the wire options."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runs import packets


@dataclass
class TriggerSpec:
    payload: str | None = None
    payload_type: str = packets.JSON
    queue_name: str | None = None
    queue_concurrency_limit: int | None = None
    concurrency_key: str = ""
    delay_until: datetime | None = None
    # None: the task's or environment's default; 0: no TTL.
    ttl_seconds: int | None = None
    idempotency_key: str | None = None
    idempotency_key_expires_at: datetime | None = None
    idempotency_key_options: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    metadata: Any = None
    max_attempts: int | None = None
    max_duration_seconds: int | None = None
    priority_seconds: int = 0
    is_test: bool = False
    extra_options: dict[str, Any] = field(default_factory=dict)
    # Set for runs triggered from inside another run.
    parent_run_id: str | None = None
    root_run_id: str | None = None
    depth: int = 0
    trigger_function: str = "trigger"
