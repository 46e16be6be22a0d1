"""Attacks on the proxy's warm-start server (agentdock.proxy.warm), promise C12 of
docs/security/containers.md.

The server holds no secret and serves only its own uid: another uid cannot reach the socket
(folder 0700) and is refused by SO_PEERCRED even when the folder is opened; one client's
environment (its MCP token, its headers) and fds reach only its own child; garbage and
oversize handshakes are refused without hurting the server. The in-container part (the
entrypoint's allow-listed environment) runs against the real image.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentdock.launcher import (
    AgentContainerSpec,
    ImageSpec,
    LayoutSpec,
    agentdock_checkout,
    container_ids,
    ensure_image,
    existing_containers,
    provision_token,
    remove_container,
    start_agent_container,
    wait_until_ready,
)
from agentdock.launcher.project import init_demo_project
from agentdock.proxy.warm import encode_request, running_server

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "proxy" / "mcp_proxy.py"
NOBODY = 65534

CONNECT_AS_NOBODY = r"""
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
try:
    sock.connect(sys.argv[1])
except OSError as exc:
    print("connect:", type(exc).__name__)
    raise SystemExit(0)
payload = b"\0".join([b"agentdock-warm/1", b"22", b"/", b"2", b"x", b"info"])
try:
    sock.sendall(len(payload).to_bytes(4, "big") + payload)
except BrokenPipeError:
    pass  # refused at once: the server closed before the request; its answer is still queued
print("reply:", sock.recv(64))
"""


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[str]:
    folder = Path("/tmp") / f"warmsec-{os.getpid()}-{tmp_path.name[-16:]}"
    yield str(folder / "proxy.sock")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(sock_path: str, warm_probe_env: Callable[..., dict[str, str]]) -> Iterator[subprocess.Popen[str]]:
    with running_server(sock_path, args=["--entry", "warm_probe:main"], env=warm_probe_env()) as process:
        yield process


def _client_env(sock_path: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "AGENTDOCK_PROXY_WARM_SOCKET": sock_path, **extra}


def _as_nobody() -> None:
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def _connect_as_nobody(sock_path: str) -> str:
    python = shutil.which("python3", path="/usr/bin:/bin")
    if os.geteuid() != 0 or python is None:
        pytest.skip("needs root (to become another uid) and a system python3")
    done = subprocess.run(
        [python, "-I", "-S", "-c", CONNECT_AS_NOBODY, sock_path],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        preexec_fn=_as_nobody,  # the point: a second uid (no shell)
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_socket_folder_is_0700_and_another_uid_cannot_connect(
    server: subprocess.Popen[str], sock_path: str
) -> None:
    folder = os.lstat(os.path.dirname(sock_path))
    assert stat.S_IMODE(folder.st_mode) == 0o700
    assert folder.st_uid == os.getuid()
    assert stat.S_IMODE(os.lstat(sock_path).st_mode) & 0o077 == 0
    assert _connect_as_nobody(sock_path) == "connect: PermissionError"


def test_another_uid_is_refused_by_its_peer_credentials_even_if_the_folder_is_opened(
    server: subprocess.Popen[str], sock_path: str
) -> None:
    os.chmod(os.path.dirname(sock_path), 0o755)  # a mistake elsewhere opened the folder and socket
    os.chmod(sock_path, 0o666)
    assert _connect_as_nobody(sock_path) == "reply: b'Enot your server\\n'"
    assert server.poll() is None


def test_a_clients_token_and_fds_never_reach_another_clients_child(
    server: subprocess.Popen[str], sock_path: str
) -> None:
    first = subprocess.Popen(
        [sys.executable, str(SCRIPT), "wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_client_env(sock_path, AGENTDOCK_TOKEN="secret-of-first", MCP_HEADER="Bearer first"),
    )
    assert first.stdout is not None
    first_child = json.loads(first.stdout.readline())["ready"]
    second = subprocess.run(
        [sys.executable, str(SCRIPT), "info"],
        capture_output=True,
        text=True,
        env=_client_env(sock_path, AGENTDOCK_TOKEN="secret-of-second"),
        timeout=60,
        check=False,
    )
    first_env = Path(f"/proc/{first_child}/environ").read_bytes()
    first.communicate(input="", timeout=30)
    info = json.loads(second.stdout)
    assert info["env"]["AGENTDOCK_TOKEN"] == "secret-of-second"
    assert "secret-of-first" not in second.stdout and "Bearer first" not in second.stdout
    assert "MCP_HEADER" not in info["env"]
    # only its own stdio (and the fd listing /proc/self/fd): no listener, no other client's fds
    assert info["fds"] == [0, 1, 2, 3]
    # a child's exec-time environment is the server's, which never held a client's secret
    assert b"secret-of" not in first_env


def test_the_servers_own_environment_reaches_no_child(
    sock_path: str, warm_probe_env: Callable[..., dict[str, str]]
) -> None:
    env = warm_probe_env(SERVER_ONLY_SECRET="held-by-the-server")
    with running_server(sock_path, args=["--entry", "warm_probe:main"], env=env):
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "info"],
            capture_output=True,
            text=True,
            env=_client_env(sock_path),
            timeout=60,
            check=False,
        )
    assert "SERVER_ONLY_SECRET" not in json.loads(done.stdout)["env"]


def _exchange(sock_path: str, steps: list[tuple[bytes, int]]) -> bytes:
    """Send each (bytes, number of /dev/null fds attached) and return what the server answered."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(sock_path)
        for data, nfds in steps:
            fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(nfds)]
            try:
                if fds:
                    socket.send_fds(sock, [data], fds)
                elif data:
                    sock.sendall(data)
            except OSError:
                break
            finally:
                for fd in fds:
                    os.close(fd)
        with contextlib.suppress(OSError):  # the server may have closed already
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(256):
            answer += chunk
        return answer


def _framed(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


GOOD = _framed(encode_request(["x", "exit", "0"], {}, "/", 0o22))
GARBAGE: dict[str, list[tuple[bytes, int]]] = {
    "closes at once": [],
    "huge length": [(b"\xff\xff\xff\xff", 0)],
    "not a request": [(_framed(b"\x00\x01 garbage"), 0)],
    "json (not the format)": [(_framed(b'{"argv": ["x"], "env": {}, "cwd": "/", "umask": 18}'), 0)],
    "another version": [(_framed(b"agentdock-warm/2\x0022\x00/\x001\x00x"), 0)],
    "argc past the fields": [(_framed(b"agentdock-warm/1\x0022\x00/\x005\x00x"), 0)],
    "argc zero": [(_framed(b"agentdock-warm/1\x0022\x00/\x000\x00A=b"), 0)],
    "argc not a number": [(_framed(b"agentdock-warm/1\x0022\x00/\x00-1\x00x"), 0)],
    "env field without =": [(_framed(b"agentdock-warm/1\x0022\x00/\x001\x00x\x00ABC"), 0)],
    "env field with no name": [(_framed(b"agentdock-warm/1\x0022\x00/\x001\x00x\x00=c"), 0)],
    "empty cwd": [(_framed(b"agentdock-warm/1\x0022\x00\x001\x00x"), 0)],
    "umask out of range": [(_framed(b"agentdock-warm/1\x007777\x00/\x001\x00x"), 0)],
    "umask not octal": [(_framed(b"agentdock-warm/1\x0089\x00/\x001\x00x"), 0)],
    "bytes after the request": [(GOOD + b"trailing", 0)],
    "fds with the request": [(GOOD, 3)],
    "one fd": [(GOOD, 0), (b"F", 1)],
    "nine fds": [(GOOD, 0), (b"F", 9)],
    "wrong marker": [(GOOD, 0), (b"Z", 3)],
    "no go after P": [(GOOD, 0), (b"F", 3)],
}


@pytest.mark.parametrize("steps", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_and_oversize_handshakes_are_refused_and_the_server_serves_on(
    server: subprocess.Popen[str], sock_path: str, steps: list[tuple[bytes, int]]
) -> None:
    answer = _exchange(sock_path, steps).removeprefix(b"A\n")
    # refused with a reason, or (no go sent) a child that exits without running: nothing ran
    unstarted = answer.startswith(b"P") and answer.endswith(b"X75\n")
    assert answer.startswith(b"E") or answer == b"" or unstarted, answer
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "exit", "9"],
        capture_output=True,
        text=True,
        env=_client_env(sock_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == 9  # through the warm server: the probe's code
    assert server.poll() is None


# --- in the real image ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agent_with_secrets(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An agent container (qa) as ./launch.sh starts it, with an API key in its environment."""
    uid, gid = container_ids()
    tag = os.environ.get("AGENTDOCK_TEST_IMAGE", "claude-agent")
    ensure_image(docker_client, ImageSpec(repo=agentdock_checkout(), tag=tag, uid=uid, gid=gid))
    root = tmp_path_factory.mktemp("warmsec") / "acme"
    init_demo_project(root)
    layout = LayoutSpec(root, "qa", provision_token(root, "qa"), qms_port=1, git_port=2)
    spec = AgentContainerSpec(
        layout=layout,
        image=tag,
        uid=uid,
        gid=gid,
        environment={"ANTHROPIC_API_KEY": "sk-ant-warm-test-secret"},
    )
    container = start_agent_container(docker_client, spec)
    try:
        wait_until_ready(container, 60)
        yield container
    finally:
        for leftover in existing_containers(docker_client, root):
            remove_container(leftover)


@pytest.mark.docker
def test_in_the_image_the_warm_server_runs_as_the_agent_with_an_allow_listed_environment(
    agent_with_secrets: Any,
) -> None:
    script = (
        'pid=$(pgrep -f "^python3 -m agentdock[.]proxy[.]warm "); '
        'echo "uid $(stat -c %u /proc/$pid) agent $(id -u)"; '
        'echo "mode $(stat -c %a /run/agentdock/warm)"; '
        'tr "\\0" "\\n" </proc/$pid/environ | cut -d= -f1 | sort | tr "\\n" " "; echo; '
        'tr "\\0" "\\n" </proc/$pid/environ | grep -c sk-ant || true'
    )
    result = agent_with_secrets.exec_run(["bash", "-c", script])
    lines = result.output.decode().splitlines()
    assert len(lines) == 4, lines
    uid_line, mode_line, names, secret_count = lines
    _, server_uid, _, agent_uid = uid_line.split()
    assert server_uid == agent_uid != "0"
    assert mode_line == "mode 700"
    assert set(names.split()) <= {
        "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
        "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    }  # fmt: skip
    assert "ANTHROPIC_API_KEY" not in names and secret_count == "0"
