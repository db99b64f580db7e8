"""The per-connection state machine (``livecommerce.hub.client``), without sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from livecommerce.auth.permissions import Principal
from livecommerce.errors import LivecommerceError
from livecommerce.hub.client import ClientState, Close, Dispatch, Refuse
from livecommerce.hub.protocol import CLIENT_TYPES, CLOSE_RATE_LIMITED


def _state(**kwargs: Any) -> ClientState:
    options: dict[str, Any] = {
        "request_rate": 20.0,
        "max_frame_bytes": 16 * 1024,
        "max_refused": 50,
        "now": 0.0,
    }
    options.update(kwargs)
    return ClientState(**options)


def _error(decision: object) -> dict[str, Any]:
    assert isinstance(decision, Refuse), decision
    frame: dict[str, Any] = json.loads(decision.frame)
    assert frame["type"] == "error" and frame["code"] == decision.code
    return frame


def test_a_request_is_dispatched_with_its_id() -> None:
    decision = _state().receive('{"type":"join","id":"a","session":3}', now=0.0)
    assert isinstance(decision, Dispatch)
    assert decision.request.type == "join" and decision.request.id == "a"
    assert decision.request.body == {"session": 3}


@pytest.mark.parametrize(
    "text",
    [
        '{"type":["join"],"id":7}',
        '{"type":{"a":1},"id":7}',
        '{"type":3,"id":7}',
        '{"type":"react","kind":["heart"],"id":7}',
        '{"type":"join","session":"3","id":7}',
        '{"type":"join","session":true,"id":7}',
        '{"type":"join","since":1.5,"session":3,"id":7}',
        '{"type":"chat","text":{"t":"x"},"id":7}',
        '{"type":"auth","token":["x"],"id":7}',
        '{"type":"pin","session":[1],"id":7}',
        '{"type":"unpin","session":"x","id":7}',
        '{"type":"moderate","session":{},"id":7}',
    ],
)
def test_a_field_of_the_wrong_json_type_is_validation_failed_with_the_id(text: str) -> None:
    frame = _error(_state().receive(text, now=0.0))
    assert frame["code"] == "validation_failed" and frame["id"] == 7


def test_every_request_type_has_its_field_types_checked() -> None:
    for kind in CLIENT_TYPES:
        decision = _state().receive(json.dumps({"type": kind, "id": 1}), now=0.0)
        assert isinstance(decision, Dispatch), kind


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b'{"type":"ping"}', "malformed"),
        ("not json", "malformed"),
        ('{"type":"ping","id":true}', "malformed"),
        ('{"type":"fly","id":2}', "unknown_type"),
        ('{"type":"ping","pad":"' + "é" * 9000 + '"}', "too_large"),
    ],
)
def test_frames_that_cannot_be_requests_are_refused(text: str | bytes, code: str) -> None:
    assert _error(_state().receive(text, now=0.0))["code"] == code


def test_over_the_rate_is_rate_limited_with_the_id_then_closed() -> None:
    state = _state(request_rate=1.0, max_refused=3)
    assert isinstance(state.receive('{"type":"ping","id":0}', now=0.0), Dispatch)
    assert isinstance(state.receive('{"type":"ping","id":1}', now=0.0), Dispatch)  # burst 2
    for i in range(2, 4):
        frame = _error(state.receive(f'{{"type":"ping","id":{i}}}', now=0.0))
        assert frame["code"] == "rate_limited" and frame["id"] == i
    # A malformed frame over the rate still echoes what could be read.
    frame = _error(state.receive('{"type":"fly","id":"x"}', now=0.0))
    assert frame["code"] == "rate_limited" and frame["id"] == "x"
    assert state.receive('{"type":"ping"}', now=0.0) == Close(
        CLOSE_RATE_LIMITED, "too many requests"
    )


def test_a_request_within_the_rate_resets_the_refusals() -> None:
    state = _state(request_rate=1.0, max_refused=1)
    for _ in range(2):
        state.receive('{"type":"ping"}', now=0.0)
    assert isinstance(state.receive('{"type":"ping"}', now=0.0), Refuse)
    assert isinstance(state.receive('{"type":"ping"}', now=1.0), Dispatch)
    assert isinstance(state.receive('{"type":"ping"}', now=1.0), Refuse)  # not a Close


def test_joined_session_and_named_session() -> None:
    state = _state()
    with pytest.raises(LivecommerceError) as info:
        state.joined()
    assert info.value.code == "not_joined"
    with pytest.raises(LivecommerceError) as info:
        state.session_of({"session": 4})
    assert info.value.code == "unauthorized"
    state.sign_in(Principal(user_id=9, role="viewer", brand_id=None))
    body = {"session": 4, "product_id": 1}
    assert state.session_of(body) == 4 and body == {"product_id": 1}
    state.session_id = 5
    assert state.joined() == 5 and state.session_of({}) == 5
    assert state.presence_key() == "9"


def test_idle_means_nothing_joined_and_nothing_sent() -> None:
    state = _state()
    assert not state.idle(30.0, 60.0)
    assert state.idle(61.0, 60.0)
    state.receive('{"type":"ping"}', now=61.0)
    assert not state.idle(100.0, 60.0)
    state.session_id = 1
    assert not state.idle(1000.0, 60.0)
    assert _state().presence_key().startswith("a:")
