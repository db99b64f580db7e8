"""Moderation as an app component: its HTTP endpoints (the hub serves ``moderate``)."""

from __future__ import annotations

from livecommerce.components import Component
from livecommerce.moderation import api as moderation_api

__all__ = ["Moderation"]


class Moderation(Component):
    api = moderation_api.api
