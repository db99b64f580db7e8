"""Several ``livecommerce serve`` nodes behind nginx, as a deployment runs them.

``MultiNode(settings, tmp_dir)`` starts N nodes (default 3) on free ports, all on the
test's SQL database and Redis, each with ``NODE_URL`` set to its own address, then nginx
on a free port with ``deploy/nginx.conf`` rendered for those nodes (only its node lines
and its ``listen`` line change). nginx runs as the current user with ``-p``/``-c`` on a
temp dir that holds its pid file, logs and temp files: no root needed. Readiness is
polled; nothing sleeps. A module-scoped fixture::

    @pytest.fixture(scope="module")
    def cluster(settings, tmp_path_factory):
        with MultiNode(settings, tmp_path_factory.mktemp("multinode")) as cluster:
            yield cluster

``cluster.url`` is nginx; ``cluster.nodes[i]`` has ``.url``, ``.kill()`` (SIGKILL),
``.start()`` (again on the same port), ``.alive`` and its log (``.log_path``,
``.log_offset()``, ``.bad_lines()``); ``cluster.nginx_conf`` is the rendered site file.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from types import TracebackType

import httpx

from livecommerce.settings import Settings
from tests.processes import ServeProcess
from tests.support import free_port, seconds

__all__ = ["EXAMPLE_CONF", "MultiNode", "Nginx", "Node", "render_nginx_conf"]

#: The shipped example; the tests run exactly this file.
EXAMPLE_CONF = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"

_BEGIN = "# nodes (begin)"
_END = "# nodes (end)"
_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}:\d+")
_LISTEN = re.compile(r"^(\s*)listen\s+[^;]+;", re.MULTILINE)


def render_nginx_conf(template: str, nodes: list[str], *, listen: str) -> str:
    """``template`` with each node block holding one line per address in ``nodes``
    (its first line is the pattern: the address in it is replaced) and every
    ``listen`` directive listening on ``listen`` instead."""
    lines = template.splitlines()
    out: list[str] = []
    i = 0
    blocks = 0
    while i < len(lines):
        out.append(lines[i])
        if lines[i].strip() != _BEGIN:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == _END)
        pattern = lines[i + 1]
        if not _ADDRESS.search(pattern):
            raise ValueError(f"no host:port in the node line {pattern!r}")
        out.extend(_ADDRESS.sub(address, pattern, count=1) for address in nodes)
        out.append(lines[end])
        blocks += 1
        i = end + 1
    if blocks == 0:
        raise ValueError(f"no {_BEGIN!r} block in the template")
    text, listens = _LISTEN.subn(rf"\1listen {listen};", "\n".join(out) + "\n")
    if listens == 0:
        raise ValueError("no listen directive in the template")
    return text


def _main_conf(run_dir: Path, site: Path) -> str:
    """The nginx.conf around the site file: what Debian's /etc/nginx/nginx.conf holds,
    with every path in ``run_dir`` so nginx runs as any user."""
    # As root, the workers would switch to `nobody`, who cannot read a private temp dir.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {run_dir / ('temp-' + kind)};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\n"
        "worker_processes 1;\n"
        f"pid {run_dir / 'nginx.pid'};\n"
        f"error_log {run_dir / 'error.log'} notice;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        f"    access_log {run_dir / 'access.log'};\n"
        f"{temp}\n"
        f"    include {site};\n"
        "}\n"
    )


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise RuntimeError("nginx is missing: run scripts/install_nginx")
    return found


class Nginx:
    """nginx on a free port in front of ``nodes`` (addresses ``host:port``), with
    ``template`` (the shipped ``deploy/nginx.conf`` unless told) rendered for them."""

    def __init__(self, run_dir: Path, nodes: list[str], *, template: Path = EXAMPLE_CONF) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir = run_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = run_dir / "livecommerce.conf"
        self.conf.write_text(
            render_nginx_conf(template.read_text(), nodes, listen=f"127.0.0.1:{self.port}")
        )
        self.main_conf = run_dir / "nginx.conf"
        self.main_conf.write_text(_main_conf(run_dir, self.conf))
        self.error_log = run_dir / "error.log"
        self.access_log = run_dir / "access.log"
        binary = nginx_binary()
        # -e: the log nginx writes before it has read its configuration.
        args = [binary, "-p", str(run_dir), "-c", str(self.main_conf), "-e", str(self.error_log)]
        check = subprocess.run([*args, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
        self._out = (run_dir / "nginx.out").open("wb")
        self.process = subprocess.Popen(args, stdout=self._out, stderr=subprocess.STDOUT)

    def wait_ready(self, *, status: int = 200) -> Nginx:
        """Poll ``/healthz`` through nginx until it answers ``status`` (200: a node
        answered; 502: nginx is up and no node is)."""
        deadline = threading.Event()
        timer = threading.Timer(seconds(30), deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                if self.process.poll() is not None:
                    raise RuntimeError("nginx exited:\n" + self.error_log.read_text())
                try:
                    if httpx.get(self.url + "/healthz", timeout=1).status_code == status:
                        return self
                except httpx.HTTPError:
                    pass
                deadline.wait(0.05)
        finally:
            timer.cancel()
        raise RuntimeError("nginx did not start:\n" + self.error_log.read_text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast shutdown: open WebSockets too
            try:
                self.process.wait(seconds(10))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()


class Node:
    """One ``livecommerce serve`` of the cluster; keeps its port across restarts."""

    def __init__(self, settings: Settings, data_dir: Path, env: dict[str, str]) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.data_dir = data_dir
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.env = {"NODE_URL": self.url, **env}
        self.process: ServeProcess | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / "serve.log"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.process.poll() is None

    def spawn(self) -> Node:
        """Start the process; :meth:`wait_ready` waits for it."""
        if self.alive:
            raise RuntimeError(f"node {self.url} is already running")
        self.process = ServeProcess(self.settings, self.data_dir, port=self.port, **self.env)
        return self

    def wait_ready(self) -> Node:
        assert self.process is not None
        self.process.wait_ready()
        return self

    def start(self) -> Node:
        """(Re)start the node on its port and wait until it answers."""
        return self.spawn().wait_ready()

    def kill(self) -> None:
        """SIGKILL, as a crash: no shutdown runs, its sockets are reset."""
        assert self.process is not None
        self.process.process.kill()
        self.process.stop()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def bad_lines(self, since: int = 0) -> list[str]:
        assert self.process is not None
        return self.process.bad_lines(since)


class MultiNode:
    """``count`` nodes behind nginx; a context manager. ``env`` goes to every node."""

    def __init__(self, settings: Settings, tmp_dir: Path, *, count: int = 3, **env: str) -> None:
        self.tmp_dir = tmp_dir
        self.nodes = [Node(settings, tmp_dir / f"node{i}", env) for i in range(count)]
        self.nginx: Nginx | None = None

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    @property
    def nginx_conf(self) -> Path:
        assert self.nginx is not None
        return self.nginx.conf

    def start(self) -> MultiNode:
        try:
            for node in self.nodes:  # all boot at once: start-up is mostly imports
                node.spawn()
            for node in self.nodes:
                node.wait_ready()
            self.nginx = Nginx(self.tmp_dir / "nginx", [n.address for n in self.nodes])
            self.nginx.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for node in self.nodes:
            node.stop()

    def node_at(self, address: str) -> Node:
        """The node listening on ``address`` (``host:port``, as nginx names it)."""
        return next(n for n in self.nodes if n.address == address)

    def __enter__(self) -> MultiNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
