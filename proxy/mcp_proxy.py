#!/usr/bin/env python3
"""MCP stdio <-> Streamable HTTP proxy: ``python3 mcp_proxy.py URL [--retries N] [--timeout MS] [--header K=V]...``.

A thin launcher for :mod:`agentdock.proxy.cli`. It finds the package in this
order: already importable; the repository's ``src/`` next to this file; and,
inside the agent image, by re-executing itself with the agentdock venv's
interpreter (``/opt/agentdock/venv/bin/python`` or ``$AGENTDOCK_PYTHON``).

A venv's ``python`` is usually a symlink to the system binary, so the venv is told
apart by its *prefix* (``sys.prefix``), never by the binary's real path: a login
shell's ``/usr/bin/python3`` and the venv's interpreter are the same file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

VENV_PYTHON = "/opt/agentdock/venv/bin/python"
_REEXEC_GUARD = "AGENTDOCK_PROXY_REEXEC"


def _skip_unused_imports() -> None:
    """Keep modules the proxy never runs out of its start-up.

    ``import httpx`` also imports httpx's command-line client (click, rich,
    pygments: about two thirds of the proxy's import time) whenever those are
    installed, as they are in the agent image's venv. ``None`` in
    ``sys.modules`` makes that optional import fail at once; httpx then
    installs a stub for its ``httpx`` console command, which the proxy never
    calls. Only this process is affected, and only if httpx is not loaded yet.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _import_main():  # type: ignore[no-untyped-def]
    _skip_unused_imports()
    try:
        from agentdock.proxy.cli import main
    except ImportError:
        return None
    return main


def _running_in(python: str) -> bool:
    """Whether this process already runs in the environment ``python`` belongs to (same prefix)."""
    prefix = os.path.dirname(os.path.dirname(os.path.abspath(python)))  # <prefix>/bin/python
    return os.path.realpath(sys.prefix) == os.path.realpath(prefix)


def _locate():  # type: ignore[no-untyped-def]
    main = _import_main()
    if main is not None:
        return main
    src = Path(__file__).resolve().parent.parent / "src"
    if (src / "agentdock" / "proxy").is_dir():
        sys.path.insert(0, str(src))
        main = _import_main()
        if main is not None:
            return main
    python = os.environ.get("AGENTDOCK_PYTHON") or VENV_PYTHON
    if os.environ.get(_REEXEC_GUARD) != "1" and os.path.exists(python) and not _running_in(python):
        os.environ[_REEXEC_GUARD] = "1"
        os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])  # noqa: S606 - argv list
    sys.stderr.write(
        f"mcp-proxy: cannot import agentdock.proxy with {sys.executable} and no usable {python}; install agentdock or set AGENTDOCK_PYTHON\n"
    )
    sys.exit(70)


def _run_and_leave(main) -> None:  # type: ignore[no-untyped-def]
    """Run the proxy; once it has returned, flush what it wrote and end the process at once.

    Everything the proxy owns is closed when ``main`` returns (stdout's writer,
    the HTTP client, the session's DELETE sent). Tearing the interpreter down
    after that (module by module, the idle threads) took 100-200 ms, and a
    client that waits for its MCP servers to exit (``claude mcp list`` does)
    waited for it. ``SystemExit`` (``--help``, a usage error) and exceptions
    take the ordinary way out.
    """
    code = main()
    import logging

    logging.shutdown()  # flushes and closes the handlers (stderr, --log-file), as exiting would
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    _run_and_leave(_locate())
