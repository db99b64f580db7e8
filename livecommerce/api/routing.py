"""Typed HTTP endpoints: one declaration validates requests and documents them.

An :class:`Api` collects :class:`Endpoint` s. Each endpoint names the pydantic
models of its query, body and response; the same models validate incoming
requests (via :meth:`Endpoint.asgi`) and generate the OpenAPI document (see
:mod:`livecommerce.api.openapi`), so the two cannot drift.

Handlers are thin adapters: ``async def handler(context, call) -> Model | Response``.
``context`` is what the handler's part of the app was built with — the cart's
handlers get the cart, the catalog's the app's :class:`~livecommerce.services.Services`
— bound when the composition root asks for :meth:`Api.routes`; ``call`` carries
who is asking and the validated inputs. Handlers hand both to domain code.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livecommerce import encoding
from livecommerce.api.common import MAX_ID
from livecommerce.auth.permissions import ANONYMOUS, Principal
from livecommerce.auth.tokens import TokenSigner
from livecommerce.errors import BadRequest, NotFound, Unauthorized, ValidationFailed
from livecommerce.http.limits import JSON_MEDIA_TYPE, check_media_type, read_body

__all__ = ["Api", "Call", "Edge", "Endpoint", "Handler", "JSONResponse", "problem_from_validation"]

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C")
Auth = Literal["none", "optional", "required"]
#: ``async def handler(context, call)``: a JSON-able result (a model, a list of models,
#: None for an empty answer) or a Starlette ``Response``.
Handler = Callable[[C, "Call"], Awaitable[object]]

_PATH_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encoding.dumps(content)


@dataclass(frozen=True, slots=True)
class Edge:
    """What every endpoint checks before its handler runs, the same for the whole app."""

    tokens: TokenSigner
    #: Largest request body read, bytes, where an endpoint names no ``max_body``.
    max_body_bytes: int


@dataclass(frozen=True, slots=True)
class Call:
    """One request as a handler sees it: who is asking and the validated inputs."""

    request: Request
    principal: Principal
    #: Path parameters, converted (``{session_id:int}`` is an int, in 1..MAX_ID).
    path: Mapping[str, int | str]
    query: BaseModel | None
    body: BaseModel | None
    #: The raw body of a non-JSON endpoint (WHIP/WHEP's SDP); empty otherwise.
    content: bytes = b""

    def id(self, name: str) -> int:
        """The ``{name:int}`` path parameter."""
        value = self.path[name]
        if not isinstance(value, int):
            raise TypeError(f"path parameter {name!r} is not declared ':int'")
        return value

    def param(self, name: str) -> str:
        """The ``{name}`` (text) path parameter."""
        return str(self.path[name])

    def query_as(self, kind: type[M]) -> M:
        """The validated query, as the endpoint's ``query=`` model."""
        return _as(self.query, kind, "query")

    def body_as(self, kind: type[M]) -> M:
        """The validated JSON body, as the endpoint's ``body=`` model."""
        return _as(self.body, kind, "body")


def _as(value: BaseModel | None, kind: type[M], where: str) -> M:
    if not isinstance(value, kind):
        raise TypeError(f"the endpoint declares no {where} of type {kind.__name__}")
    return value


@dataclass
class Endpoint(Generic[C]):
    method: str
    path: str
    handler: Handler[C]
    summary: str
    tags: Sequence[str]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    #: A pydantic model, ``list[Model]``, or None for an empty body.
    response: Any = None
    status: int = 200
    auth: Auth = "none"
    #: Error statuses this endpoint can answer with (documented as problem+json).
    errors: Sequence[int] = ()
    #: For non-JSON endpoints (WHIP/WHEP: ``application/sdp``).
    request_media_type: str | None = None
    response_media_type: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    #: Largest request body read, bytes; None: the ``http_max_body_bytes`` setting.
    max_body: int | None = None

    @property
    def path_params(self) -> list[tuple[str, str]]:
        return [(m.group(1), m.group(2) or "str") for m in _PATH_PARAM.finditer(self.path)]

    @property
    def openapi_path(self) -> str:
        return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)

    @property
    def name(self) -> str:
        return self.handler.__name__

    def route(self, context: C, edge: Edge) -> Route:
        """The Starlette route serving this endpoint with ``context`` for its handler."""

        async def endpoint(request: Request) -> Response:
            return await self.serve(request, context, edge)

        endpoint.__name__ = endpoint.__qualname__ = self.name
        return Route(self.path, endpoint, methods=[self.method], name=self.name)

    async def serve(self, request: Request, context: C, edge: Edge) -> Response:
        principal = _principal(request, edge.tokens, self.auth)
        query = None
        if self.query is not None:
            # Query parameters are text by nature: "5" is how a query says 5.
            query = _validate(self.query, dict(request.query_params), where="query", strict=False)
        body: BaseModel | None = None
        content = b""
        limit = self.max_body or edge.max_body_bytes
        if self.body is not None:
            check_media_type(request, JSON_MEDIA_TYPE)
            raw = await read_body(request, limit)
            if not raw:
                raise BadRequest("this endpoint needs a JSON request body")
            try:
                data = encoding.loads(raw)
            except encoding.JSONDecodeError:
                raise BadRequest("the request body is not valid JSON") from None
            # Bodies are JSON, so their types are JSON's: strict ("1" is no integer).
            body = _validate(self.body, data, where="body")
        elif self.request_media_type is not None:
            check_media_type(request, self.request_media_type)
            content = await read_body(request, limit)
        path: dict[str, int | str] = dict(request.path_params)
        for name, kind in self.path_params:
            if kind == "int" and not 1 <= int(path[name]) <= MAX_ID:
                raise NotFound(f"no {name.removesuffix('_id')} with id {path[name]}")
        call = Call(
            request=request, principal=principal, path=path, query=query, body=body, content=content
        )
        result = await self.handler(context, call)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=self.status if self.status != 200 else 204)
        return JSONResponse(_dump(result), status_code=self.status)


def _dump(result: object) -> object:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [_dump(r) for r in result]
    return result


def _has_nul(data: object) -> bool:
    if isinstance(data, str):
        return "\x00" in data
    if isinstance(data, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_nul(v) for v in data)
    return False


def _validate(model: type[M], data: object, *, where: str, strict: bool | None = None) -> M:
    # PostgreSQL cannot store NUL in text, and no field of ours has a use for it:
    # refuse it here, once, instead of failing deep in the driver.
    if _has_nul(data):
        raise ValidationFailed(f"{where}: text must not contain NUL (\\u0000) characters")
    try:
        return model.model_validate(data, strict=strict)
    except PydanticValidationError as exc:
        raise problem_from_validation(exc, where=where) from None


def problem_from_validation(exc: PydanticValidationError, *, where: str) -> ValidationFailed:
    """Translate pydantic's errors into our 422 with a readable ``detail``."""
    errors = [
        {
            "loc": [where, *[str(p) for p in e["loc"]]],
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    first = errors[0]
    field_name = ".".join(first["loc"][1:]) or where
    return ValidationFailed(f"{field_name}: {first['msg']}", errors=errors)


def _principal(request: Request, tokens: TokenSigner, auth: Auth) -> Principal:
    header = request.headers.get("authorization")
    if header is None:
        if auth == "required":
            raise Unauthorized("sign in first: send 'Authorization: Bearer <token>'")
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    if auth == "none":
        return ANONYMOUS
    claims = tokens.verify(token.strip())
    return Principal(user_id=claims.user_id, role=claims.role, brand_id=claims.brand_id)


class Api(Generic[C]):
    """A set of endpoints whose handlers take the same context ``C``; the composition
    root (:mod:`livecommerce.app`) binds each Api to its context with :meth:`routes`."""

    def __init__(self, *, tags: Sequence[str] = ()) -> None:
        self.tags = list(tags)
        self.endpoints: list[Endpoint[C]] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        auth: Auth = "none",
        errors: Sequence[int] = (),
        tags: Sequence[str] | None = None,
        request_media_type: str | None = None,
        response_media_type: str | None = None,
        response_headers: dict[str, str] | None = None,
        max_body: int | None = None,
    ) -> Callable[[Handler[C]], Handler[C]]:
        def register(handler: Handler[C]) -> Handler[C]:
            self.endpoints.append(
                Endpoint(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    summary=summary,
                    tags=list(tags if tags is not None else self.tags),
                    query=query,
                    body=body,
                    response=response,
                    status=status,
                    auth=auth,
                    errors=errors,
                    request_media_type=request_media_type,
                    response_media_type=response_media_type,
                    response_headers=dict(response_headers or {}),
                    max_body=max_body,
                )
            )
            return handler

        return register

    def routes(self, context: C, edge: Edge) -> list[Route]:
        return [e.route(context, edge) for e in self.endpoints]
