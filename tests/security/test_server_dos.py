"""Both MCP servers survive hostile connections (docs/security/servers.md).

Each test runs against a real ``qms-mcp`` and a real ``git-mcp`` subprocess on 127.0.0.1
with short, explicit limits (a 2 s read deadline, 16 connections per peer), so the
attacks finish in seconds:

* 2,000 half-open connections from one peer (127.0.0.2, all of 127/8 is loopback) leave
  the server's descriptors bounded and a legitimate authenticated call from another peer
  answers;
* a request head trickled one byte at a time is answered ``408`` and closed at the
  deadline, however many bytes it sends;
* oversized heads (``431``) and bodies (``413``) and malformed requests (``400``) are
  refused and the server keeps serving.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agentdock.defaults import PROTOCOL_VERSION, child_env
from agentdock.mcphost import TokenStore
from agentdock.mcphost.limits import raise_nofile_limit
from agentdock.mcphost.process import ServerProcess, mcp_server_process
from agentdock.qms.project import init_project

READ_TIMEOUT_S = 2.0
PER_PEER = 16
LIMIT_ARGS = (
    "--read-timeout",
    str(READ_TIMEOUT_S),
    "--idle-timeout",
    str(READ_TIMEOUT_S),
    "--max-connections-per-peer",
    str(PER_PEER),
    "--max-connections",
    "256",
    "--max-header-bytes",
    "8192",
    "--max-body-bytes",
    "65536",
)
ATTACKER = "127.0.0.2"

SERVERS = {
    "qms-mcp": ("agentdock.qms.mcp", "qms_inbox", {}),
    "git-mcp": ("agentdock.gitgate.server", "git_exec", {"command": "status --short"}),
}


@dataclass(frozen=True)
class Target:
    name: str
    server: ServerProcess
    token: str
    tool: str
    arguments: dict[str, object]

    @property
    def port(self) -> int:
        return int(self.server.url.rsplit(":", 1)[1].split("/", 1)[0])


def make_project(root: Path) -> Path:
    """A QMS project that is also a git working tree with one commit (git-mcp serves a work tree)."""
    init_project(root)
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Test"],
        ["config", "user.email", "test@example.invalid"],
        ["add", "-A"],
        ["commit", "-q", "-m", "project"],
    ):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return root


@contextlib.contextmanager
def start(name: str, root: Path, token: str, *extra: str) -> Iterator[Target]:
    module, tool, arguments = SERVERS[name]
    args = ["--stateless", "--json-response", *LIMIT_ARGS, *extra]  # later flags win
    with mcp_server_process(name, module, root, env=child_env(), extra_args=args) as server:
        yield Target(name, server, token, tool, dict(arguments))


@pytest.fixture(scope="module", params=sorted(SERVERS))
def project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, str]:
    name = request.param
    root = make_project(tmp_path_factory.mktemp(name.replace("-", "_")))
    return name, root, TokenStore(root).ensure("claude")


@pytest.fixture(scope="module")
def target(project: tuple[str, Path, str]) -> Iterator[Target]:
    with start(*project) as running:
        yield running


def call_tool(target: Target) -> dict[str, object]:
    """A legitimate, authenticated ``tools/call`` (stateless JSON mode): its ``result``."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": target.tool, "arguments": target.arguments},
    }
    headers = {
        "authorization": f"Bearer {target.token}",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": PROTOCOL_VERSION,
    }
    response = httpx.post(target.server.url, json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    message = response.json()
    assert "result" in message, message
    result: dict[str, object] = message["result"]
    assert result.get("isError") is False, result
    return result


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settle(predicate: object, timeout_s: float = 15.0) -> bool:
    """Poll ``predicate()`` until true or ``timeout_s`` (bounded in time and count)."""
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / 0.05) + 1):
        if predicate():  # type: ignore[operator]
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return False


def raw_exchange(port: int, payload: bytes, *, timeout_s: float = 10.0) -> bytes:
    """Send ``payload`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before it has read it all
            sock.sendall(payload)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


# -- the attacks -------------------------------------------------------------------------------------


def test_two_thousand_half_open_connections_from_one_peer_leave_a_legitimate_call_answering(
    project: tuple[str, Path, str],
) -> None:
    raise_nofile_limit()
    # a read deadline longer than the test: only the per-peer cap can keep the descriptors bounded
    with start(*project, "--read-timeout", "120") as target:
        half_open_attack(target)


def half_open_attack(target: Target) -> None:
    pid = target.server.process.pid
    call_tool(target)
    baseline = open_fds(pid)
    attackers: list[socket.socket] = []
    try:
        for _ in range(2000):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            attackers.append(sock)
            sock.settimeout(5)
            sock.bind((ATTACKER, 0))
            try:
                sock.connect(("127.0.0.1", target.port))
                sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a head that never ends
            except OSError:
                continue  # refused or reset: the server turned it away
        assert sum(1 for sock in attackers if sock.fileno() >= 0) == 2000
        # bounded: the server holds at most PER_PEER of them (plus what it had)
        assert settle(lambda: open_fds(pid) <= baseline + PER_PEER + 4), (
            f"{target.name} holds {open_fds(pid)} descriptors (baseline {baseline})"
        )
        result = call_tool(target)  # while all 2,000 are still open on our side
        assert result["content"], result
    finally:
        for sock in attackers:
            sock.close()
    assert target.server.process.poll() is None, target.server.stderr


def test_a_head_sent_one_byte_at_a_time_is_closed_at_the_read_deadline(target: Target) -> None:
    head = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    with socket.create_connection(("127.0.0.1", target.port), timeout=READ_TIMEOUT_S + 10) as sock:
        started = time.monotonic()
        sent = 0
        answer = b""
        sock.setblocking(False)
        for byte in head:  # one byte every 0.25 s: 25 s if nothing stopped it
            try:
                sock.send(bytes([byte]))
                sent += 1
            except OSError:
                break
            with contextlib.suppress(BlockingIOError):
                chunk = sock.recv(4096)
                answer += chunk
                if not chunk or answer:
                    break
            time.sleep(0.25)
        sock.settimeout(READ_TIMEOUT_S + 10)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(4096):
                answer += chunk
        elapsed = time.monotonic() - started
    assert status_of(answer) == 408, answer
    assert sent < len(head), "the server let the whole trickled head through"
    assert elapsed < READ_TIMEOUT_S + 5, f"closed after {elapsed:.1f} s, deadline {READ_TIMEOUT_S} s"
    call_tool(target)


def test_an_idle_connection_that_sends_nothing_is_closed(target: Target) -> None:
    with socket.create_connection(("127.0.0.1", target.port), timeout=READ_TIMEOUT_S + 10) as sock:
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(4096):
                answer += chunk
    assert status_of(answer) == 408


@pytest.mark.parametrize(
    ("case", "payload", "status"),
    [
        (
            "head over --max-header-bytes",
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
            431,
        ),
        (
            "body over --max-body-bytes (declared)",
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000,
            413,
        ),
        (
            "body over --max-body-bytes (chunked)",
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"8000\r\n" + b"x" * 0x8000 + b"\r\n") * 3
            + b"0\r\n\r\n",
            413,
        ),
        ("garbage request line", b"\x16\x03\x01 not http at all\r\n\r\n", 400),
        ("bad Content-Length", b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ten\r\n\r\n", 400),
        ("no Host header", b"POST /mcp HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400),
    ],
)
def test_oversized_and_malformed_requests_get_4xx_and_the_server_keeps_serving(
    target: Target, case: str, payload: bytes, status: int
) -> None:
    answer = raw_exchange(target.port, payload.replace(b"{token}", target.token.encode()))
    assert status_of(answer) == status, f"{case}: {answer[:300]!r}"
    result = call_tool(target)
    assert json.dumps(result)
    assert target.server.process.poll() is None, target.server.stderr
