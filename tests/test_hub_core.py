"""The hub's sans-I/O core: frames, ordering, coalescing, sync after join, backpressure."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from livecommerce.errors import BadRequest
from livecommerce.hub.frames import text_frame
from livecommerce.hub.outbox import Outbox
from livecommerce.hub.protocol import (
    CLOSE_SLOW,
    TokenBucket,
    batch_frame,
    parse_request,
    replay_frames,
)
from livecommerce.hub.rooms import Event, Room, Subscriber


def _event(seq: int, kind: str = "price") -> Event:
    return Event(seq, kind, json.dumps({"seq": seq, "session": 1, "type": kind}))


class Socket:
    """The far end of an outbox: records what was sent; can stall like a full socket."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.open = asyncio.Event()
        self.open.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.open.wait()
        self.sent.append(message)

    def seqs(self) -> list[int]:
        out = []
        for message in self.sent:
            if message["type"] != "websocket.send":
                continue
            frame = json.loads(message["text"])
            events = frame["events"] if frame.get("type") == "batch" else [frame]
            out.extend(e["seq"] for e in events)
        return out


def test_parse_request_errors_carry_codes_and_ids() -> None:
    assert parse_request('{"type":"join","id":3,"session":1}', max_bytes=100).id == 3
    for text, code in [
        ("nope", "malformed"),
        ("[1]", "malformed"),
        ('{"type":"fly","id":"x"}', "unknown_type"),
        ('{"type":"join","pad":"' + "x" * 200 + '"}', "too_large"),
    ]:
        with pytest.raises(BadRequest) as info:
            parse_request(text, max_bytes=100)
        assert info.value.code == code
    with pytest.raises(BadRequest) as info:
        parse_request('{"type":"fly","id":"x"}', max_bytes=100)
    assert info.value.extra["id"] == "x"


def test_batches_and_replays_are_concatenations_in_order() -> None:
    texts = [_event(i).text for i in range(1, 6)]
    frame = json.loads(batch_frame(texts))
    assert [e["seq"] for e in frame["events"]] == [1, 2, 3, 4, 5]
    assert batch_frame(texts[:1]) == texts[0]
    chunks = replay_frames(texts, max_events=2)
    assert len(chunks) == 3
    seqs = []
    for chunk in chunks:
        decoded = json.loads(chunk)
        seqs.extend(e["seq"] for e in decoded.get("events", [decoded]))
    assert seqs == [1, 2, 3, 4, 5]


def test_token_bucket_allows_bursts_then_the_rate() -> None:
    bucket = TokenBucket(rate=2, burst=4, now=0)
    assert [bucket.take(now=0) for _ in range(5)] == [True] * 4 + [False]
    assert bucket.take(now=0.5) and not bucket.take(now=0.5)


async def test_room_sends_urgent_events_at_once_and_coalesces_the_rest_in_order() -> None:
    socket = Socket()
    room = Room(1, last_seq=0)
    sub = Subscriber(Outbox(socket.send, limit=10, max_chars=10**6), 1)
    room.subscribers.add(sub)
    sub.start(0)
    frames, pending = room.ingest([_event(1, "chat"), _event(2, "viewers")])
    assert frames == [] and pending
    frames, pending = room.ingest([_event(3, "pinned"), _event(4, "chat")])
    room.fan_out(frames)
    assert socket.seqs() == [1, 2, 3]  # what waited went first, in one frame
    assert len(socket.sent) == 1 and pending
    flushed = room.flush()
    assert flushed is not None
    room.fan_out([flushed])
    assert socket.seqs() == [1, 2, 3, 4]


async def test_a_joining_subscriber_gets_held_events_after_its_snapshot_without_repeats() -> None:
    socket = Socket()
    room = Room(1, last_seq=5)
    sub = Subscriber(Outbox(socket.send, limit=10, max_chars=10**6), 1)
    room.subscribers.add(sub)
    frames, _ = room.ingest([_event(6), _event(7)])
    room.fan_out(frames)
    assert socket.sent == []  # syncing: held
    sub.start(6)  # its snapshot was taken at seq 6
    frames, _ = room.ingest([_event(8)])
    room.fan_out(frames)
    assert socket.seqs() == [7, 8]


async def test_a_stalled_socket_overflows_its_outbox_and_is_closed_as_slow() -> None:
    socket = Socket()
    outbox = Outbox(socket.send, limit=3, max_chars=10**6)
    outbox.push("a")
    socket.open.clear()  # the socket's buffer is full from now on
    outbox.push("b")  # suspends: a task takes over
    for text in "cde":
        outbox.push(text)
    assert not outbox.closed
    outbox.push("f")  # the 4th waiting frame
    assert outbox.closed
    socket.open.set()
    await asyncio.wait_for(outbox.wait_closed(5), 5)
    assert [m.get("text") for m in socket.sent] == ["a", "b", None]
    assert socket.sent[-1] == {
        "type": "websocket.close",
        "code": CLOSE_SLOW,
        "reason": "too slow: reconnect and join with since",
    }


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536])
def test_a_prebuilt_frame_is_what_websockets_would_send(size: int) -> None:
    payload = ("é" * size).encode()[:size]  # any bytes: the length fields are the point
    expected = WsFrame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert text_frame(payload) == expected
