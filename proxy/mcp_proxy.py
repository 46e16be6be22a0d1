#!/usr/bin/env python3
"""MCP stdio <-> Streamable HTTP proxy: ``python3 mcp_proxy.py URL [--retries N] [--timeout MS] [--header K=V]...``.

A thin launcher for :mod:`agentdock.proxy.cli`. It finds the package in this
order: already importable; the repository's ``src/`` next to this file; and,
inside the agent image, by re-executing itself with the agentdock venv's
interpreter (``/opt/agentdock/venv/bin/python`` or ``$AGENTDOCK_PYTHON``).

A venv's ``python`` is usually a symlink to the system binary, so the venv is told
apart by its *prefix* (``sys.prefix``), never by the binary's real path: a login
shell's ``/usr/bin/python3`` and the venv's interpreter are the same file.

Warm start: with ``AGENTDOCK_PROXY_WARM_SOCKET`` set (the agent image sets it), the
proxy is first asked of the warm-start server (:mod:`agentdock.proxy.warm`, which has
imported it already): this script hands over its argv, environment, working folder
and stdio fds, forwards SIGTERM/SIGINT/SIGHUP to the child the server forked, and
exits with the child's code. Only the standard library runs on that path. If the
socket is missing or refuses, or no ``P<pid>`` answer comes within 2 s, the proxy
starts here as it always did (cold). Nothing can run twice: the child waits for this
script's ``G`` before it touches stdin, and ``G`` is sent only once the script has
committed to the warm path. The stdio fds go only to a server that has answered
(``A``), so a wedged server does not hold them. The protocol is in agentdock.proxy.warm.
"""

from __future__ import annotations

import os
import sys

VENV_PYTHON = "/opt/agentdock/venv/bin/python"
_REEXEC_GUARD = "AGENTDOCK_PROXY_REEXEC"
WARM_SOCKET_ENV = "AGENTDOCK_PROXY_WARM_SOCKET"
#: How long a silent or wedged warm server may delay the (cold) start.
WARM_WAIT_S = 2.0


def _read_line(sock, deadline: float | None, limit: int = 64) -> bytes:  # type: ignore[no-untyped-def]
    """One ``\n``-terminated reply from the warm server (b"" if it closed first)."""
    import time

    line = b""
    sock.settimeout(None)
    while not line.endswith(b"\n") and len(line) < limit:
        if deadline is not None:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = sock.recv(limit - len(line))
        if not chunk:
            return b""
        line += chunk
    return line


def _wait_gone(pid: int, pidfd: int | None) -> None:
    """Wait until ``pid`` (the warm server's child, not ours: no waitpid) has ended."""
    import select
    import time

    if pidfd is not None:
        select.select([pidfd], [], [])
        return
    while True:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)


def _warm_start(path: str, argv: list[str]) -> int | None:
    """Run the proxy in a child of the warm server; its exit code, or None to start cold.

    None is returned only while no child can have started: no ``P<pid>`` within
    :data:`WARM_WAIT_S` (refused, no socket, a wedged server), or the child vanished before
    our ``G``. After ``G`` the answer is the child's exit code (128+N for signal N),
    whatever happens to the server.
    """
    import _socket  # socket.py would add enum and selectors: 2.4 ms of a start that is ~15 ms in all
    import signal
    import time

    deadline = time.monotonic() + WARM_WAIT_S
    # agentdock.proxy.warm.encode_request, by hand: NUL-separated bytes need no json (7 ms of imports)
    payload = b"\0".join(
        [b"agentdock-warm/1", b"%o" % _umask(), os.getcwdb(), b"%d" % len(argv)]
        + [os.fsencode(arg) for arg in argv]
        + [name + b"=" + value for name, value in os.environb.items()]
    )
    message = len(payload).to_bytes(4, "big") + payload
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    pidfd: int | None = None
    try:
        try:
            sock.settimeout(WARM_WAIT_S)
            sock.connect(path)
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock.sendall(message)
            if _read_line(sock, deadline) != b"A\n":
                return None  # refused ("E<reason>"), closed or silent: the fds were never sent
            fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (0, 1, 2))  # an array of C ints
            sock.sendmsg([b"F"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
            reply = _read_line(sock, deadline)
            if not reply.startswith(b"P"):
                return None  # refused ("E<reason>") or closed: nothing was started
            pid = int(reply[1:])
        except (OSError, ValueError):
            return None  # no child will run: it waits for a G that never comes
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None

        def forward(signum: int, _frame: object) -> None:
            try:
                if pidfd is not None:
                    signal.pidfd_send_signal(pidfd, signum)
                else:
                    os.kill(pid, signum)
            except OSError:
                pass

        forwarded = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        previous = {signum: signal.signal(signum, forward) for signum in forwarded}
        try:
            sock.sendall(b"G")
        except OSError:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            return None  # the child is gone without our go: it never read stdin
        try:
            reply = _read_line(sock, None)
        except OSError:
            reply = b""
        if reply.startswith(b"X"):
            code = int(reply[1:])
            return 128 - code if code < 0 else code
        _wait_gone(pid, pidfd)  # the server went away; the child serves on until it ends
        sys.stderr.write("mcp-proxy: the warm server went away; the proxy's exit code is unknown\n")
        return 1
    finally:
        sock.close()
        if pidfd is not None:
            os.close(pidfd)


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


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
    from pathlib import Path

    if (
        sys.flags.no_site
    ):  # started ``python3 -S`` (as .mcp.json does): the cold start needs the venv's packages
        import site

        site.main()
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
    import contextlib
    import logging

    logging.shutdown()  # flushes and closes the handlers (stderr, --log-file), as exiting would
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    _path = os.environ.get(WARM_SOCKET_ENV)
    if _path and os.environ.get(_REEXEC_GUARD) != "1":  # a re-exec already tried (and fell back)
        _code = _warm_start(_path, sys.argv)
        if _code is not None:
            sys.stderr.flush()
            os._exit(_code)
    _run_and_leave(_locate())
