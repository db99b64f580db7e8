"""Moderation: every action over the WebSocket and HTTP, its effect on the chat, its
audit record; and that a viewer cannot moderate (DESIGN I6)."""

from __future__ import annotations

from typing import Any

import httpx

from livecommerce import redisclient
from livecommerce.hub.protocol import CLOSE_BANNED
from livecommerce.moderation import state
from livecommerce.settings import Settings
from tests.hub_client import HubClient
from tests.support import Actors, ServerThread


async def _show_with_moderator(actors: Actors) -> tuple[dict[str, Any], dict[str, Any]]:
    owner = await actors.brand()
    product = await actors.product(owner=owner, stock=5)
    show = await actors.show(product_ids=[product["id"]], live=True)
    moderator = await actors.user("moderator")
    r = await actors.client.post(
        f"/api/sessions/{show['id']}/moderators",
        json={"user_id": moderator["id"]},
        headers=show["host"]["headers"],
    )
    assert r.status_code == 201, r.text
    return show, moderator


async def _log(client: httpx.AsyncClient, show: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.get(
        f"/api/sessions/{show['id']}/moderation/log", headers=show["host"]["headers"]
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_each_moderation_action_takes_effect_and_is_audited(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient, settings: Settings
) -> None:
    show, moderator = await _show_with_moderator(actors)
    sid = show["id"]
    talker = await actors.user("viewer")
    mod = await HubClient.open(server.url, token=moderator["token"])
    viewer = await HubClient.open(server.url, token=talker["token"])
    other = await HubClient.open(server.url)
    assert settings.redis_url is not None
    redis = redisclient.connect(settings.redis_url)
    try:
        for conn in (mod, viewer, other):
            await conn.join(sid)

        # delete a message (WebSocket): everyone is told, late joiners never see it
        sent = await viewer.request("chat", text="buy elsewhere, cheaper!")
        assert sent["type"] == "ack"
        reply = await mod.request(
            "moderate", action="delete_message", message_id=sent["message_id"]
        )
        assert reply["type"] == "ack", reply
        record = reply["moderation"]
        assert record["action"] == "delete_message" and record["actor_id"] == moderator["id"]
        assert record["target_user_id"] == talker["id"]
        assert record["target_message_id"] == sent["message_id"]
        gone = await other.wait(lambda f: f["type"] == "chat_deleted")
        assert gone["message_id"] == sent["message_id"]
        r = await client.get(f"/api/sessions/{sid}/state")
        assert sent["message_id"] not in [m["message_id"] for m in r.json()["chat"]]

        # mute for N minutes (HTTP), then unmute
        r = await client.post(
            f"/api/sessions/{sid}/moderation",
            json={"action": "mute", "user_id": talker["id"], "minutes": 5, "reason": "spam"},
            headers=moderator["headers"],
        )
        assert r.status_code == 201, r.text
        assert r.json()["details"]["minutes"] == 5 and r.json()["details"]["reason"] == "spam"
        refused = await viewer.request("chat", text="can I talk?")
        assert refused["type"] == "error" and refused["code"] == "muted"
        r = await client.get(f"/api/sessions/{sid}/moderation", headers=moderator["headers"])
        assert [m["user_id"] for m in r.json()["muted"]] == [talker["id"]]
        assert (await mod.request("moderate", action="unmute", user_id=talker["id"]))[
            "type"
        ] == "ack"
        assert (await viewer.request("chat", text="back"))["type"] == "ack"

        # ban (WebSocket): the user is removed from the show and may not rejoin; everyone
        # is told (to hide the user's messages). Then unban (HTTP).
        assert (await mod.request("moderate", action="ban", user_id=talker["id"]))["type"] == "ack"
        assert await viewer.wait_closed() == CLOSE_BANNED
        told = await other.wait(lambda f: f["type"] == "user_banned")
        assert told["user_id"] == talker["id"]
        await viewer.close()
        viewer = await HubClient.open(server.url, token=talker["token"])
        refused = await viewer.request("join", session=sid)
        assert refused["type"] == "error" and refused["code"] == "banned"
        assert (await viewer.request("chat", text="still here"))["code"] == "not_joined"
        r = await client.post(
            f"/api/sessions/{sid}/moderation",
            json={"action": "unban", "user_id": talker["id"]},
            headers=show["host"]["headers"],
        )
        assert r.status_code == 201, r.text
        await viewer.join(sid)
        assert (await viewer.request("chat", text="thanks"))["type"] == "ack"

        # slow mode: one message per N seconds per user; the error goes to the sender only
        reply = await mod.request("moderate", action="slow_mode", seconds=30)
        assert reply["type"] == "ack"
        assert (await viewer.request("chat", text="first"))["type"] == "ack"
        slow = await viewer.request("chat", text="second")
        assert slow["type"] == "error" and slow["code"] == "slow_mode"
        assert (await mod.request("moderate", action="slow_mode", seconds=0))["type"] == "ack"
        await redis.delete(f"lc:{{s:{sid}}}:chatrate:{talker['id']}")  # the hub's burst limit

        # blocked words: refused with a clear error to the sender; nobody sees the message
        r = await client.post(
            f"/api/sessions/{sid}/moderation",
            json={"action": "blocked_words", "words": ["Spoiler", " scam "]},
            headers=moderator["headers"],
        )
        assert r.status_code == 201 and r.json()["details"]["words"] == ["scam", "spoiler"]
        blocked = await viewer.request("chat", text="total SCAM, do not buy")
        assert blocked["code"] == "blocked_word" and "scam" in blocked["message"]
        assert (await viewer.request("chat", text="scampi looks great"))["type"] == "ack"
        await other.wait(lambda f: f.get("text") == "scampi looks great")
        assert not [f for f in other.frames if "SCAM" in str(f.get("text"))]
        assert not [f for f in other.frames if f["type"] == "error"]
        r = await client.get(f"/api/sessions/{sid}/moderation", headers=moderator["headers"])
        assert r.json()["blocked_words"] == ["scam", "spoiler"] and r.json()["slow_mode_s"] == 0

        # end the stream (HTTP): viewers are told, the session is ended in SQL
        r = await client.post(
            f"/api/sessions/{sid}/moderation",
            json={"action": "end_stream", "reason": "over time"},
            headers=moderator["headers"],
        )
        assert r.status_code == 201, r.text
        state = await other.wait(lambda f: f["type"] == "session_state")
        assert state["status"] == "ended"
        assert (await client.get(f"/api/sessions/{sid}")).json()["status"] == "ended"
        again = await mod.request("moderate", action="end_stream")
        assert again["type"] == "error" and again["code"] == "bad_transition"

        log = await _log(client, show)
        assert [e["action"] for e in reversed(log)] == [
            "add_moderator",
            "delete_message",
            "mute",
            "unmute",
            "ban",
            "unban",
            "slow_mode",
            "slow_mode",
            "blocked_words",
            "end_stream",
        ]
        actors_by_action = {e["action"]: e["actor_id"] for e in log}
        assert actors_by_action["unban"] == show["host"]["id"]
        assert actors_by_action["end_stream"] == moderator["id"]
        assert all(e["created_at"] and e["session_id"] == sid for e in log)
    finally:
        for conn in (mod, viewer, other):
            await conn.close()
        await redis.aclose()


async def test_a_viewer_cannot_moderate(
    server: ServerThread, actors: Actors, client: httpx.AsyncClient
) -> None:
    show, _ = await _show_with_moderator(actors)
    sid = show["id"]
    viewer = await actors.user("viewer")
    target = await actors.user("viewer")
    conn = await HubClient.open(server.url, token=viewer["token"])
    try:
        await conn.join(sid)
        for body in (
            {"action": "ban", "user_id": target["id"]},
            {"action": "delete_message", "message_id": "abc123"},
            {"action": "end_stream"},
        ):
            reply = await conn.request("moderate", **body)
            assert reply["type"] == "error" and reply["code"] == "forbidden", reply
            r = await client.post(
                f"/api/sessions/{sid}/moderation", json=body, headers=viewer["headers"]
            )
            assert r.status_code == 403, r.text
            r = await client.post(f"/api/sessions/{sid}/moderation", json=body)
            assert r.status_code == 401, r.text
        r = await client.delete(f"/api/sessions/{sid}/chat/abc123", headers=viewer["headers"])
        assert r.status_code == 403
        for path in ("moderation", "moderation/log", "dashboard"):
            r = await client.get(f"/api/sessions/{sid}/{path}", headers=viewer["headers"])
            assert r.status_code == 403, (path, r.text)
        r = await client.get("/api/admin/sessions", headers=show["host"]["headers"])
        assert r.status_code == 403
        # a moderator of another show has no rights here; the host cannot be muted
        _, stranger = await _show_with_moderator(actors)
        r = await client.post(
            f"/api/sessions/{sid}/moderation",
            json={"action": "mute", "user_id": target["id"], "minutes": 1},
            headers=stranger["headers"],
        )
        assert r.status_code == 403
        r = await client.post(
            f"/api/sessions/{sid}/moderation",
            json={"action": "ban", "user_id": show["host"]["id"]},
            headers=show["host"]["headers"],
        )
        assert r.status_code == 403 and r.json()["code"] == "protected"
        # bad input is a clear 4xx
        for body in ({"action": "mute", "user_id": target["id"]}, {"action": "explode"}):
            r = await client.post(
                f"/api/sessions/{sid}/moderation", json=body, headers=show["host"]["headers"]
            )
            assert r.status_code == 422, r.text
        bad = await conn.request("moderate", action="slow_mode")
        assert bad["type"] == "error" and bad["code"] == "validation_failed"
        assert (await conn.request("chat", text="still allowed to chat"))["type"] == "ack"
        # Only the host's adding of the moderator: nothing the viewer tried.
        assert [e["action"] for e in await _log(client, show)] == ["add_moderator"]
    finally:
        await conn.close()


def test_blocked_words_match_whole_words_and_phrases_in_any_case() -> None:
    words = state.normalize_words([" Scam", "free money", "scam", "", "c++"])
    assert words == ("c++", "free money", "scam")
    assert state.blocked_word_in("Total SCAM!", words) == "scam"
    assert state.blocked_word_in("get FREE   money", words) is None  # phrases match as written
    assert state.blocked_word_in("free money here", words) == "free money"
    assert state.blocked_word_in("scampi and escams", words) is None
    assert state.blocked_word_in("I write c++ daily", words) == "c++"
    assert state.blocked_word_in("anything", ()) is None
