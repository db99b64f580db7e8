"""The creators' part of the app: affiliate links (made in SQL, followed through Redis)."""

from __future__ import annotations

from livecommerce.components import Component
from livecommerce.creators.links import Links
from livecommerce.events import HandleChanged, ProductAvailabilityChanged
from livecommerce.services import Services

__all__ = ["CreatorsComponent"]


class CreatorsComponent(Component):
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    async def start(self) -> None:
        self.links = Links(self.services.db, self.services.mux)
        self.services.events.subscribe(ProductAvailabilityChanged, self.links.on_availability)
        self.services.events.subscribe(HandleChanged, self.links.on_handle)

    @property
    def attribution_window_s(self) -> int:
        return self.settings.attribution_window_days * 86400
