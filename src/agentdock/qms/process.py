"""Run ``qms-mcp`` as a real subprocess: a plain context manager for tests, benchmarks and scripts.

::

    with qms_server_process(root, stateless=True) as server:
        print(server.url)          # http://127.0.0.1:<port>/mcp

The child gets an argument list (no shell) and an allow-listed environment; the
port is read from its ``listening on`` line, with a bounded wait.  On exit the
child is terminated (then killed); its stderr is kept for evidence on failure.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ENV_ALLOW_LIST", "ServerProcess", "ServerStartError", "qms_server_process"]

ENV_ALLOW_LIST = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT")
_LISTENING = re.compile(r"listening on (http://\S+)")


class ServerStartError(RuntimeError):
    """The server did not announce its address in time; carries its stderr."""


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[str]
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


@contextlib.contextmanager
def qms_server_process(
    root: Path,
    *,
    stateless: bool = False,
    json_response: bool = False,
    hosts: Sequence[str] = ("127.0.0.1",),
    extra_args: Sequence[str] = (),
    start_timeout_s: float = 30.0,
) -> Iterator[ServerProcess]:
    args = [
        sys.executable,
        "-m",
        "agentdock.qms.mcp",
        "--transport",
        "streamable-http",
        "--project-root",
        str(root),
        "--port",
        "0",
        "--host",
        ",".join(hosts),
    ]
    if stateless:
        args.append("--stateless")
    if json_response:
        args.append("--json-response")
    args += list(extra_args)
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOW_LIST}
    process = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
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

    reader = threading.Thread(target=drain, name="qms-mcp-stderr", daemon=True)
    reader.start()
    try:
        try:
            url = announced.get(timeout=start_timeout_s)
        except queue.Empty:
            url = ""
        if not url:
            raise ServerStartError(f"qms-mcp did not start (exit {process.poll()}):\n{''.join(lines)}")
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
