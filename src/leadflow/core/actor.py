"""Who does something, and through which channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from leadflow.accounts.models import User

Channel = Literal["ui", "api", "cli", "job", "intake"]


@dataclass(frozen=True)
class Actor:
    """The acting user (None for the system) and the channel the action came through."""

    user: User | None
    channel: Channel = "ui"

    @property
    def is_admin(self) -> bool:
        return bool(self.user is not None and self.user.is_admin)

    @classmethod
    def system(cls, channel: Channel = "job") -> Actor:
        return cls(None, channel)
