"""Run ``qms-mcp`` as a real subprocess: a plain context manager for tests, benchmarks and scripts.

::

    with qms_server_process(root, stateless=True) as server:
        print(server.url)          # http://127.0.0.1:<port>/mcp

A thin layer over :func:`agentdock.mcphost.process.mcp_server_process`; the child
gets an allow-listed copy of this process's environment.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from agentdock.mcphost.process import ServerProcess, ServerStartError, mcp_server_process

__all__ = ["ENV_ALLOW_LIST", "ServerProcess", "ServerStartError", "qms_server_process"]

ENV_ALLOW_LIST = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT")


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
    flags = [*(["--stateless"] if stateless else []), *(["--json-response"] if json_response else [])]
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOW_LIST}
    with mcp_server_process(
        "qms-mcp",
        "agentdock.qms.mcp",
        root,
        env=env,
        hosts=hosts,
        extra_args=[*flags, *extra_args],
        start_timeout_s=start_timeout_s,
    ) as server:
        yield server
