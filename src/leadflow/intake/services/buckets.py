"""Buckets: create, edit, rotate the key, authenticate a submission's key."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadflow.accounts import access
from leadflow.accounts.models import Membership, hash_token, new_secret
from leadflow.core.actor import Actor
from leadflow.core.cache import config_changed
from leadflow.core.errors import Conflict, ErrorCollector, NotFound
from leadflow.intake.models import Bucket, BucketCreates
from leadflow.intake.services.context import authenticate
from leadflow.projects.models import Pool, Project, Source

FIELDS = ("name", "label", "source", "default_manager", "affiliate_id", "active", "creates")


def _validate(project: Project, values: dict[str, Any], errors: ErrorCollector) -> dict:
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if key not in FIELDS:
            errors.add(key, "unknown_field", f"Unknown field '{key}'.")
        elif key in ("name", "label", "affiliate_id"):
            text = (value or "").strip()
            limit = {"name": 100, "label": 200, "affiliate_id": 100}[key]
            if key == "name" and not text:
                errors.add(key, "required", "Name is required.")
            elif len(text) > limit or "\x00" in text:
                errors.add(key, "too_long" if len(text) > limit else "invalid",
                           f"At most {limit} characters.")
            cleaned[key] = text
        elif key == "source":
            source = Source.objects.filter(pk=value, project=project).first()
            if source is None:
                errors.add("source", "invalid", "That source is not in this project.")
            cleaned["source"] = source
        elif key == "default_manager":
            # The default manager owns the bucket's leads, and an owner is always a member of
            # the lead's pool: intake puts leads in the project's default pool.
            if value is not None and not Membership.objects.filter(
                project=project, user_id=value
            ).exists():
                errors.add("default_manager", "not_member", "That user is not in this project.")
            elif value is not None and not Pool.objects.filter(
                project=project, is_default=True, members=value
            ).exists():
                errors.add("default_manager", "not_in_pool",
                           "The default manager must be in the project's default pool.")
            cleaned["default_manager_id"] = value
        elif key == "active":
            cleaned["active"] = bool(value)
        elif key == "creates":
            if value not in BucketCreates.values:
                errors.add("creates", "invalid", "creates is 'lead' or 'client'.")
            cleaned["creates"] = value
    return cleaned


def create_bucket(project: Project, *, actor: Actor, **values: Any) -> tuple[Bucket, str]:
    """Create a bucket (managers). Returns it with its API key, shown this once; only the
    key's SHA-256 is stored. Errors: PermissionDenied, ValidationFailed, Conflict (name)."""
    access.require_manager(actor, project.pk)
    errors = ErrorCollector()
    values.setdefault("label", values.get("name", ""))
    if "source" not in values:
        errors.add("source", "required", "Choose the source this bucket's leads come from.")
    cleaned = _validate(project, values, errors)
    errors.raise_if_any()
    raw = new_secret()
    try:
        with transaction.atomic():
            bucket = Bucket.objects.create(
                project=project, key_hash=hash_token(raw), key_prefix=raw[:8], **cleaned
            )
    except IntegrityError:
        raise Conflict(f"Bucket '{cleaned['name']}' exists already.", code="exists")
    return bucket, raw


def update_bucket(bucket: Bucket, *, actor: Actor, **values: Any) -> Bucket:
    """Edit a bucket (managers). Processed submissions and their leads keep what they had."""
    access.require_manager(actor, bucket.project_id)
    errors = ErrorCollector()
    cleaned = _validate(bucket.project, values, errors)
    errors.raise_if_any()
    before = {k: getattr(bucket, k) for k in cleaned}
    for key, value in cleaned.items():
        setattr(bucket, key, value)
    bucket.updated_at = timezone.now()
    try:
        with transaction.atomic():
            bucket.save()
        config_changed()
    except IntegrityError:
        for key, value in before.items():
            setattr(bucket, key, value)
        raise Conflict(f"Bucket '{cleaned.get('name')}' exists already.", code="exists")
    return bucket


def rotate_bucket_key(bucket: Bucket, *, actor: Actor) -> str:
    """Replace a bucket's API key (managers); the old key stops working at once."""
    access.require_manager(actor, bucket.project_id)
    raw = new_secret()
    Bucket.objects.filter(pk=bucket.pk).update(
        key_hash=hash_token(raw), key_prefix=raw[:8], updated_at=timezone.now()
    )
    config_changed()
    bucket.refresh_from_db()
    return raw


def authenticate_bucket(bucket_id: int, raw_key: str | None) -> Bucket | None:
    """The bucket whose id and key match (active or not), with its project and source. Its
    key hash, active flag and update time are read on every call; the rest of what intake
    reads about it is kept per process (see context.py)."""
    context = authenticate(bucket_id, raw_key)
    return context.bucket if context is not None else None


def buckets_visible_to(actor: Actor):
    """Managers and admins see their projects' buckets; agents none."""
    return access.managed_by(actor, Bucket.objects.select_related("project", "source"))


def get_bucket_for(actor: Actor, bucket_id: int) -> Bucket:
    bucket = buckets_visible_to(actor).filter(pk=bucket_id).first()
    if bucket is None:
        raise NotFound("Bucket not found.")
    return bucket
