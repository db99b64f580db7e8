"""OpenAPI 3.1 from the endpoints' own pydantic models (so it cannot drift)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from livecommerce.api.common import MAX_ID
from livecommerce.api.routing import Endpoint

__all__ = ["PROBLEM_SCHEMA", "openapi_document"]

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable error code."},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail", "code"],
}

_STATUS_TEXT = {
    400: "Bad request",
    401: "Not signed in, or the token is invalid or expired",
    402: "Payment failed",
    403: "Not allowed for this caller",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "The request body is larger than this endpoint accepts",
    415: "Unsupported media type",
    422: "The input does not validate",
    429: "Rate limited",
    503: "A dependency is unavailable",
}


def _models(endpoints: Iterable[Endpoint[Any]]) -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    for e in endpoints:
        for candidate in (e.query, e.body, e.response):
            model = _model_of(candidate)
            if model is not None:
                seen[model] = None
    return list(seen)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if annotation is None:
        return None
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _response_schema(annotation: Any) -> dict[str, Any]:
    model = _model_of(annotation)
    assert model is not None
    ref = {"$ref": REF.format(model=model.__name__)}
    if get_origin(annotation) is list:
        return {"type": "array", "items": ref}
    return ref


def openapi_document(
    endpoints: Iterable[Endpoint[Any]], *, title: str, version: str, description: str = ""
) -> dict[str, Any]:
    endpoints = list(endpoints)
    models = _models(endpoints)
    modes = [(m, "validation") for m in models]
    _, defs = models_json_schema(modes, ref_template=REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(e.openapi_path, {})[e.method.lower()] = _operation(e)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    return doc


def _operation(e: Endpoint[Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": e.name,
        "summary": e.summary,
        "tags": list(e.tags),
    }
    description = (e.handler.__doc__ or "").strip()
    if description:
        op["description"] = description
    params: list[dict[str, Any]] = []
    for name, kind in e.path_params:
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 1, "maximum": MAX_ID}
            if kind == "int"
            else {"type": "string"}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if e.query is not None:
        query_schema = e.query.model_json_schema(ref_template=REF)
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if params:
        op["parameters"] = params
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=e.body.__name__)}}
            },
        }
    elif e.request_media_type is not None:
        op["requestBody"] = {
            "required": True,
            "content": {e.request_media_type: {"schema": {"type": "string"}}},
        }
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": "Success"}
    if e.response is not None:
        success["content"] = {"application/json": {"schema": _response_schema(e.response)}}
    elif e.response_media_type is not None:
        success["content"] = {e.response_media_type: {"schema": {"type": "string"}}}
    if e.response_headers:
        success["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in e.response_headers.items()
        }
    status = (
        e.status if (e.response is not None or e.response_media_type or e.status != 200) else 204
    )
    responses[str(status)] = success
    statuses = set(e.errors)
    if e.auth == "required":
        statuses.add(401)
        op["security"] = [{"bearer": []}]
    elif e.auth == "optional":
        statuses.add(401)
        op["security"] = [{"bearer": []}, {}]
    if e.body is not None or e.query is not None or e.path_params:
        statuses.update({400, 422} if e.body is not None else {422})
    if e.path_params:
        statuses.add(404)
    if e.body is not None or e.request_media_type is not None:
        statuses.update({400, 413, 415})
    for code in sorted(statuses):
        responses[str(code)] = {
            "description": _STATUS_TEXT.get(code, "Error"),
            "content": {
                "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}
            },
        }
    op["responses"] = responses
    return op
