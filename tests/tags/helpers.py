"""Small builders for tag tests: configuration rows through the tag services."""

from __future__ import annotations

from leadflow.tags import services
from tests.factories import SYSTEM


def make_tag(project, name: str, *, modifiable: bool = True):
    return services.create_tag(project, name, actor=SYSTEM, is_modifiable=modifiable)


def make_tag_rule(project, tag, action: str, **options):
    return services.create_tag_rule(project, actor=SYSTEM, tag=tag, action=action, **options)


def tag_names_of(lead) -> list[str]:
    from leadflow.tags.selectors import tag_names

    return tag_names(lead)
