"""The trigger form of the test page and the replay page, read into a TriggerSpec.

The form's fields are turned into the API's TriggerOptions and handed to the
API's own `build_spec`, so a run started here gets exactly the options the
same values would give it over HTTP. What cannot be read is reported per
field, in words, and nothing is triggered.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from django.http import QueryDict
from django.utils import timezone
from pydantic import ValidationError

from runs import packets
from runs.api.options import build_spec
from runs.api.schemas import TriggerOptions
from runs.durations import resolve_delay, ttl_seconds
from runs.engine import EngineError, TriggerSpec
from runs.models import Run

KEY_TTL_PATTERN = re.compile(r"^\d+[smhd]$")
MAX_TAGS = 10
# Pydantic names the option; the form names the field.
OPTION_FIELDS = {
    "tags": "tags",
    "metadata": "metadata",
    "maxAttempts": "max_attempts",
    "maxDuration": "max_duration",
    "idempotencyKey": "idempotency_key",
    "queue": "queue",
    "concurrencyKey": "concurrency_key",
    "ttl": "ttl",
    "priority": "priority",
}


@dataclass
class TriggerForm:
    payload: str = "{}"
    metadata: str = ""
    tags: str = ""
    delay: str = ""
    ttl: str = ""
    idempotency_key: str = ""
    idempotency_key_ttl: str = ""
    queue: str = ""
    concurrency_key: str = ""
    max_attempts: str = ""
    max_duration: str = ""
    priority: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_post(cls, data: QueryDict) -> TriggerForm:
        names = [f.name for f in fields(cls) if f.name != "errors"]
        return cls(**{name: data.get(name, "").strip() for name in names})

    @classmethod
    def from_run(cls, run: Run) -> TriggerForm:
        """The form filled in with a run's payload and options, for a replay.

        A payload kept in the object store is not shown: left empty, the
        replay reuses it as it is.
        """
        inline = bool(run.payload) and run.payload_type != packets.STORE
        payload = packets.decode(run.payload, run.payload_type) if inline else None
        metadata = run.metadata
        return cls(
            payload=json.dumps(payload, indent=2, ensure_ascii=False) if inline else "",
            metadata=json.dumps(metadata, indent=2, ensure_ascii=False)
            if metadata
            else "",
            tags=", ".join(run.tags),
            queue=run.queue.name,
            concurrency_key=run.concurrency_key,
            max_attempts=str(run.max_attempts or ""),
            max_duration=str(run.max_duration_seconds or ""),
            priority=str(run.priority_seconds or ""),
        )

    def spec(self, *, test: bool = False) -> TriggerSpec | None:
        """The spec these values ask for, or None with `errors` filled in."""
        payload, present = self.read_json("payload", allow_any=True)
        metadata, _ = self.read_json("metadata", allow_any=False)
        self.check_times()
        options = self.options(metadata, test)
        if self.errors or options is None:
            return None
        try:
            return build_spec(payload, present, options)
        except EngineError as exc:
            self.errors["form"] = str(exc)
            return None

    def read_json(self, name: str, *, allow_any: bool) -> tuple[Any, bool]:
        raw = getattr(self, name)
        if not raw:
            return None, False
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            self.errors[name] = (
                f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            )
            return None, False
        if not allow_any and not isinstance(value, dict):
            self.errors[name] = 'Metadata must be a JSON object, like {"plan": "pro"}.'
            return None, False
        return value, True

    def check_times(self) -> None:
        if self.delay:
            try:
                due = resolve_delay(self.delay, timezone.now())
            except ValueError:
                due = None
                self.errors["delay"] = (
                    "Write a duration such as 30s, 10m or 2h, or a date such as "
                    "2030-01-31T09:00:00Z."
                )
            if due is None and "delay" not in self.errors:
                self.errors["delay"] = (
                    "That moment has passed; leave the delay empty to start now."
                )
        if self.ttl:
            try:
                ttl_seconds(int(self.ttl) if self.ttl.isdigit() else self.ttl)
            except ValueError:
                self.errors["ttl"] = (
                    "Write a duration such as 10m or 1h, or a number of seconds."
                )
        if self.idempotency_key_ttl and not KEY_TTL_PATTERN.match(
            self.idempotency_key_ttl
        ):
            self.errors["idempotency_key_ttl"] = (
                "Write a number and a unit: 30s, 10m, 1h or 7d."
            )

    def options(self, metadata: Any, test: bool) -> TriggerOptions | None:
        tags = [tag.strip() for tag in self.tags.split(",") if tag.strip()]
        if len(tags) > MAX_TAGS:
            self.errors["tags"] = (
                f"A run can have at most {MAX_TAGS} tags; this has {len(tags)}."
            )
        raw: dict[str, Any] = {
            "tags": tags or None,
            "metadata": metadata,
            "delay": self.delay or None,
            "ttl": int(self.ttl) if self.ttl.isdigit() else (self.ttl or None),
            "idempotencyKey": self.idempotency_key or None,
            "idempotencyKeyTTL": self.idempotency_key_ttl or None,
            "queue": {"name": self.queue} if self.queue else None,
            "concurrencyKey": self.concurrency_key or None,
            "maxAttempts": self.whole_number("max_attempts"),
            "maxDuration": self.whole_number("max_duration"),
            "priority": self.whole_number("priority"),
            "test": test or None,
        }
        try:
            return TriggerOptions(
                **{name: value for name, value in raw.items() if value is not None}
            )
        except ValidationError as exc:
            for error in exc.errors():
                location = error.get("loc", ("form",))
                name = OPTION_FIELDS.get(str(location[0]), "form")
                self.errors.setdefault(name, describe(error))
            return None

    def whole_number(self, name: str) -> int | None:
        raw = getattr(self, name)
        if not raw:
            return None
        if not raw.isdigit():
            self.errors[name] = "Write a whole number."
            return None
        return int(raw)


def describe(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is not valid"))
    return message[0].upper() + message[1:] + "."
