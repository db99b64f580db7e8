"""Moderation request/response models, shared by the WebSocket ``moderate`` request and HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from livecommerce.api.common import Id, StrictModel

__all__ = [
    "ACTIONS",
    "ModerateIn",
    "ModerationLogOut",
    "ModerationOut",
    "ModerationStateOut",
    "MutedOut",
]

Action = Literal[
    "delete_message",
    "mute",
    "unmute",
    "ban",
    "unban",
    "slow_mode",
    "blocked_words",
    "end_stream",
]

ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]

#: What each action needs besides ``action``.
_NEEDS: dict[str, tuple[str, ...]] = {
    "delete_message": ("message_id",),
    "mute": ("user_id", "minutes"),
    "unmute": ("user_id",),
    "ban": ("user_id",),
    "unban": ("user_id",),
    "slow_mode": ("seconds",),
    "blocked_words": ("words",),
    "end_stream": (),
}


class ModerateIn(StrictModel):
    """One moderation action. Fields other than ``action`` depend on it:
    ``delete_message {message_id}``, ``mute {user_id, minutes}``, ``unmute {user_id}``,
    ``ban {user_id}``, ``unban {user_id}``, ``slow_mode {seconds}`` (0 = off),
    ``blocked_words {words}`` (replaces the list), ``end_stream``."""

    action: Action
    message_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    user_id: Id | None = None
    minutes: int | None = Field(None, ge=1, le=7 * 24 * 60, description="Mute length.")
    seconds: int | None = Field(
        None, ge=0, le=3600, description="Slow mode: one message per user per this many s."
    )
    words: list[str] | None = Field(None, max_length=500, description="Blocked words/phrases.")
    reason: str = Field("", max_length=300, description="Kept in the audit log.")

    @model_validator(mode="after")
    def _needs(self) -> ModerateIn:
        missing = [f for f in _NEEDS[self.action] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"action {self.action!r} needs {', '.join(missing)}")
        if self.words is not None and any(len(w) > 64 for w in self.words):
            raise ValueError("words: each word or phrase is at most 64 characters")
        texts = [self.reason, *(self.words or ())]
        if any("\x00" in t for t in texts):  # PostgreSQL text cannot hold NUL
            raise ValueError("reason and words may not contain NUL characters")
        return self


class ModerationOut(BaseModel):
    """One audit-log record: who did what, to whom, when."""

    id: int
    session_id: int
    actor_id: int
    action: str
    target_user_id: int | None
    target_message_id: str | None
    details: dict[str, Any]
    created_at: datetime

    @field_validator("details", mode="before")
    @classmethod
    def _no_details(cls, value: Any) -> Any:
        return {} if value is None else value


class ModerationLogOut(BaseModel):
    items: list[ModerationOut]


class MutedOut(BaseModel):
    user_id: int
    until_ms: int


class ModerationStateOut(BaseModel):
    """The session's chat rules and who is muted or banned now."""

    session_id: int
    slow_mode_s: int
    blocked_words: list[str]
    muted: list[MutedOut]
    banned: list[int]
