"""Secret keys on the dashboard: generate, revoke, and regenerate with an overlap."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apikeys.models import ApiKey, create_api_key, revoke_api_key

# How long a regenerated key's predecessor keeps working, offered on the page.
OVERLAP_CHOICES = [
    (0, "Stop the old key now"),
    (3600, "Keep the old key for 1 hour"),
    (86400, "Keep the old key for 24 hours"),
    (7 * 86400, "Keep the old key for 7 days"),
]
OVERLAP_SECONDS = {seconds for seconds, _ in OVERLAP_CHOICES}
NAME_MAX_CHARS = 100


def regenerate_api_key(key: ApiKey, overlap: timedelta) -> tuple[ApiKey, str]:
    """Create a key to replace `key`, which keeps working for `overlap`."""
    with transaction.atomic():
        new_key, raw_key = create_api_key(key.environment, key.name)
        if overlap:
            ends = timezone.now() + overlap
            # A key already due to expire sooner keeps its earlier end.
            ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=ends)
            ).update(expires_at=ends)
        else:
            revoke_api_key(key)
    return new_key, raw_key
