"""A restart is never held by a client: SIGTERM gives requests in flight ``--shutdown-grace``, no more.

uvicorn's graceful shutdown waits for every open connection to finish its response. One that
never does (a listening stream, a peer that stopped reading, a half-sent request behind a lossy
link) held each restart of the servers until something else timed it out; the launch soak
measured 4.5-5.3 s stops, longer than Claude Code waits for its tools. The half-sent request
below stands for all of them: it would hold the server for the whole ``--read-timeout``.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from agentdock.qms.process import qms_server_process

# Far apart, so the outcome cannot be luck: the held request could keep the server for 120 s.
HOLD_S = 120
GRACE_S = 1
WAIT_S = 60


def _half_sent_request(url: str, token: str) -> socket.socket:
    """A POST whose head promises 1,000 body bytes and whose body stops after 10."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"jsonrpc"')
    return sock


def test_sigterm_ends_the_server_within_its_grace_even_while_a_request_hangs(
    project: Path, tokens: dict[str, str]
) -> None:
    args = ["--read-timeout", str(HOLD_S), "--idle-timeout", str(HOLD_S), "--shutdown-grace", str(GRACE_S)]
    with qms_server_process(project, extra_args=args) as server:
        held = _half_sent_request(server.url, tokens["claude"])
        try:
            time.sleep(0.5)  # the server has read the head and waits for the rest of the body
            server.process.send_signal(signal.SIGTERM)
            try:
                server.process.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"qms-mcp still running {WAIT_S} s after SIGTERM (grace {GRACE_S} s):\n{server.stderr}"
                ) from None
        finally:
            held.close()
    # uvicorn re-raises the signal once it has shut down: the exit status says SIGTERM, not a crash
    assert server.process.returncode == -signal.SIGTERM, server.stderr
    assert "timeout graceful shutdown exceeded" in server.stderr, server.stderr


def test_a_request_that_finishes_within_the_grace_is_answered_before_the_server_exits(
    project: Path, tokens: dict[str, str]
) -> None:
    args = ["--shutdown-grace", "30"]
    with qms_server_process(project, extra_args=args) as server:
        sock = _half_sent_request(server.url, tokens["claude"])
        try:
            time.sleep(0.5)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.process.poll() is None, "the server left before its request in flight was done"
            sock.sendall(b" " * 990)  # the rest of the body: malformed JSON, answered with an error
            sock.settimeout(20)
            answer = sock.recv(65536)
        finally:
            sock.close()
        server.process.wait(timeout=WAIT_S)
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
