"""Host MCP servers (``qms-mcp``, ``git-mcp``): probe, start in the background, stop.

A server counts as healthy when an MCP ``initialize`` over Streamable HTTP with
an agent's bearer token succeeds.  When it fails, the launcher starts the
server detached (its own session, so Ctrl-C in the launcher leaves it up),
with pid and log files in ``paths.run_dir(root)``, and waits — bounded — until
it is healthy.  ``stop_servers`` ends exactly the processes whose pid files it
wrote, after checking the pid still belongs to that server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agentdock import __version__, paths
from agentdock.launcher.errors import ServerError
from agentdock.launcher.project import child_env, find_console_script

__all__ = [
    "PROTOCOL_VERSION",
    "Probe",
    "ServerSpec",
    "ensure_servers",
    "mcp_initialize",
    "server_specs",
    "start_server",
    "stop_servers",
]

PROTOCOL_VERSION = "2025-06-18"


@dataclass(frozen=True)
class ServerSpec:
    name: str  # "qms" | "git" (the .mcp.json name)
    command: str  # console script
    root: Path
    port: int
    hosts: tuple[str, ...] = ("127.0.0.1",)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def pid_file(self) -> Path:
        return paths.run_dir(self.root) / f"{self.command}.pid"

    @property
    def log_file(self) -> Path:
        return paths.run_dir(self.root) / f"{self.command}.log"

    def argv(self) -> list[str]:
        return [
            *find_console_script(self.command),
            "--transport",
            "streamable-http",
            "--host",
            ",".join(self.hosts),
            "--port",
            str(self.port),
            "--project-root",
            str(self.root),
        ]


def server_specs(
    root: Path, hosts: Sequence[str], qms_port: int = 8000, git_port: int = 8001
) -> list[ServerSpec]:
    return [
        ServerSpec("qms", "qms-mcp", root, qms_port, tuple(hosts)),
        ServerSpec("git", "git-mcp", root, git_port, tuple(hosts)),
    ]


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str  # server name/version, or what failed
    status: int | None = None  # HTTP status when one came back


def _first_json(response: httpx.Response) -> Any:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data:"):
                return json.loads(line[5:].strip())
        raise ValueError("SSE response without a data line")
    return response.json()


def mcp_initialize(client: httpx.Client, url: str, token: str) -> Probe:
    """One MCP ``initialize`` (then DELETE of the session) — the health check of a server."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "agentdock-launcher", "version": __version__},
        },
    }
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    try:
        response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        return Probe(False, f"{type(exc).__name__}: {exc}")
    if response.status_code != 200:
        return Probe(False, f"HTTP {response.status_code}: {response.text[:200]}", response.status_code)
    try:
        message = _first_json(response)
        info = message["result"]["serverInfo"]
        detail = f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except (ValueError, KeyError, TypeError) as exc:
        return Probe(False, f"not an MCP initialize result: {exc}", response.status_code)
    session = response.headers.get("mcp-session-id")
    if session:
        # the probe succeeded; a failed goodbye does not change that
        with contextlib.suppress(httpx.HTTPError):
            client.delete(
                url, headers={**headers, "mcp-session-id": session, "mcp-protocol-version": PROTOCOL_VERSION}
            )
    return Probe(True, detail, 200)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_is(pid: int, command: str) -> bool:
    """True when ``pid`` is alive and its command line mentions ``command`` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return _pid_alive(pid)  # no /proc (not Linux): trust the pid file
    return command in cmdline


def _log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_server(spec: ServerSpec) -> subprocess.Popen[bytes]:
    """Start ``spec`` detached; pid file and log under the run folder."""
    run = paths.run_dir(spec.root)
    run.mkdir(parents=True, exist_ok=True)
    argv = spec.argv()
    try:
        with open(spec.log_file, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=child_env(),
                cwd=spec.root,
            )
    except OSError as exc:
        raise ServerError(f"cannot start {spec.command}: {exc}") from exc
    spec.pid_file.write_text(json.dumps({"pid": proc.pid, "argv": argv, "port": spec.port}) + "\n")
    return proc


def ensure_servers(
    specs: Sequence[ServerSpec],
    token: str,
    *,
    timeout_s: float = 30.0,
    on_event: Callable[[str], None] = lambda _: None,
    client: httpx.Client | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Probe]:
    """Make every server in ``specs`` answer ``initialize``; start the ones that don't.  Bounded."""
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(5.0), trust_env=False)
    try:
        results: dict[str, Probe] = {}
        started: dict[str, subprocess.Popen[bytes]] = {}
        for spec in specs:
            probe = mcp_initialize(http, spec.url, token)
            if probe.ok:
                on_event(f"{spec.command} already running on port {spec.port} ({probe.detail})")
                results[spec.name] = probe
            elif probe.status in {401, 403}:
                raise ServerError(
                    f"{spec.command} on port {spec.port} refused the agent's token ({probe.detail}); "
                    f"is it serving another project? Stop it (./launch.sh stop) and launch again"
                )
            elif probe.status is not None:
                raise ServerError(f"port {spec.port} answers but not as {spec.command}: {probe.detail}")
            else:
                on_event(f"starting {spec.command} on port {spec.port} (log: {spec.log_file})")
                started[spec.name] = start_server(spec)
        deadline = clock() + timeout_s
        for spec in specs:
            if spec.name not in started:
                continue
            proc = started[spec.name]
            while True:
                probe = mcp_initialize(http, spec.url, token)
                if probe.ok:
                    results[spec.name] = probe
                    on_event(f"{spec.command} is healthy ({probe.detail})")
                    break
                if proc.poll() is not None:
                    spec.pid_file.unlink(missing_ok=True)
                    raise ServerError(
                        f"{spec.command} exited ({proc.returncode}) before answering; "
                        f"log {spec.log_file}:\n{_log_tail(spec.log_file)}"
                    )
                if clock() >= deadline:
                    raise ServerError(
                        f"{spec.command} did not answer initialize within {timeout_s:.0f}s ({probe.detail}); "
                        f"log {spec.log_file}:\n{_log_tail(spec.log_file)}"
                    )
                sleep(0.2)
        return results
    finally:
        if own:
            http.close()


def stop_servers(
    root: Path, commands: Sequence[str] = ("qms-mcp", "git-mcp"), *, timeout_s: float = 10.0
) -> list[str]:
    """SIGTERM (then SIGKILL after ``timeout_s``) each server started for ``root``; return what was stopped."""
    stopped: list[str] = []
    for command in commands:
        pid_file = paths.run_dir(root) / f"{command}.pid"
        try:
            pid = int(json.loads(pid_file.read_text())["pid"])
        except FileNotFoundError:
            continue
        except (OSError, ValueError, KeyError, TypeError):
            pid_file.unlink(missing_ok=True)
            continue
        if _pid_is(pid, command):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while _pid_alive(pid) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.1)
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
            _reap(pid)
            stopped.append(f"{command} (pid {pid})")
        pid_file.unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own child (servers started by this process), so it cannot linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
