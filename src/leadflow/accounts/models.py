"""Users (e-mail login, global admin flag), project memberships with grants, API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra["is_admin"] = True
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser):
    """A person who logs in with an e-mail. `is_admin` grants everything, everywhere."""

    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_admin = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def label(self) -> str:
        return self.name or self.email

    # Django's auth framework and templates ask these; the admin flag answers them.
    @property
    def is_staff(self) -> bool:
        return self.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_admin

    def memberships_by_project(self) -> dict[int, Membership]:
        """This user's memberships keyed by project id, read once per user object."""
        cache = getattr(self, "_membership_cache", None)
        if cache is None:
            cache = {m.project_id: m for m in self.memberships.all()}
            self._membership_cache = cache
        return cache


class Role(models.TextChoices):
    MANAGER = "manager", "Manager"
    AGENT = "agent", "Agent"


class Grant(models.TextChoices):
    CREATE_LEAD = "create_lead", "Create leads"
    MANAGE_LEADS = "manage_leads", "Manage leads"
    VIEW_ALL_LEADS = "view_all_leads", "View all leads"


ROLE_DEFAULT_GRANTS = {
    Role.MANAGER: {Grant.CREATE_LEAD, Grant.MANAGE_LEADS, Grant.VIEW_ALL_LEADS},
    Role.AGENT: {Grant.CREATE_LEAD},
}


class Membership(models.Model):
    """A user's role in one project, with the grants that role carries (adjustable per member)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    create_lead = models.BooleanField(default=True)
    manage_leads = models.BooleanField(default=False)
    view_all_leads = models.BooleanField(default=False)
    # Away members are skipped by automatic routing (and say so on the lead's timeline).
    away = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_user_project")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.project_id}:{self.role}"

    def has(self, grant: str) -> bool:
        return bool(getattr(self, str(grant)))


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret() -> str:
    """32 random bytes, URL-safe: shown once, stored only as SHA-256."""
    return secrets.token_urlsafe(32)


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; lookups go through the unique index."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


class Notification(models.Model):
    """An in-app message to one user, written in the same transaction as the change it tells
    of (an outbox row): nothing is lost if a process dies, and the user reads it in the app."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=40)
    message = models.CharField(max_length=500)
    lead_id = models.BigIntegerField(null=True, blank=True)
    offer_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "created_at", "id"], name="notification_user"),
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True),
                         name="notification_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user_id}"


class ThrottleHit(models.Model):
    """One counted attempt of a throttle key (a failed sign-in of an account or from an
    address, a wrong API credential from an address, a web form post): a sliding log, read
    over the key's window through the (key, at) index. Kept in the database so that every web
    process and host shares it; the sweep forgets rows older than any window."""

    key = models.CharField(max_length=320)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["key", "at"], name="throttlehit_key_at")]

    def __str__(self) -> str:
        return f"{self.key}@{self.at}"
