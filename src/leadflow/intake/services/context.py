"""What intake reads about a bucket before it writes, kept per process.

The bucket row's key hash, active flag and `updated_at` are read on every request (one query by
primary key), so a rotated key or a deactivated bucket is refused at once, and any edit of the
bucket reloads the rest. The rest — project, source, default pool, first open stage, system
settings, the project's field definitions, the project's active distribution rules (for
matching; the router reads a matching rule again under lock) — is kept up to `CONFIG_TTL`
seconds (see leadflow.core.cache)."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from leadflow.accounts.models import hash_token
from leadflow.core.cache import CONFIG_TTL, config_generation
from leadflow.core.db import fetch, naive_utc
from leadflow.intake.keys import scope_for
from leadflow.intake.models import Bucket
from leadflow.projects.fields import definitions_of
from leadflow.projects.models import OPEN_STATUSES, Pool, Project, Source, Stage, SystemSettings
from leadflow.routing.services.router import active_rules


@dataclass(frozen=True)
class BucketContext:
    """A bucket with its project and source loaded, and what processing its submissions reads.
    Shared between threads: read it, never change it."""

    bucket: Bucket
    pool: Pool
    stage: Stage | None  # the first open stage; None when the project has none
    settings: SystemSettings
    rules: list  # the project's active distribution rules in order, for matching
    fields: list  # the project's field definitions in order
    scope: str
    stamp: datetime  # the row's updated_at, naive UTC
    loaded_at: float
    generation: int

    @property
    def project(self) -> Project:
        return self.bucket.project

    @property
    def source(self) -> Source:
        return self.bucket.source

    def current(self, key_hash: str, active: bool, stamp) -> bool:
        """Whether this copy belongs to the bucket row as read now and is fresh enough."""
        bucket = self.bucket
        return (
            bucket.key_hash == key_hash and bucket.active == active and self.stamp == stamp
            and self.generation == config_generation()
            and time.monotonic() - self.loaded_at <= CONFIG_TTL
        )


_contexts: dict[int, BucketContext] = {}


def _load(bucket_id: int) -> BucketContext | None:
    generation, loaded_at = config_generation(), time.monotonic()
    bucket = Bucket.objects.select_related("project", "source").filter(pk=bucket_id).first()
    if bucket is None:
        return None
    settings = SystemSettings.load()
    context = BucketContext(
        bucket=bucket,
        pool=Pool.objects.get(project_id=bucket.project_id, is_default=True),
        stage=Stage.objects.filter(project_id=bucket.project_id, status__in=OPEN_STATUSES)
        .order_by("position").first(),
        settings=settings,
        rules=active_rules(bucket.project_id),
        fields=definitions_of(bucket.project_id),
        scope=scope_for(bucket.project_id, settings),
        stamp=_stamp(bucket),
        loaded_at=loaded_at,
        generation=generation,
    )
    _contexts[bucket_id] = context
    return context


def _stamp(bucket: Bucket):
    return naive_utc(bucket.updated_at)


def _row(bucket_id: int) -> tuple[str, bool, object] | None:
    table = connection.ops.quote_name(Bucket._meta.db_table)
    rows = fetch(f"SELECT key_hash, active, updated_at FROM {table} WHERE id = %s", [bucket_id])
    row = rows[0] if rows else None
    return None if row is None else (row[0], bool(row[1]), naive_utc(row[2]))


def authenticate(bucket_id: int, raw_key: str | None) -> BucketContext | None:
    """The context of the bucket whose id and key match (active or not), else None."""
    if not raw_key:
        return None
    row = _row(bucket_id)
    if row is None or not hmac.compare_digest(row[0], hash_token(raw_key)):
        return None
    context = _contexts.get(bucket_id)
    if context is None or not context.current(*row):
        context = _load(bucket_id)
    return context


def load_context(bucket_id: int) -> BucketContext:
    """The context of a bucket, read now (for work off the request path)."""
    context = _load(bucket_id)
    if context is None:
        raise Bucket.DoesNotExist(bucket_id)
    return context


def context_for(bucket: Bucket) -> BucketContext:
    """The context of `bucket` as the caller holds it: the kept copy when it is of the same
    version of the row and fresh, else loaded now."""
    context = _contexts.get(bucket.pk)
    if context is None or not context.current(bucket.key_hash, bucket.active, _stamp(bucket)):
        context = _load(bucket.pk)
    return context
