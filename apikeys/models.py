"""Projects, their environments, and the secret keys that authenticate the API."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_ALPHABET = string.ascii_letters + string.digits
KEY_BODY_LENGTH = 24


class EnvironmentKind(models.TextChoices):
    DEVELOPMENT = "DEVELOPMENT"
    STAGING = "STAGING"
    PRODUCTION = "PRODUCTION"


# Key prefix and short slug for each kind, as the wire format spells them.
KEY_PREFIXES = {
    EnvironmentKind.DEVELOPMENT: "tr_dev_",
    EnvironmentKind.STAGING: "tr_stg_",
    EnvironmentKind.PRODUCTION: "tr_prod_",
}
ENV_SLUGS = {
    EnvironmentKind.DEVELOPMENT: "dev",
    EnvironmentKind.STAGING: "stg",
    EnvironmentKind.PRODUCTION: "prod",
}


class Project(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="projects")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Environment(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="environments"
    )
    kind = models.CharField(max_length=16, choices=EnvironmentKind.choices)
    concurrency_limit = models.PositiveIntegerField(
        default=settings.TRIGGERKIT_DEFAULT_ENV_CONCURRENCY_LIMIT
    )
    # Signs the public access tokens returned on trigger (x-trigger-jwt).
    jwt_secret = models.CharField(max_length=64, default=secrets.token_hex, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "kind"], name="one_env_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.slug}"

    @property
    def slug(self) -> str:
        return ENV_SLUGS[EnvironmentKind(self.kind)]

    @property
    def public_id(self) -> str:
        return f"env_{self.pk}"


def hash_key(raw_key: str) -> str:
    """Return the keyed hash under which a secret key is stored."""
    pepper = settings.API_KEY_PEPPER.encode()
    return hmac.new(pepper, raw_key.encode(), hashlib.sha256).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> ApiKeyQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, default="default")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    last_four = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when a key is regenerated: the old key keeps working until then.
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.prefix}…{self.last_four} ({self.name})"

    @property
    def masked(self) -> str:
        return f"{self.prefix}{'•' * 8}{self.last_four}"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


def create_api_key(environment: Environment, name: str = "default") -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored."""
    prefix = KEY_PREFIXES[EnvironmentKind(environment.kind)]
    body = "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_BODY_LENGTH))
    raw_key = prefix + body
    key = ApiKey.objects.create(
        environment=environment,
        name=name,
        key_hash=hash_key(raw_key),
        prefix=prefix,
        last_four=body[-4:],
    )
    return key, raw_key


def revoke_api_key(key: ApiKey) -> None:
    """Revoke a key; this process stops accepting it at once, others within seconds."""
    from apikeys.auth import forget_keys  # auth imports this module

    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    forget_keys()


def create_project(name: str, slug: str) -> Project:
    project = Project.objects.create(name=name, slug=slug)
    Environment.objects.bulk_create(
        Environment(project=project, kind=kind) for kind in EnvironmentKind
    )
    return project
