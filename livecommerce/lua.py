"""The one way to run Lua on Redis: named scripts, run by SHA1 (EVALSHA).

Every script the project runs is a :class:`Script` registered here under a unique
name (:func:`script` for inline text, :func:`script_file` for a ``.lua`` file in a
package). :meth:`Script.run` sends ``EVALSHA`` only, so the script text crosses the
network once per Redis server: on ``NOSCRIPT`` (a new, restarted or flushed server)
it loads the script and runs it again. It works with both clients the project uses:
:class:`~livecommerce.redismux.RedisMux` (the checkout's pipelined connection) and
``redis.asyncio.Redis``.

A script's keys must hash to one Redis Cluster slot (``livecommerce.keys``: one
session's or one product's keys share a hash tag): :meth:`Script.run` refuses a call
whose keys do not, with :class:`CrossSlotKeys`, on a single server too, so a key
set that a cluster would reject with ``CROSSSLOT`` fails in every test run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import NoScriptError

from livecommerce.redismux import RedisMux

__all__ = [
    "CrossSlotKeys",
    "Script",
    "check_one_slot",
    "load_all",
    "registry",
    "script",
    "script_file",
]


class CrossSlotKeys(ValueError):
    """A script was called with keys in more than one cluster hash slot."""


def check_one_slot(keys: Sequence[str]) -> None:
    """Raise :class:`CrossSlotKeys` unless every key of ``keys`` hashes to one slot."""
    if len(keys) < 2:
        return
    slots = {key_slot(k.encode()) for k in keys}
    if len(slots) > 1:
        raise CrossSlotKeys(f"keys in {len(slots)} cluster slots, one script needs one: {keys}")


class Script:
    """A Lua script: its registry ``name``, ``source`` and ``sha`` (SHA1 of the source)."""

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"Script({self.name!r}, sha={self.sha[:8]})"

    async def run(
        self, client: RedisMux | Redis, keys: Sequence[str], args: Sequence[Any] = ()
    ) -> Any:
        """EVALSHA with ``keys`` and ``args``; loads the script first if the server
        answers NOSCRIPT. Redis errors are redis-py's, whichever the client; keys in
        more than one cluster slot raise :class:`CrossSlotKeys` before anything is sent."""
        check_one_slot(keys)
        try:
            return await _evalsha(client, self.sha, keys, args)
        except NoScriptError:
            await _load(client, self.source)
            return await _evalsha(client, self.sha, keys, args)


async def _evalsha(
    client: RedisMux | Redis, sha: str, keys: Sequence[str], args: Sequence[Any]
) -> Any:
    if isinstance(client, RedisMux):
        return await client.execute("EVALSHA", sha, len(keys), *keys, *args)
    return await client.evalsha(sha, len(keys), *keys, *args)


async def _load(client: RedisMux | Redis, source: str) -> None:
    if isinstance(client, RedisMux):
        await client.execute("SCRIPT", "LOAD", source)
    else:
        await client.script_load(source)


_REGISTRY: dict[str, Script] = {}


def script(name: str, source: str) -> Script:
    """Register ``source`` under ``name`` (unique across the project) and return it."""
    found = _REGISTRY.get(name)
    if found is not None:
        if found.source != source:
            raise ValueError(f"two different Lua scripts are named {name!r}")
        return found
    created = _REGISTRY[name] = Script(name, source)
    return created


def script_file(package: str, name: str) -> Script:
    """Register the script in ``<package>/lua/<name>.lua`` as ``<package>.<name>``."""
    source = resources.files(package).joinpath("lua", f"{name}.lua").read_text()
    return script(f"{package}.{name}", source)


def registry() -> dict[str, Script]:
    """Every registered script by name (a copy)."""
    return dict(_REGISTRY)


async def load_all(client: RedisMux | Redis) -> None:
    """SCRIPT LOAD every registered script (optional: :meth:`Script.run` loads on demand)."""
    for found in _REGISTRY.values():
        await _load(client, found.source)
