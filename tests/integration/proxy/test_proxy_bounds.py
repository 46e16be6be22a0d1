"""The real proxy against a tiny real server that answers a tool call with an endless SSE line.

The proxy (``proxy/mcp_proxy.py --max-message-bytes 65536``) answers that call with its one
JSON-RPC error, stops reading the stream (the server sees the connection go), and answers the
next request; its memory never holds the stream.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agentdock.proxy.errors import UPSTREAM_PROTOCOL_ERROR_CODE

REPO = Path(__file__).resolve().parents[3]
PROXY_SCRIPT = REPO / "proxy" / "mcp_proxy.py"
CAP = 65536
CHUNK = b"x" * 65536
MAX_CHUNKS = 4096  # the "endless" line stops at 256 MiB even if nobody closes it


@dataclass
class EndlessServer:
    port: int = 0
    streamed: list[int] = field(default_factory=list)  # bytes sent per endless stream before it broke


def _read_request(conn: socket.socket) -> dict[str, object] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    message: dict[str, object] = json.loads(body)
    return message


def _serve_one(conn: socket.socket, server: EndlessServer) -> None:
    with conn:
        message = _read_request(conn)
        if message is None:
            return
        if message.get("method") == "tools/call":
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: "
            )
            sent = 0
            with contextlib.suppress(OSError):
                for _ in range(MAX_CHUNKS):
                    conn.sendall(CHUNK)
                    sent += len(CHUNK)
            server.streamed.append(sent)
            return
        body = json.dumps({"jsonrpc": "2.0", "id": message.get("id"), "result": {}}).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )


@contextlib.contextmanager
def endless_server() -> Iterator[EndlessServer]:
    server = EndlessServer()
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(30)
            threading.Thread(target=_serve_one, args=(conn, server), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_an_endless_sse_line_gets_one_error_and_the_proxy_keeps_serving() -> None:
    with endless_server() as server:
        url = f"http://127.0.0.1:{server.port}/mcp"
        proxy = subprocess.Popen(
            [
                sys.executable,
                str(PROXY_SCRIPT),
                url,
                "--max-message-bytes",
                str(CAP),
                "--retries",
                "0",
                "--no-get-stream",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proxy.stdin is not None and proxy.stdout is not None
        try:
            call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "flood"}}
            proxy.stdin.write(json.dumps(call).encode() + b"\n")
            proxy.stdin.flush()
            first = json.loads(proxy.stdout.readline())
            proxy.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}).encode() + b"\n")
            proxy.stdin.flush()
            second = json.loads(proxy.stdout.readline())
            rss = _rss_kib(proxy.pid)
        finally:
            proxy.stdin.close()
            try:
                proxy.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proxy.kill()
                proxy.wait(timeout=5)
            stderr = proxy.stderr.read().decode() if proxy.stderr else ""
            if proxy.stderr:
                proxy.stderr.close()
            proxy.stdout.close()
        # the server notices the proxy hung up (bounded wait: its sender thread ends at the break)
        deadline = time.monotonic() + 20
        while not server.streamed and time.monotonic() < deadline:
            time.sleep(0.05)
    assert first["id"] == 1 and first["error"]["code"] == UPSTREAM_PROTOCOL_ERROR_CODE, (first, stderr)
    assert "--max-message-bytes" in first["error"]["message"]
    assert second == {"jsonrpc": "2.0", "id": 2, "result": {}}, stderr
    assert server.streamed and server.streamed[0] < MAX_CHUNKS * len(CHUNK), "the proxy read the whole flood"
    assert rss < 200 * 1024, f"proxy RSS {rss} KiB"
