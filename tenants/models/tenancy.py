from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from tenants.models.base import TenantOwnedModel


def normalize_origin(value: str) -> str:
    """Return `value` as a browser origin (`https://app.example.com:8443`) or raise ValueError.

    The first label may be a wildcard (`https://*.preview.example.com`, see `origin_matches`).
    """
    parts = urlsplit(value.strip().rstrip("/").lower())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise ValueError(f"{value!r} is not an origin like https://app.example.com")
    host = parts.hostname
    if "*" in host and not (host.startswith("*.") and "*" not in host[2:] and "." in host[2:]):
        raise ValueError(f"{value!r}: a wildcard stands only for the first label (https://*.a.com)")
    return f"{parts.scheme}://{parts.netloc}"


def origin_matches(origin: str, pattern: str) -> bool:
    """Return whether the browser `origin` is the allowed origin `pattern`.

    A pattern is an exact origin (`https://app.example.com`) or has a wildcard first label
    (`https://*.preview.example.com`), which stands for exactly one label, as in a TLS
    certificate: it matches `https://pr-7.preview.example.com`, neither the bare
    `https://preview.example.com` nor `https://a.b.preview.example.com`. Scheme and port
    must be the same.
    """
    origin = origin.rstrip("/").lower()
    if "*" not in pattern:
        return origin == pattern
    scheme, _, rest = pattern.partition("://*.")
    prefix = f"{scheme}://"
    if not rest or not origin.startswith(prefix) or not origin.endswith("." + rest):
        return False
    label = origin[len(prefix) : -len(rest) - 1]
    return bool(label) and "." not in label and ":" not in label


class Tenant(models.Model):
    """An organisation: the unit of isolation. Not tenant-owned itself."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    # Browser origins ("https://app.example.com") allowed to call the ChatKit endpoints.
    allowed_origins = models.JSONField(default=list, blank=True)
    # None means no limit.
    monthly_token_quota = models.PositiveBigIntegerField(null=True, blank=True)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    # Threads with no activity for this many days are deleted (hosted_agents.retention);
    # None keeps them forever. An agent's own policy applies instead when it is shorter.
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    # Set by `tenant_deletion_schedule`: the tenant is suspended meanwhile and purged, with
    # everything it owns, once this time has passed; `tenant_deletion_cancel` clears it.
    deletion_due_at = models.DateTimeField(null=True, blank=True)
    # The status to go back to when the deletion is cancelled.
    # db_default: a running older release inserts rows without this column.
    status_before_deletion = models.CharField(max_length=20, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended"]), name="tenant_status_valid"
            )
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def origin_allowed(self, origin: str) -> bool:
        return any(origin_matches(origin, pattern) for pattern in self.allowed_origins)


class Membership(TenantOwnedModel):
    """A user's role in a tenant; a user may belong to several tenants."""

    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        VIEWER = "viewer"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "admin", "viewer"]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.role} of {self.tenant_id}"

    @property
    def can_manage(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)
