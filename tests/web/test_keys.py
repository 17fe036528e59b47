"""API keys: a new key is shown once; revoke; regenerate with an overlap window."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apikeys.models import ApiKey, create_api_key
from tests.web.helpers import page, text


def api_status(client, raw_key: str) -> int:
    return client.get(
        "/api/v1/runs", HTTP_AUTHORIZATION=f"Bearer {raw_key}"
    ).status_code


def raw_key_of(response) -> str:
    return response.context["new_key"][1]


def test_a_generated_key_is_shown_once_with_its_export_line(as_owner, dev):
    response = as_owner.post(page("key-create", dev), {"name": "billing backend"})
    raw = raw_key_of(response)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert raw.startswith("tr_dev_")
    assert f'value="{raw}"' in text(response)
    assert f"export TRIGGER_SECRET_KEY={raw}" in text(response)
    assert 'data-copy-from="#new-key-value"' in text(response)

    again = as_owner.get(page("keys", dev))
    assert raw not in text(again)
    assert "billing backend" in text(again)
    assert raw[-4:] in text(again)  # the masked key keeps its last four characters


def test_only_a_hash_of_the_key_is_stored(as_owner, dev):
    raw = raw_key_of(as_owner.post(page("key-create", dev), {"name": "ci"}))

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM apikeys_apikey")
        stored = repr(cursor.fetchall())

    assert raw not in stored
    assert raw[7:] not in stored


def test_the_generated_key_works_against_the_api(as_owner, client, dev):
    raw = raw_key_of(as_owner.post(page("key-create", dev), {"name": "ci"}))

    assert api_status(client, raw) == 200
    assert ApiKey.objects.get(name="ci").last_used_at is not None


@pytest.mark.parametrize("name", ["", "x" * 101], ids=["empty", "too-long"])
def test_a_key_needs_a_sensible_name(as_owner, dev, name):
    before = ApiKey.objects.count()

    response = as_owner.post(page("key-create", dev), {"name": name})

    assert response.status_code == 400
    assert "Give the key a name of 1 to 100 characters" in text(response)
    assert ApiKey.objects.count() == before


def test_revoke_stops_a_key_at_once(as_owner, client, dev):
    key, raw = create_api_key(dev, "old backend")

    response = as_owner.post(page("key-revoke", dev, key.pk), follow=True)

    assert api_status(client, raw) == 401
    assert "Revoked “old backend”" in text(response)
    assert "Revoked</span>" in text(response)


def test_regenerate_keeps_the_old_key_working_for_the_overlap(as_owner, client, dev):
    key, old_raw = create_api_key(dev, "backend")

    response = as_owner.post(page("key-regenerate", dev, key.pk), {"overlap": "3600"})
    new_raw = raw_key_of(response)

    key.refresh_from_db()
    assert new_raw != old_raw
    assert ApiKey.objects.filter(name="backend").count() == 2
    assert timedelta(minutes=59) < key.expires_at - timezone.now() <= timedelta(hours=1)
    assert api_status(client, old_raw) == 200
    assert api_status(client, new_raw) == 200
    assert f"export TRIGGER_SECRET_KEY={new_raw}" in text(response)


def test_regenerate_without_overlap_stops_the_old_key_now(as_owner, client, dev):
    key, old_raw = create_api_key(dev, "backend")

    as_owner.post(page("key-regenerate", dev, key.pk), {"overlap": "0"})

    assert api_status(client, old_raw) == 401


def test_regenerate_with_an_unoffered_overlap_changes_nothing(as_owner, dev):
    key, _ = create_api_key(dev, "backend")
    before = ApiKey.objects.count()

    response = as_owner.post(page("key-regenerate", dev, key.pk), {"overlap": "99"})

    assert response.status_code == 400
    assert "Choose how long the old key keeps working" in text(response)
    assert ApiKey.objects.count() == before
    key.refresh_from_db()
    assert key.expires_at is None


def test_keys_of_other_environments_are_not_listed(as_owner, dev, prod):
    create_api_key(prod, "production only")

    assert "production only" not in text(as_owner.get(page("keys", dev)))
