"""Host MCP servers (``qms-mcp``, ``git-mcp``): probe, start in the background, stop.

A server counts as healthy when an MCP ``initialize`` over Streamable HTTP with
an agent's bearer token succeeds.  When it fails, the launcher starts the
server detached (its own session, so Ctrl-C in the launcher leaves it up),
with pid and log files in ``paths.run_dir(root)``, and waits — bounded — until
it is healthy.  All of that happens under the project's ``servers.lock``, so two
launches at once start each server once.  ``stop_servers`` ends exactly the processes whose pid files it
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
from agentdock.defaults import GIT_PORT, PROTOCOL_VERSION, QMS_PORT, child_env
from agentdock.launcher.errors import ServerError
from agentdock.launcher.locks import step_lock
from agentdock.launcher.project import find_console_script
from agentdock.procinfo import pid_alive

__all__ = [
    "PROTOCOL_VERSION",
    "SERVERS_LOCK",
    "Probe",
    "ServerSpec",
    "ensure_servers",
    "mcp_initialize",
    "read_pid_file",
    "server_processes",
    "server_specs",
    "servers_keep_root",
    "start_server",
    "stop_servers",
]

#: The lock file (in the project's run folder) held while servers are probed and started.
SERVERS_LOCK = "servers.lock"


@dataclass(frozen=True)
class ServerSpec:
    name: str  # "qms" | "git" (the .mcp.json name)
    command: str  # console script
    root: Path
    port: int
    hosts: tuple[str, ...] = ("127.0.0.1",)
    allow_root: bool = False  # a root launch on a root-owned project: no owner to drop to
    extra_args: tuple[str, ...] = ()  # more server flags (the session soak's --session-lifetime)

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
            *(["--allow-root"] if self.allow_root else []),
            *self.extra_args,
        ]


def server_specs(
    root: Path,
    hosts: Sequence[str],
    qms_port: int = QMS_PORT,
    git_port: int | None = GIT_PORT,
    *,
    allow_root: bool = False,
    extra_args: Sequence[str] = (),
) -> list[ServerSpec]:
    """qms-mcp and, unless ``git_port`` is None (a project without git), git-mcp."""
    extra = tuple(extra_args)
    specs = [ServerSpec("qms", "qms-mcp", root, qms_port, tuple(hosts), allow_root, extra)]
    if git_port is not None:
        specs.append(ServerSpec("git", "git-mcp", root, git_port, tuple(hosts), allow_root, extra))
    return specs


def servers_keep_root(root: Path) -> bool:
    """Whether servers started by this process for ``root`` must stay root: this process is root and
    so is the project's owner (servers started as root otherwise become the owner)."""
    try:
        return os.geteuid() == 0 and root.stat().st_uid == 0
    except OSError:
        return False


@dataclass(frozen=True)
class Probe:
    ok: bool
    detail: str  # server name/version, or what failed
    status: int | None = None  # HTTP status when one came back
    started: bool = False  # this call started the server (a failed launch stops it again)


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


def _pid_is(pid: int, command: str) -> bool:
    """True when ``pid`` is alive and its command line mentions ``command`` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return pid_alive(pid)  # no /proc (not Linux): trust the pid file
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
                # the servers must read the token store the launcher writes, whatever decided it
                env=child_env(extra={"AGENTDOCK_DATA_DIR": str(paths.data_home())}),
                cwd=spec.root,
            )
    except OSError as exc:
        raise ServerError(f"cannot start {spec.command}: {exc}") from exc
    try:
        spec.pid_file.write_text(json.dumps({"pid": proc.pid, "argv": argv, "port": spec.port}) + "\n")
    except BaseException:  # no pid file (disk error, a signal just now): nothing could stop it later
        proc.kill()
        proc.wait()
        raise
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
    lock_timeout_s: float | None = None,
) -> dict[str, Probe]:
    """Make every server in ``specs`` answer ``initialize``; start the ones that don't.  Bounded.

    Holds the project's ``servers.lock`` (under ``paths.run_dir(root)``) throughout, so a
    second launch at the same moment waits (up to ``lock_timeout_s``, default ``timeout_s``
    + 30 s), then finds the servers this one started instead of starting its own.
    """
    wait_s = timeout_s + 30.0 if lock_timeout_s is None else lock_timeout_s
    with contextlib.ExitStack() as locks:
        for root in sorted({spec.root for spec in specs}, key=str):
            locks.enter_context(
                step_lock(
                    paths.run_dir(root) / SERVERS_LOCK,
                    what="starting the MCP servers",
                    timeout_s=wait_s,
                    on_wait=on_event,
                    clock=clock,
                    sleep=sleep,
                )
            )
        return _ensure_servers(
            specs, token, timeout_s=timeout_s, on_event=on_event, client=client, clock=clock, sleep=sleep
        )


def _ensure_servers(
    specs: Sequence[ServerSpec],
    token: str,
    *,
    timeout_s: float,
    on_event: Callable[[str], None],
    client: httpx.Client | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Probe]:
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(5.0), trust_env=False)
    try:
        results: dict[str, Probe] = {}
        started: dict[str, subprocess.Popen[bytes]] = {}
        try:
            _start_missing(
                specs, token, http, results=results, started=started, timeout_s=timeout_s,
                on_event=on_event, clock=clock, sleep=sleep,
            )  # fmt: skip
        except BaseException:
            # what this call started goes again: a failed start leaves no server behind
            for spec in specs:
                if spec.name in started:
                    stop_servers(spec.root, (spec.command,))
            raise
        return results
    finally:
        if own:
            http.close()


def _start_missing(
    specs: Sequence[ServerSpec],
    token: str,
    http: httpx.Client,
    *,
    results: dict[str, Probe],
    started: dict[str, subprocess.Popen[bytes]],
    timeout_s: float,
    on_event: Callable[[str], None],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
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
                results[spec.name] = Probe(True, probe.detail, probe.status, started=True)
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


def read_pid_file(pid_file: Path) -> int | None:
    """The pid a server's pid file names, or None when there is no (readable) pid file."""
    try:
        return int(json.loads(pid_file.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def server_processes(root: Path, commands: Sequence[str] = ("qms-mcp", "git-mcp")) -> list[int]:
    """Pids of running ``commands`` serving ``root`` (``--project-root ROOT`` in their argv), found
    in /proc whether or not a pid file names them; empty where there is no /proc."""
    wanted = str(root)
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        args = [arg.decode("utf-8", "replace") for arg in argv]
        serves_root = any(
            arg == "--project-root" and args[i + 1 : i + 2] == [wanted] for i, arg in enumerate(args)
        )
        if serves_root and any(Path(arg).name in commands for arg in args[:2]):
            found.append(int(entry.name))
    return sorted(found)


def stop_servers(
    root: Path,
    commands: Sequence[str] = ("qms-mcp", "git-mcp"),
    *,
    timeout_s: float = 10.0,
    orphans: bool = False,
) -> list[str]:
    """SIGTERM (then SIGKILL after ``timeout_s``) each server started for ``root``; return what was stopped.

    Servers are found through their pid files.  With ``orphans``, also every other running
    ``commands`` process serving ``root`` (`server_processes`), reported as
    ``"<command> (pid N, no pid file)"`` — for tests, which must leave nothing behind.
    Every server is signalled first and then waited for, so a restart's outage is the slowest
    server's shutdown, not the sum of them all (each may take its ``--shutdown-grace``).
    """
    stopped: list[str] = []
    pids: list[int] = []
    for command in commands:
        pid_file = paths.run_dir(root) / f"{command}.pid"
        if not pid_file.exists():
            continue
        pid = read_pid_file(pid_file)
        if pid is not None and _pid_is(pid, command):
            pids.append(pid)
            stopped.append(f"{command} (pid {pid})")
        pid_file.unlink(missing_ok=True)
    if orphans:
        for command in commands:
            for pid in server_processes(root, (command,)):
                if pid not in pids:
                    pids.append(pid)
                    stopped.append(f"{command} (pid {pid}, no pid file)")
    _terminate(pids, timeout_s)
    return stopped


def _terminate(pids: Sequence[int], timeout_s: float) -> None:
    """SIGTERM every pid, wait for them all (at most ``timeout_s``), SIGKILL the ones left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid in pids:
            _reap(pid)
        if not any(pid_alive(pid) for pid in pids):
            break
        time.sleep(0.05)
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own child (servers started by this process), so it cannot linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
