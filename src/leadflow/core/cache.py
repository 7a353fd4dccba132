"""Configuration that hot paths keep in process memory for a moment.

A process serves such copies at most CONFIG_TTL seconds stale; the process that changes
configuration drops its own copies at once (`config_changed()`), so a change is seen at once by
its own process and within CONFIG_TTL by every other."""

from __future__ import annotations

CONFIG_TTL = 2.0

_generation = 0


def config_changed() -> None:
    """Configuration was written: every copy kept by this process is out of date."""
    global _generation
    _generation += 1


def config_generation() -> int:
    return _generation
