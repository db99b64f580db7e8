"""Payment gateways: the interface checkout uses, and the built-in test gateway.

A gateway turns a saved payment-method token into money in four steps: authorize,
capture, void (drop an authorization) and refund (return captured money). Checkout
passes an idempotency key to :meth:`authorize`, so a retried checkout gets the same
authorization back, never a second one (I3). (No webhook route exists yet: a real
adapter's asynchronous notices are future work.)

The test gateway (``gateway = "test"``, the development default) needs no network.
Its test cards (tokens), documented in docs/api.md:

=========================== ==================================================
``pm_card_visa``            succeeds (visa 4242)
``pm_card_mastercard``      succeeds (mastercard 4444)
``pm_card_declined``        authorization declined (``card_declined``)
``pm_card_insufficient_funds`` declined (``insufficient_funds``)
``pm_card_slow``            authorizes after 2 s
``pm_card_capture_fails``   authorizes, then capture fails (``capture_failed``)
=========================== ==================================================
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Protocol

from livecommerce.errors import ValidationFailed

__all__ = [
    "TEST_CARDS",
    "Authorization",
    "CardInfo",
    "GatewayDeclined",
    "PaymentGateway",
    "TestGateway",
    "gateways_for",
    "listed_test_cards",
    "undo_payment",
]

log = logging.getLogger("livecommerce.cart")


class GatewayDeclined(Exception):
    """The gateway refused: ``code`` is a stable reason (card_declined, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Authorization:
    id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class CardInfo:
    brand: str
    last4: str


class PaymentGateway(Protocol):
    name: str

    def describe(self, token: str) -> CardInfo:
        """Brand and last 4 digits of a token; raises ValidationFailed if unknown."""
        ...

    async def authorize(
        self, token: str, amount_minor: int, currency: str, *, idempotency_key: str
    ) -> Authorization:
        """Reserve the money. The same ``idempotency_key`` returns the same authorization.
        Raises :class:`GatewayDeclined`."""
        ...

    async def capture(self, authorization_id: str) -> None: ...

    async def void(self, authorization_id: str) -> None: ...

    async def refund(self, authorization_id: str, amount_minor: int) -> None: ...


#: token -> (brand, last4, behaviour)
TEST_CARDS: dict[str, tuple[str, str, str]] = {
    "pm_card_visa": ("visa", "4242", "ok"),
    "pm_card_mastercard": ("mastercard", "4444", "ok"),
    "pm_card_declined": ("visa", "0002", "card_declined"),
    "pm_card_insufficient_funds": ("visa", "9995", "insufficient_funds"),
    "pm_card_slow": ("visa", "3220", "slow"),
    "pm_card_capture_fails": ("visa", "0341", "capture_fails"),
}

_MESSAGES = {
    "card_declined": "the card was declined",
    "insufficient_funds": "the card has insufficient funds",
    "capture_failed": "the payment was authorized but could not be captured",
}


class TestGateway:
    """Simulated gateway: no network, no state; authorization ids derive from the
    idempotency key, so retries in any process get the same one."""

    __test__ = False  # not a pytest test class
    name = "test"

    def __init__(self, *, secret: str, slow_s: float = 2.0) -> None:
        self._secret = secret.encode()
        self.slow_s = slow_s

    def describe(self, token: str) -> CardInfo:
        card = TEST_CARDS.get(token)
        if card is None:
            raise ValidationFailed(
                f"token: unknown test card {token!r}; use one of {sorted(TEST_CARDS)}",
                code="unknown_card",
            )
        return CardInfo(brand=card[0], last4=card[1])

    async def authorize(
        self, token: str, amount_minor: int, currency: str, *, idempotency_key: str
    ) -> Authorization:
        card = TEST_CARDS.get(token)
        behaviour = card[2] if card else "card_declined"
        if behaviour in ("card_declined", "insufficient_funds"):
            raise GatewayDeclined(behaviour, _MESSAGES[behaviour])
        if behaviour == "slow":
            await asyncio.sleep(self.slow_s)  # the simulated bank is slow, on purpose
        # Like a real gateway's idempotency: the same key always yields the same
        # authorization, in any process, with no shared state (the id is derived from it).
        digest = hmac.new(self._secret, idempotency_key.encode(), hashlib.sha256).hexdigest()
        suffix = "_cf" if behaviour == "capture_fails" else ""
        return Authorization(
            id=f"tauth_{digest[:24]}{suffix}", amount_minor=amount_minor, currency=currency
        )

    async def capture(self, authorization_id: str) -> None:
        if authorization_id.endswith("_cf"):
            raise GatewayDeclined("capture_failed", _MESSAGES["capture_failed"])

    async def void(self, authorization_id: str) -> None:
        return None

    async def refund(self, authorization_id: str, amount_minor: int) -> None:
        return None


def listed_test_cards(environment: str) -> dict[str, tuple[str, str, str]]:
    """The test cards the pages offer: all of them in development and test, none in
    production (a real deployment's pages take cards through its real gateway)."""
    return {} if environment == "production" else dict(TEST_CARDS)


def gateways_for(secret_key: str) -> dict[str, PaymentGateway]:
    """The gateways this deployment can charge through, by name."""
    return {"test": TestGateway(secret=secret_key)}


async def undo_payment(gateway: PaymentGateway, authorization_id: str, amount_minor: int) -> bool:
    """Give the money back whatever stage the payment reached: refund what was captured,
    void the authorization. False (and logged for the operator) if the gateway failed."""
    try:
        await gateway.refund(authorization_id, amount_minor)
        await gateway.void(authorization_id)
    except Exception:  # noqa: BLE001 - logged; the caller's own outcome stands
        log.exception("undoing payment %s failed", authorization_id)
        return False
    return True
