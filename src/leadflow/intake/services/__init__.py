"""Intake use cases: ingest (the one path that creates leads), buckets, submissions,
possible duplicates and key rebuilding."""

from leadflow.intake.services.ingest import (
    IngestResult,
    OnDuplicate,
    first_open_stage,
    ingest,
    validate_input,
)

__all__ = ["IngestResult", "OnDuplicate", "first_open_stage", "ingest", "validate_input"]
