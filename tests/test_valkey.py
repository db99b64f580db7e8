"""The private valkey-server: started, shared by a second process of the app, stopped."""

from __future__ import annotations

from pathlib import Path

import redis


def test_second_instance_shares_the_running_server(tmp_path: Path) -> None:
    from livecommerce.valkey import EmbeddedValkey

    first = EmbeddedValkey(tmp_path / "valkey")
    url = first.start()
    try:
        client = redis.Redis.from_url(url)
        client.set("k", "v")
        second = EmbeddedValkey(tmp_path / "valkey")
        assert second.start() == url
        second.stop()  # it does not own the server: the data stays reachable
        assert client.get("k") == b"v"
        client.close()
    finally:
        first.stop()
    assert not (tmp_path / "valkey" / "valkey.sock").exists() or not first._ping()


def test_aof_keeps_data_across_a_kill(tmp_path: Path) -> None:
    from livecommerce.valkey import EmbeddedValkey

    server = EmbeddedValkey(tmp_path / "v", appendfsync="always")
    client = redis.Redis.from_url(server.start())
    client.set("sold", 3)
    client.close()
    server.kill()
    client = redis.Redis.from_url(server.start())
    try:
        assert client.get("sold") == b"3"
    finally:
        client.close()
        server.stop()
