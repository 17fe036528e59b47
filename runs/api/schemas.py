"""Request bodies of the API, validated by pydantic; unknown options are kept."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Schema
from pydantic import ConfigDict, Field, StringConstraints

Tag = Annotated[str, StringConstraints(max_length=128)]


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
    tags: Tag | list[Tag] | None = None
    metadata: dict[str, Any] | None = None
    metadataType: str | None = None
    maxAttempts: int | None = Field(None, ge=1, le=1000)
    maxDuration: float | None = None
    priority: float | None = None
    test: bool | None = None


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
    tags: Tag | list[Tag] | None = None
    queue: str | None = None
    concurrencyKey: str | None = None
    delay: str | None = None
    ttl: str | int | None = None
    maxAttempts: int | None = Field(None, ge=1, le=1000)
    maxDuration: float | None = None
    priority: float | None = None


class RescheduleBody(Schema):
    delay: str


class TagsBody(Schema):
    tags: Tag | list[Tag]


class ResetKeyBody(Schema):
    taskIdentifier: str = Field(min_length=1)


class TriggerResponse(Schema):
    id: str
    isCached: bool


class IdResponse(Schema):
    id: str


class ErrorResponse(Schema):
    error: str
