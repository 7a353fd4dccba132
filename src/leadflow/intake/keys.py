"""Duplicate keys: which (kind, value) pairs identify a person."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from leadflow.core.normalize import email_key
from leadflow.intake.models import DuplicateKey, KeyKind
from leadflow.projects.models import DuplicateScope, FieldDefinition, FieldType, SystemSettings

VALUE_LIMIT = DuplicateKey._meta.get_field("value").max_length
FOLDED_TYPES = (FieldType.TEXT, FieldType.EMAIL, FieldType.CHOICE)


def scope_for(project_id: int, settings: SystemSettings) -> str:
    if settings.duplicate_scope == DuplicateScope.GLOBAL:
        return "global"
    return f"p{project_id}"


def derive_keys(email: str, phones: list[str], settings: SystemSettings,
                custom: dict[str, Any] | None = None,
                fields: Iterable[FieldDefinition] = ()) -> list[tuple[str, str]]:
    """Keys in match order: e-mail, then phones 1–5, then each unique custom field (in the
    definitions' order), then the composite primary key."""
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
    keys.extend(custom_keys(custom or {}, fields))
    return keys


def _part(definition: FieldDefinition, value: Any) -> str:
    """A stored value as it takes part in a key: text, e-mail and choice case-folded."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text.casefold() if definition.type in FOLDED_TYPES else text


def _bounded(prefix: str, text: str) -> str:
    """`prefix + text`, or the prefix and a SHA-256 of the text when it would not fit."""
    if len(prefix) + len(text) <= VALUE_LIMIT:
        return prefix + text
    return prefix + "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def custom_keys(custom: dict[str, Any], fields: Iterable[FieldDefinition]
                ) -> list[tuple[str, str]]:
    """The custom keys of stored custom values: one `name=value` per unique field with a
    value, and one composite key of all primary-key fields (by name) when every one of them
    has a value. A blank value never makes a key, so blanks never collide."""
    fields = list(fields)
    keys = [
        (KeyKind.CUSTOM, _bounded(f"{f.name}=", _part(f, custom[f.name])))
        for f in fields if f.unique and custom.get(f.name) is not None
    ]
    primary = sorted((f for f in fields if f.primary_key), key=lambda f: f.name)
    if primary and all(custom.get(f.name) is not None for f in primary):
        parts = {f.name: _part(f, custom[f.name]) for f in primary}
        keys.append((KeyKind.COMPOSITE, _bounded(
            "", json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False))))
    return keys
