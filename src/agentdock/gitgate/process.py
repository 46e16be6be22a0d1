"""Run ``git-mcp`` as a real subprocess: a plain context manager for tests, demos and scripts.

::

    with git_server_process(root, env=env) as server:
        print(server.url)          # http://127.0.0.1:<port>/mcp

A thin layer over :func:`agentdock.mcphost.process.mcp_server_process`.  The child
gets the environment given (the server then builds git's own allow-listed
environment from it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from agentdock.mcphost.process import ServerProcess, ServerStartError, mcp_server_process

__all__ = ["GitServerProcess", "ServerStartError", "git_server_process"]

#: The same handle the QMS server's runner yields.
GitServerProcess = ServerProcess


@contextlib.contextmanager
def git_server_process(
    root: Path,
    *,
    env: Mapping[str, str],
    hosts: Sequence[str] = ("127.0.0.1",),
    extra_args: Sequence[str] = (),
    start_timeout_s: float = 30.0,
) -> Iterator[ServerProcess]:
    with mcp_server_process(
        "git-mcp",
        "agentdock.gitgate.server",
        root,
        env=env,
        hosts=hosts,
        extra_args=extra_args,
        start_timeout_s=start_timeout_s,
    ) as server:
        yield server
