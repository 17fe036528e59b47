"""The one authentication guard of the JSON API: a secret key names an environment."""

from __future__ import annotations

import hmac
import re
from datetime import timedelta

from django.utils import timezone

from apikeys.models import ApiKey, hash_key

KEY_PATTERN = re.compile(r"^tr_(dev|stg|prod|preview)_(sk_)?[0-9A-Za-z]{24}$")
# last_used_at is a hint for humans: refresh it at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AuthenticationFailed(Exception):
    """The request carries no usable secret key."""


def parse_bearer(header: str | None) -> str:
    if not header:
        raise AuthenticationFailed("Invalid or Missing API key")
    token = header.removeprefix("Bearer ").strip()
    if not KEY_PATTERN.match(token):
        raise AuthenticationFailed("Invalid API key format")
    return token


def authenticate_key(raw_key: str) -> ApiKey:
    """Return an active key (with its environment), or raise AuthenticationFailed."""
    digest = hash_key(raw_key)
    key = (
        ApiKey.objects.active()
        .select_related("environment__project")
        .filter(key_hash=digest)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        raise AuthenticationFailed("Invalid API Key")

    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
