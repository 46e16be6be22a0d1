"""qms-mcp and git-mcp under hostile connections: a legitimate call's latency with and without them.

Real server subprocesses on 127.0.0.1 with their default limits (``agentdock.mcphost.limits``),
stateless JSON mode.  For each server:

* ``call p50/p99``  — an authenticated ``tools/call`` (``qms_inbox`` / ``git_exec status``), one at a
  time over a keep-alive connection, idle server (``subject: quiet``) and while 2,000 half-open
  connections from another peer (127.0.0.2) are held open (``subject: 2000 half-open``, ``ratio``
  against quiet);
* ``held by the server`` — descriptors the server holds during the attack (1 s after the last
  connect), above its quiet count (the per-peer cap bounds it);
* ``slowloris closed after`` — a head trickled one byte every 0.5 s is answered 408 and closed at
  the read deadline (default 10 s).

Run alone: ``.venv/bin/python benchmarks/run.py --only server_dos``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from agentdock.defaults import PROTOCOL_VERSION, child_env
from agentdock.mcphost import TokenStore
from agentdock.mcphost.limits import DEFAULT_LIMITS, raise_nofile_limit
from agentdock.mcphost.process import ServerProcess, mcp_server_process
from agentdock.qms.project import init_project

CALLS = 200
HALF_OPEN = 2000
ATTACKER = "127.0.0.2"
SERVERS = {
    "qms-mcp": ("agentdock.qms.mcp", "qms_inbox", {}),
    "git-mcp": ("agentdock.gitgate.server", "git_exec", {"command": "status --short"}),
}


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _project(root: Path) -> str:
    init_project(root)
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@b.invalid", "commit", "-qm", "p"],
    ):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return TokenStore(root).ensure("claude")


def _calls(http: httpx.Client, url: str, tool: str, arguments: dict[str, Any]) -> list[float]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        response = http.post(url, json=body)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200 or response.json()["result"].get("isError"):
            raise RuntimeError(f"call failed: {response.status_code} {response.text[:200]}")
    return samples


@contextlib.contextmanager
def _half_open(port: int) -> Iterator[int]:
    held: list[socket.socket] = []
    try:
        for _ in range(HALF_OPEN):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.settimeout(5)
            with contextlib.suppress(OSError):
                sock.bind((ATTACKER, 0))
                sock.connect(("127.0.0.1", port))
                sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        yield len(held)
    finally:
        for sock in held:
            sock.close()


def _slowloris(port: int) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_LIMITS.read_timeout_s + 10) as sock:
        started = time.perf_counter()
        sock.setblocking(False)
        for _ in range(int(DEFAULT_LIMITS.read_timeout_s * 4) + 40):
            try:
                sock.send(b"a" if _ else b"POST /mcp HTTP/1.1\r\nX: ")
                if sock.recv(4096):
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            time.sleep(0.5)
        return time.perf_counter() - started


def _fds(server: ServerProcess) -> int:
    return len(os.listdir(f"/proc/{server.process.pid}/fd"))


def _bench(name: str, root: Path) -> list[dict[str, Any]]:
    module, tool, arguments = SERVERS[name]
    token = _project(root)
    args = ["--stateless", "--json-response"]
    if os.geteuid() == 0:
        args.append("--allow-root")  # a root-owned scratch project: nobody to drop to
    rows: list[dict[str, Any]] = []
    with mcp_server_process(name, module, root, env=child_env(), extra_args=args) as server:
        port = int(server.url.rsplit(":", 1)[1].split("/", 1)[0])
        headers = {
            "authorization": f"Bearer {token}",
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": PROTOCOL_VERSION,
        }
        with httpx.Client(headers=headers, timeout=30) as http:
            _calls(http, server.url, tool, arguments)  # warm-up
            quiet = _calls(http, server.url, tool, arguments)
            quiet_fds = _fds(server)
            with _half_open(port):
                time.sleep(1.0)  # let the server drain its accept backlog (refused ones close at once)
                held = _fds(server) - quiet_fds
                attacked = _calls(http, server.url, tool, arguments)
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            base = _pct(quiet, q) * 1000
            rows.append({"name": f"{name} call {label}", "subject": "quiet", "value": base, "unit": "ms"})
            value = _pct(attacked, q) * 1000
            rows.append(
                {
                    "name": f"{name} call {label}",
                    "subject": f"{HALF_OPEN} half-open",
                    "value": value,
                    "unit": "ms",
                    "ratio": value / base,
                    "note": "vs quiet",
                }
            )
        rows.append(
            {
                "name": f"{name} held by the server",
                "subject": f"{HALF_OPEN} half-open",
                "value": held,
                "unit": "fds",
                "note": f"per-peer cap {DEFAULT_LIMITS.max_connections_per_peer}",
            }
        )
        rows.append(
            {
                "name": f"{name} slowloris closed after",
                "subject": "1 byte / 0.5 s",
                "value": _slowloris(port),
                "unit": "s",
                "note": f"read timeout {DEFAULT_LIMITS.read_timeout_s:g} s",
            }
        )
    return rows


def run() -> list[dict[str, Any]]:
    raise_nofile_limit()
    rows: list[dict[str, Any]] = []
    for name in SERVERS:
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            rows += _bench(name, Path(tmp))
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run():
        print(row)
