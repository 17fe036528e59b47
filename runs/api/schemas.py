"""Request bodies of the API, validated by pydantic; undeclared keys are ignored."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints

Tag = Annotated[str, StringConstraints(max_length=128)]


def one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


# A tag or a list of them, read as a list so that a bad tag gets one clear error
# ("tags.0: String should have at most 128 characters") instead of one per union arm.
Tags = Annotated[list[Tag], BeforeValidator(one_or_many)]


class QueueOption(Schema):
    name: str = Field(min_length=1, max_length=128)
    concurrencyLimit: int | None = Field(None, ge=0, le=100_000)


class TriggerOptions(Schema):
    model_config = ConfigDict(extra="allow")

    payloadType: str | None = None
    payloadSize: int | None = None
    queue: QueueOption | None = None
    concurrencyKey: str | int | float | None = None
    delay: str | None = None
    ttl: str | int | float | None = None
    idempotencyKey: str | None = Field(None, max_length=2048)
    idempotencyKeyTTL: str | None = None
    idempotencyKeyOptions: dict[str, Any] | None = None
    tags: Tags | None = None
    metadata: dict[str, Any] | None = None
    metadataType: str | None = None
    maxAttempts: int | None = Field(None, ge=1, le=1000)
    maxDuration: float | None = None
    priority: float | None = None
    test: bool | None = None
    # Features outside the brief: accepted whatever their shape and kept for display.
    # They are declared because ninja's Schema drops undeclared keys, extra="allow" or not.
    machine: Any = None
    region: Any = None
    lockToVersion: Any = None
    concurrency: Any = None
    gates: Any = None
    debounce: Any = None


class TriggerBody(Schema):
    payload: Any = None
    context: Any = None
    options: TriggerOptions | None = None


class CreateBatchBody(Schema):
    runCount: int = Field(ge=1)
    taskIdentifiers: list[str] | None = None
    parentRunId: str | None = None
    resumeParentOnCompletion: bool | None = None
    idempotencyKey: str | None = Field(None, max_length=2048)
    idempotencyKeyOptions: dict[str, Any] | None = None


class BatchItemLine(Schema):
    index: int = Field(ge=0)
    task: str = Field(min_length=1, max_length=128)
    payload: Any = None
    options: TriggerOptions | None = None


class LegacyBatchItem(Schema):
    task: str = Field(min_length=1, max_length=128)
    payload: Any = None
    options: TriggerOptions | None = None


class LegacyBatchBody(Schema):
    items: list[LegacyBatchItem]
    parentRunId: str | None = None
    resumeParentOnCompletion: bool | None = None


class ReplayBody(Schema):
    model_config = ConfigDict(extra="allow")

    payload: Any = None
    payloadType: str | None = None
    metadata: dict[str, Any] | None = None
    tags: Tags | None = None
    queue: str | None = None
    concurrencyKey: str | None = None
    delay: str | None = None
    ttl: str | int | None = None
    maxAttempts: int | None = Field(None, ge=1, le=1000)
    maxDuration: float | None = None
    priority: float | None = None
    idempotencyKey: str | None = Field(None, max_length=2048)
    idempotencyKeyTTL: str | None = None
    machine: Any = None
    region: Any = None
    version: Any = None


class RescheduleBody(Schema):
    delay: str


class TagsBody(Schema):
    tags: Tags


class ResetKeyBody(Schema):
    taskIdentifier: str = Field(min_length=1)


class TriggerResponse(Schema):
    id: str
    isCached: bool


class IdResponse(Schema):
    id: str


class ErrorResponse(Schema):
    error: str
