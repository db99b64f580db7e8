"""HTTP API plumbing: typed endpoints, OpenAPI, problem responses."""

from livecommerce.api.routing import Api, Call, Endpoint, JSONResponse

__all__ = ["Api", "Call", "Endpoint", "JSONResponse"]
