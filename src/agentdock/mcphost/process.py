"""Run one of agentdock's MCP servers as a real subprocess: a plain context manager.

Shared by ``qms-mcp`` and ``git-mcp`` (see :func:`agentdock.qms.process.qms_server_process`
and :func:`agentdock.gitgate.process.git_server_process`) for tests, benchmarks and scripts::

    with mcp_server_process("qms-mcp", "agentdock.qms.mcp", root, env=env) as server:
        print(server.url)          # http://127.0.0.1:<port>/mcp

Both servers print ``<name>: listening on http://H:P/mcp`` on stderr once bound
(:func:`agentdock.mcphost.http.serve`); the child starts on port 0 and the URL is
read from that line with a bounded wait.  The child gets an argument list (no
shell) and the environment given (plus ``AGENTDOCK_ALLOW_ROOT`` from this process when
``env`` does not say: a test suite run as root on root-owned scratch projects sets it
once).  On exit it is terminated (then killed); its
stderr is kept as evidence for failures.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentdock import paths

__all__ = ["ServerProcess", "ServerStartError", "mcp_server_process"]

_LISTENING = re.compile(r"listening on (http://\S+)")


class ServerStartError(RuntimeError):
    """The server did not announce its address in time; the message carries its stderr."""


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[str]
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


def _with_root_policy(env: Mapping[str, str]) -> dict[str, str]:
    child = dict(env)
    if "AGENTDOCK_ALLOW_ROOT" not in child and "AGENTDOCK_ALLOW_ROOT" in os.environ:
        child["AGENTDOCK_ALLOW_ROOT"] = os.environ["AGENTDOCK_ALLOW_ROOT"]
    return child


@contextlib.contextmanager
def mcp_server_process(
    name: str,
    module: str,
    root: Path,
    *,
    env: Mapping[str, str],
    hosts: Sequence[str] = ("127.0.0.1",),
    extra_args: Sequence[str] = (),
    start_timeout_s: float = 30.0,
) -> Iterator[ServerProcess]:
    """Start ``python -m <module> --transport streamable-http`` on a free port; yield its URL."""
    args = [
        sys.executable,
        "-m",
        module,
        "--transport",
        "streamable-http",
        "--project-root",
        str(root),
        "--port",
        "0",
        "--host",
        ",".join(hosts),
        *extra_args,
    ]
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # the token store lives in agentdock's data folder: the server must use the one this
        # process (which provisions the tokens) uses, even through an allow-listed environment
        env=_with_root_policy(
            {**env, "AGENTDOCK_DATA_DIR": env.get("AGENTDOCK_DATA_DIR") or str(paths.data_home())}
        ),
    )
    lines: list[str] = []
    announced: queue.Queue[str] = queue.Queue()

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = _LISTENING.search(line)
            if match:
                announced.put(match.group(1))
        announced.put("")

    reader = threading.Thread(target=drain, name=f"{name}-stderr", daemon=True)
    reader.start()
    try:
        try:
            url = announced.get(timeout=start_timeout_s)
        except queue.Empty:
            url = ""
        if not url:
            raise ServerStartError(f"{name} did not start (exit {process.poll()}):\n{''.join(lines)}")
        yield ServerProcess(url=url, process=process, stderr_lines=lines)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
