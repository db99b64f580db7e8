"""A private Valkey Cluster: three ``valkey-server`` masters on 127.0.0.1.

Built from the same ``valkey-server`` binary as the private server
(:func:`livecommerce.valkey.valkey_server_binary`), for tests and CI: each master
runs with ``cluster-enabled yes`` on a port of its own (``port``, ``port + 1``,
``port + 2``; each also opens its cluster bus on ``port + 10000``), owns a third
of the 16384 hash slots (``CLUSTER ADDSLOTSRANGE``), and the three are joined with
``CLUSTER MEET``. :meth:`ValkeyCluster.start` returns once every master reports
``cluster_state:ok``. No replicas, no persistence: the data lives as long as the
processes, which :meth:`ValkeyCluster.stop` ends.

From a shell (CI's cluster pass)::

    python -m livecommerce.valkeycluster --port 7100 -- scripts/test tests/test_cart.py

starts the cluster, runs the command with ``REDIS_URL=redis+cluster://127.0.0.1:7100``
(the form :mod:`livecommerce.redisclient` opens with redis-py's cluster client),
stops the cluster and exits with the command's status. Without a command it prints
the URL and runs until interrupted.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import redis

from livecommerce.valkey import valkey_server_binary

__all__ = ["SLOTS", "ValkeyCluster", "free_base_port"]

#: Hash slots of a Redis/Valkey Cluster.
SLOTS = 16384


class ValkeyCluster:
    """``masters`` cluster-enabled ``valkey-server`` processes on consecutive ports from
    ``port`` (0: the first free run of them, bus ports included); their files
    (``nodes.conf``, logs) under ``directory``."""

    def __init__(self, directory: Path, *, port: int = 7100, masters: int = 3) -> None:
        if masters < 1:
            raise ValueError("a cluster needs at least one master")
        self.directory = directory.resolve()
        port = port or free_base_port(masters)
        self.ports = [port + i for i in range(masters)]
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The URL the app opens as a cluster (any master is a seed; the client learns
        the others and the slot map from it)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 30.0) -> str:
        """Start the masters, assign the slots, join them; returns :attr:`url` once the
        cluster is ok. Raises (after stopping what it started) if it is not in time."""
        deadline = time.monotonic() + timeout
        try:
            for port in self.ports:
                self._processes.append(self._spawn(port))
            clients = [self._client(port) for port in self.ports]
            try:
                for port, client in zip(self.ports, clients, strict=True):
                    self._wait(partial(_answers, client), deadline, f"port {port} to answer")
                self._assign_slots(clients)
                for client in clients[1:]:
                    client.cluster("MEET", "127.0.0.1", self.ports[0])
                for client in clients:
                    self._wait(partial(_cluster_ok, client, len(clients)), deadline, "ok")
            finally:
                for client in clients:
                    client.close()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        node_dir = self.directory / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        # A node's identity and slots live in nodes.conf: a fresh cluster starts from none.
        (node_dir / "nodes.conf").unlink(missing_ok=True)
        args = [
            valkey_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(node_dir),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "5000",
            "--appendonly",
            "no",
            "--save",
            "",
            "--logfile",
            str(node_dir / "valkey.log"),
            "--daemonize",
            "no",
            "--maxclients",
            "20000",
        ]
        return subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    @staticmethod
    def _client(port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def _assign_slots(self, clients: list[redis.Redis]) -> None:
        share = SLOTS // len(clients)
        for i, client in enumerate(clients):
            first = i * share
            last = SLOTS - 1 if i == len(clients) - 1 else first + share - 1
            # Distinct config epochs before meeting: no collision to resolve at start-up.
            client.cluster("SET-CONFIG-EPOCH", i + 1)
            client.cluster("ADDSLOTSRANGE", first, last)

    def _wait(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        while True:
            for port, process in zip(self.ports, self._processes, strict=False):
                if process.poll() is not None:
                    log = (self.directory / str(port) / "valkey.log").read_text(errors="replace")
                    raise RuntimeError(f"valkey-server on {port} exited:\n{log[-2000:]}")
            try:
                if ready():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Valkey Cluster: timed out waiting for {what}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every master and reap it."""
        processes, self._processes = self._processes, []
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> ValkeyCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_base_port(count: int = 3) -> int:
    """A port ``p`` with ``p`` … ``p + count - 1`` and their cluster bus ports
    (``+ 10000``) free on 127.0.0.1 now."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + count + 10000 > 65535:
            continue
        try:
            for port in (base + i + bus for i in range(count) for bus in (0, 10000)):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free run of ports for a cluster")


def _answers(client: redis.Redis) -> bool:
    return bool(client.ping())


def _cluster_ok(client: redis.Redis, nodes: int) -> bool:
    fields: dict[str, str] = client.cluster("INFO")  # redis-py parses it into a dict
    return fields.get("cluster_state") == "ok" and fields.get("cluster_known_nodes") == str(nodes)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m livecommerce.valkeycluster",
        description="Start a private 3-master Valkey Cluster; run COMMAND against it.",
    )
    parser.add_argument(
        "--port", type=int, default=7100, help="first master's port (0: free ports)"
    )
    parser.add_argument("--masters", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    # SIGTERM (CI stopping us) unwinds like Ctrl-C, so the masters are stopped too.
    signal.signal(signal.SIGTERM, _interrupted)
    with tempfile.TemporaryDirectory(prefix="valkey-cluster-") as tmp:
        cluster = ValkeyCluster(
            options.dir or Path(tmp), port=options.port, masters=options.masters
        )
        started = time.monotonic()
        with cluster:
            print(
                f"==> Valkey Cluster at {cluster.url} "
                f"({len(cluster.ports)} masters, ok in {time.monotonic() - started:.1f} s)",
                flush=True,
            )
            if not command:
                try:
                    while True:
                        signal.pause()
                except KeyboardInterrupt:
                    return 0
            env = {**os.environ, "REDIS_URL": cluster.url}
            return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
