"""Warm start: proxy/mcp_proxy.py hands its start to a real fork server (agentdock.proxy.warm).

The server runs as a subprocess on a temporary socket with ``--entry warm_probe:main``
(tests/support/warm_probe.py), a stand-in for the proxy that reports what its child sees.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from agentdock.proxy.warm import encode_request, parse_request, running_server

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "proxy" / "mcp_proxy.py"


@pytest.fixture
def sock_path(tmp_path: Path) -> str:
    # AF_UNIX paths are short (108 bytes): pytest's tmp_path may be long
    short = Path("/tmp") / f"warm-{os.getpid()}-{tmp_path.name[-20:]}"
    return str(short / "proxy.sock")


@pytest.fixture
def server(sock_path: str, warm_probe_env: Callable[..., dict[str, str]]) -> Iterator[subprocess.Popen[str]]:
    with running_server(sock_path, args=["--entry", "warm_probe:main"], env=warm_probe_env()) as process:
        yield process


def _client_env(sock_path: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTDOCK_PROXY_WARM_SOCKET"}
    if sock_path is not None:
        env["AGENTDOCK_PROXY_WARM_SOCKET"] = sock_path
    env.update(extra)
    return env


def run_client(
    sock_path: str | None, *args: str, stdin: str = "", env: Mapping[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else _client_env(sock_path),
        timeout=60,
        check=False,
        **kw,
    )


def start_client(sock_path: str, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else _client_env(sock_path),
    )


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def test_a_start_runs_in_a_child_of_the_warm_server_with_the_clients_argv_cwd_and_umask(
    server: subprocess.Popen[str], sock_path: str, tmp_path: Path
) -> None:
    done = run_client(sock_path, "info", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["ppid"] == server.pid
    assert info["argv"] == [str(SCRIPT), "info"]
    assert info["cwd"] == str(tmp_path)
    assert info["umask"] == os.umask(os.umask(0o22))


def test_stdin_and_stdout_are_the_clients_own(server: subprocess.Popen[str], sock_path: str) -> None:
    lines = "".join(f'{{"jsonrpc":"2.0","id":{i},"method":"ping"}}\n' for i in range(200))
    done = run_client(sock_path, "echo", stdin=lines)
    assert done.returncode == 0, done.stderr
    assert done.stdout == lines  # every byte of stdin reached the child; nothing was read twice


@pytest.mark.parametrize("code", [0, 3, 70])
def test_the_client_exits_with_the_childs_code(
    server: subprocess.Popen[str], sock_path: str, code: int
) -> None:
    assert run_client(sock_path, "exit", str(code)).returncode == code


@pytest.mark.parametrize(
    ("signum", "expected"),
    [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGHUP, 128 + signal.SIGHUP), (signal.SIGINT, 130)],
    ids=["TERM", "HUP", "INT"],
)
def test_signals_to_the_client_reach_the_child(
    server: subprocess.Popen[str], sock_path: str, signum: int, expected: int
) -> None:
    client = start_client(sock_path, "wait")
    assert client.stdout is not None
    child = json.loads(client.stdout.readline())["ready"]
    assert child in _children(server.pid)
    client.send_signal(signum)
    client.wait(timeout=30)  # stdin stays open: only the signal can end the child
    _, err = client.communicate(timeout=30)
    assert client.returncode == expected, err
    assert child not in _children(server.pid)


def test_without_a_socket_the_proxy_starts_cold(tmp_path: Path) -> None:
    done = run_client(str(tmp_path / "missing.sock"), "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: mcp-proxy" in done.stdout  # the real proxy, not the probe


def test_a_refusing_server_means_a_cold_start(
    sock_path: str, warm_probe_env: Callable[..., dict[str, str]]
) -> None:
    args = ["--entry", "warm_probe:main", "--max-children", "0"]
    with running_server(sock_path, args=args, env=warm_probe_env()):
        done = run_client(sock_path, "--help")
    assert done.returncode == 0, done.stderr
    assert "usage: mcp-proxy" in done.stdout


def test_a_wedged_server_costs_at_most_about_two_seconds_then_the_proxy_starts_cold(
    sock_path: str,
) -> None:
    os.makedirs(os.path.dirname(sock_path), mode=0o700, exist_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as wedged:
        wedged.bind(sock_path)
        wedged.listen(8)  # accepts in the kernel, never reads, never answers
        started = time.monotonic()
        done = run_client(sock_path, "--help")
        elapsed = time.monotonic() - started
    os.unlink(sock_path)
    assert done.returncode == 0, done.stderr
    assert "usage: mcp-proxy" in done.stdout
    assert elapsed < 2.0 + 5.0  # the 2 s wait, plus a cold start on a loaded machine


def test_two_clients_children_see_only_their_own_environment(
    server: subprocess.Popen[str], sock_path: str
) -> None:
    first = start_client(sock_path, "wait", env=_client_env(sock_path, AGENT_TOKEN="token-of-first"))
    assert first.stdout is not None
    json.loads(first.stdout.readline())  # the first child runs while the second starts
    second = run_client(
        sock_path, "info", env=_client_env(sock_path, AGENT_TOKEN="token-of-second", ONLY_SECOND="1")
    )
    first.communicate(input="", timeout=30)
    env = json.loads(second.stdout)["env"]
    assert env == _client_env(sock_path, AGENT_TOKEN="token-of-second", ONLY_SECOND="1")
    assert "token-of-first" not in second.stdout


def test_every_child_is_reaped(server: subprocess.Popen[str], sock_path: str) -> None:
    for code in range(5):
        assert run_client(sock_path, "exit", str(code)).returncode == code
    # the exit code is sent after waitpid: no child, and so no zombie, is left
    assert _children(server.pid) == []


def _raw(sock_path: str, payload: bytes, fds: list[int] | None = None) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(sock_path)
        if fds:
            socket.send_fds(sock, [payload], fds)
        else:
            sock.sendall(payload)
        return sock.recv(256)


def test_an_oversize_request_is_refused_before_it_is_read(
    server: subprocess.Popen[str], sock_path: str
) -> None:
    reply = _raw(sock_path, (2 << 20).to_bytes(4, "big") + b"{")
    assert reply == b"Erequest too large\n"
    assert server.poll() is None


def test_a_slow_handshake_is_dropped_at_the_deadline(
    sock_path: str, warm_probe_env: Callable[..., dict[str, str]]
) -> None:
    args = ["--entry", "warm_probe:main", "--handshake-timeout-s", "0.3"]
    with running_server(sock_path, args=args, env=warm_probe_env()) as process:
        reply = _raw(sock_path, b"\x00\x00")  # half a header, then silence
        assert reply == b"Ehandshake timed out\n"
        done = run_client(sock_path, "exit", "4")  # and the server still serves
        assert done.returncode == 4
        assert process.poll() is None


def test_a_request_carries_argv_env_and_cwd_byte_for_byte_whatever_their_encoding() -> None:
    odd = os.fsdecode(b"caf\xe9")  # Latin-1 bytes: not UTF-8, kept as surrogate escapes
    env = {"MCP_PROXY_AUTH_TOKEN": "t=o=k", "EMPTY": "", "ODD": odd, "SPACE": "a b\nc"}
    argv = ["/proxy/mcp_proxy.py", "http://h/mcp", "", "--header", f"X={odd}"]
    request = parse_request(encode_request(argv, env, f"/w/{odd}", 0o27))
    assert (request.argv, request.env, request.cwd, request.umask) == (argv, env, f"/w/{odd}", 0o27)
    assert os.fsencode(request.env["ODD"]) == b"caf\xe9"


def test_the_script_builds_the_same_request_bytes_as_encode_request(tmp_path: Path) -> None:
    """proxy/mcp_proxy.py builds the request by hand (stdlib only, no json): the server must read it."""
    script = Path(__file__).resolve().parents[3] / "proxy" / "mcp_proxy.py"
    path = str(tmp_path / "s.sock")
    code = (
        "import importlib.util, os, sys\n"
        f"spec = importlib.util.spec_from_file_location('thin', {str(script)!r})\n"
        "thin = importlib.util.module_from_spec(spec); spec.loader.exec_module(thin)\n"
        "os.umask(0o27)\n"
        f"print(thin._warm_start({path!r}, ['x', 'y z']))\n"
    )
    received: list[bytes] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(30)
        env = {"PATH": os.environ["PATH"], "A": "1=2"}
        client = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE)
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(30)
                size = int.from_bytes(conn.recv(4, socket.MSG_WAITALL), "big")
                received.append(conn.recv(size, socket.MSG_WAITALL))
                conn.sendall(b"Enot now\n")  # refused: the script starts cold (here: returns None)
            out, _ = client.communicate(timeout=30)
        finally:
            client.kill()
            client.wait()
    assert out.strip() == b"None"
    request = parse_request(received[0])
    assert request.argv == ["x", "y z"] and request.cwd == str(tmp_path) and request.umask == 0o27
    assert {k: request.env[k] for k in ("A", "PATH")} == {"A": "1=2", "PATH": env["PATH"]}
