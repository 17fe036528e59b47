"""The one authentication guard of the JSON API: a secret key names an environment.

Each process remembers the keys it found for TRIGGERKIT_AUTH_CACHE_SECONDS, which
spares a query per request. revoke_api_key forgets them in the process that
revokes; any other process may accept a revoked key for at most that long.
"""

from __future__ import annotations

import hmac
import re
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apikeys.memo import Memo
from apikeys.models import ApiKey, hash_key

KEY_PATTERN = re.compile(r"^tr_(dev|stg|prod|preview)_(sk_)?[0-9A-Za-z]{24}$")
# last_used_at is a hint for humans: refresh it at most this often per key.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# Keys found, by their hash.
_found_keys: Memo[ApiKey] = Memo()


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
    key = _found_keys.get(digest) or find_key(digest)
    if (
        key is None
        or not key.is_active  # a remembered key may have expired since
        or not hmac.compare_digest(key.key_hash, digest)
    ):
        raise AuthenticationFailed("Invalid API Key")

    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def find_key(digest: str) -> ApiKey | None:
    """Look an active key up by its hash and remember it; misses are not remembered."""
    key = (
        ApiKey.objects.active()
        .select_related("environment__project")
        .filter(key_hash=digest)
        .first()
    )
    if key is not None:
        _found_keys.remember(digest, key, settings.TRIGGERKIT_AUTH_CACHE_SECONDS)
    return key


def forget_keys() -> None:
    """Drop every key this process remembers, so a revocation holds at once here."""
    _found_keys.clear()
