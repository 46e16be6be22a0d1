"""Run ``git-mcp`` as a real subprocess: a plain context manager for tests, demos and scripts.

::

    with git_server_process(root, env=env) as server:
        print(server.url)          # http://127.0.0.1:<port>/mcp

The child gets an argument list and the environment given (the server then
builds git's own allow-listed environment from it).  The port is read from its
``listening on`` line with a bounded wait; on exit the child is terminated
(then killed) and its stderr is kept as evidence.
"""

from __future__ import annotations

import contextlib
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GitServerProcess", "ServerStartError", "git_server_process"]

_LISTENING = re.compile(r"listening on (http://\S+)")


class ServerStartError(RuntimeError):
    """git-mcp did not announce its address in time; carries its stderr."""


@dataclass
class GitServerProcess:
    url: str
    process: subprocess.Popen[str]
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


@contextlib.contextmanager
def git_server_process(
    root: Path,
    *,
    env: Mapping[str, str],
    hosts: Sequence[str] = ("127.0.0.1",),
    extra_args: Sequence[str] = (),
    start_timeout_s: float = 30.0,
) -> Iterator[GitServerProcess]:
    args = [
        sys.executable,
        "-m",
        "agentdock.gitgate.server",
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
        env=dict(env),
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

    reader = threading.Thread(target=drain, name="git-mcp-stderr", daemon=True)
    reader.start()
    try:
        try:
            url = announced.get(timeout=start_timeout_s)
        except queue.Empty:
            url = ""
        if not url:
            raise ServerStartError(f"git-mcp did not start (exit {process.poll()}):\n{''.join(lines)}")
        yield GitServerProcess(url=url, process=process, stderr_lines=lines)
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
