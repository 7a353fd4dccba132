"""Buckets and submissions for the web tests, built through the intake services."""

from __future__ import annotations

import itertools

from leadflow.intake.services import buckets as bucket_services
from leadflow.intake.services import submissions as submission_services
from tests.factories import SYSTEM, source_named

_seq = itertools.count(1)


def make_bucket(project, *, source: str = "Website", **values):
    """A bucket of `project` (and its API key), created by a system actor."""
    values.setdefault("name", f"Bucket {next(_seq)}")
    bucket, key = bucket_services.create_bucket(
        project, actor=SYSTEM, source=source_named(project, source).pk, **values
    )
    return bucket


def submit(bucket, **payload):
    """One submission into `bucket` through the intake service, processed at once."""
    return submission_services.submit(bucket, payload)
