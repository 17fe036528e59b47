"""Payloads and outputs as stored: a serialised string plus its content type."""

from __future__ import annotations

import json
from typing import Any

JSON = "application/json"
SUPERJSON = "application/super+json"
TEXT = "text/plain"
STORE = "application/store"


class PacketError(ValueError):
    """A payload that cannot be read in the type it claims."""


def encode_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def decode(data: str | None, data_type: str) -> Any:
    """Return the plain JSON value of a stored packet, as the API shows it."""
    if data is None:
        return None
    if data_type == TEXT:
        return data
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise PacketError(f"payload is not valid {data_type}") from exc
    if data_type == SUPERJSON:
        if not isinstance(value, dict) or "json" not in value:
            raise PacketError("SuperJSON payload has no 'json' part")
        return value["json"]
    return value
