"""The one error hierarchy of livecommerce.

Every error a client can see derives from :class:`LivecommerceError` and knows
its HTTP status, its stable machine-readable ``code`` (also used in WebSocket
``error`` frames) and a human ``detail``. Library errors are translated at the
boundary with ``raise ... from exc``.

::

    LivecommerceError                     500 internal
    ├── BadRequest                        400 bad_request
    │   └── ValidationFailed              422 validation_failed
    ├── Unauthorized                      401 unauthorized
    ├── Forbidden                         403 forbidden
    ├── NotFound                          404 not_found
    ├── MethodNotAllowed                  405 method_not_allowed
    ├── Conflict                          409 conflict
    │   ├── OutOfStock                    409 out_of_stock
    │   ├── LimitExceeded                 409 limit_exceeded
    │   └── IdempotencyMismatch           422 idempotency_mismatch
    ├── Gone                              410 gone
    ├── PaymentFailed                     402 payment_failed
    ├── RequestTimeout                    408 request_timeout
    ├── PayloadTooLarge                   413 too_large
    ├── RangeNotSatisfiable               416 range_not_satisfiable
    ├── UnsupportedMediaType              415 unsupported_media_type
    ├── TooManyRequests                   429 rate_limited
    └── Unavailable                       503 unavailable
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "IdempotencyMismatch",
    "LimitExceeded",
    "LivecommerceError",
    "MethodNotAllowed",
    "NotFound",
    "OutOfStock",
    "PayloadTooLarge",
    "PaymentFailed",
    "RangeNotSatisfiable",
    "RequestTimeout",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "UnsupportedMediaType",
    "ValidationFailed",
]


class LivecommerceError(Exception):
    status: int = 500
    code: str = "internal"
    title: str = "Internal Server Error"
    #: HTTP headers sent with the problem document (e.g. ``Retry-After``).
    headers: dict[str, str] | None = None

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        #: Extra members of the problem document (RFC 9457 extension members).
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        doc: dict[str, Any] = {
            "type": f"https://livecommerce.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance is not None:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc


class BadRequest(LivecommerceError):
    status, code, title = 400, "bad_request", "Bad Request"


class ValidationFailed(BadRequest):
    status, code, title = 422, "validation_failed", "Unprocessable Content"


class Unauthorized(LivecommerceError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(LivecommerceError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(LivecommerceError):
    status, code, title = 404, "not_found", "Not Found"


class MethodNotAllowed(LivecommerceError):
    status, code, title = 405, "method_not_allowed", "Method Not Allowed"


class Gone(LivecommerceError):
    """What was there is no longer (a share link to a withdrawn product)."""

    status, code, title = 410, "gone", "Gone"


class Conflict(LivecommerceError):
    status, code, title = 409, "conflict", "Conflict"


class OutOfStock(Conflict):
    code = "out_of_stock"


class LimitExceeded(Conflict):
    code = "limit_exceeded"


class IdempotencyMismatch(Conflict):
    status, code, title = 422, "idempotency_mismatch", "Unprocessable Content"


class PaymentFailed(LivecommerceError):
    status, code, title = 402, "payment_failed", "Payment Required"


class RequestTimeout(LivecommerceError):
    status, code, title = 408, "request_timeout", "Request Timeout"


class PayloadTooLarge(LivecommerceError):
    status, code, title = 413, "too_large", "Content Too Large"


class UnsupportedMediaType(LivecommerceError):
    status, code, title = 415, "unsupported_media_type", "Unsupported Media Type"


class RangeNotSatisfiable(LivecommerceError):
    status, code, title = 416, "range_not_satisfiable", "Range Not Satisfiable"


class TooManyRequests(LivecommerceError):
    status, code, title = 429, "rate_limited", "Too Many Requests"


class Unavailable(LivecommerceError):
    status, code, title = 503, "unavailable", "Service Unavailable"
