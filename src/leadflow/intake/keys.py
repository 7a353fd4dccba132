"""Duplicate keys: which (kind, value) pairs identify a person."""

from __future__ import annotations

from leadflow.core.normalize import email_key
from leadflow.intake.models import KeyKind
from leadflow.projects.models import DuplicateScope, SystemSettings


def scope_for(project_id: int, settings: SystemSettings) -> str:
    if settings.duplicate_scope == DuplicateScope.GLOBAL:
        return "global"
    return f"p{project_id}"


def derive_keys(email: str, phones: list[str], settings: SystemSettings) -> list[tuple[str, str]]:
    """Keys in match order: e-mail, then phones 1–5 (custom keys join with field definitions)."""
    keys: list[tuple[str, str]] = []
    if email:
        keys.append(
            (
                KeyKind.EMAIL,
                email_key(
                    email,
                    ignore_plus=settings.email_ignore_plus,
                    ignore_gmail_dots=settings.email_ignore_gmail_dots,
                ),
            )
        )
    keys.extend((KeyKind.PHONE, phone) for phone in phones)
    return keys
