"""Start-up and serving, shared by ``qms-mcp`` and ``git-mcp`` so the two cannot drift.

:func:`run_server` is each server's ``main`` after its flags are resolved::

    raise RLIMIT_NOFILE (soft -> hard)      limits.raise_nofile_limit
    bind every --host (streamable-http)     bind_sockets
    drop root (or refuse, or --allow-root)  privileges.drop_privileges   -> "<name>: dropped root: …"
    build the MCP server                    the server's own callback, now as the project owner
    stdio:  run over stdin/stdout           (needs --user / $QMS_USER)
    HTTP:   bearer auth + body limit        http.build_app
            guarded h11 connections         guard.guarded_protocol       -> "<name>: listening on http://H:P/mcp"

Exit codes: 0 after a clean stop, 1 when a socket cannot be bound, 2 for a usage or
privilege refusal.  ``serve(app, hosts, port)`` / ``await serve_async(...)`` serve any
ASGI app the same way (benchmarks, tests).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp

from agentdock import paths
from agentdock.mcphost.errors import AuthError
from agentdock.mcphost.guard import ConnectionGuard, guarded_protocol, h11_buffer_limit
from agentdock.mcphost.http import build_app
from agentdock.mcphost.limits import DEFAULT_LIMITS, Limits, raise_nofile_limit
from agentdock.mcphost.options import ServerOptions
from agentdock.mcphost.privileges import PrivilegeError, drop_privileges
from agentdock.mcphost.tokens import TokenStore

__all__ = ["BACKLOG", "bind_sockets", "run_server", "serve", "serve_async", "uvicorn_config"]

log = logging.getLogger("agentdock.mcphost.serve")

#: Listen backlog: a burst of connections waits in the kernel instead of being dropped.
BACKLOG = 1024


def bind_sockets(hosts: Sequence[str], port: int) -> list[socket.socket]:
    """One listening TCP socket per host; with port 0 the first bind picks the port for all."""
    sockets: list[socket.socket] = []
    try:
        for host in hosts:
            try:
                family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
            except ValueError:
                family = socket.AF_INET
            # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
            # listening socket says TCP, and without it every response waits ~40 ms for a delayed ACK.
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(BACKLOG)
            sock.set_inheritable(True)
            port = sock.getsockname()[1]
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def uvicorn_config(app: ASGIApp, limits: Limits, *, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn settings with the guarded h11 protocol: caps, read deadline, idle timeout, head size."""
    protocol = guarded_protocol(limits, ConnectionGuard(limits))
    timeout_keep_alive: Any = limits.idle_timeout_s  # uvicorn annotates int; call_later takes seconds
    grace: Any = limits.shutdown_grace_s  # likewise (asyncio.timeout)
    return uvicorn.Config(
        app,
        http=protocol,
        ws="none",
        lifespan="on",
        access_log=False,
        log_level=log_level,
        backlog=BACKLOG,
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=grace,  # see Limits: no client can hold a restart
        h11_max_incomplete_event_size=h11_buffer_limit(limits),
        server_header=False,
    )


def _announce(name: str, hosts: Sequence[str], port: int, path: str) -> None:
    for host in hosts:
        shown = f"[{host}]" if ":" in host else host
        print(f"{name}: listening on http://{shown}:{port}{path}", file=sys.stderr, flush=True)


async def _serve_sockets(app: ASGIApp, sockets: list[socket.socket], limits: Limits, log_level: str) -> None:
    server = uvicorn.Server(uvicorn_config(app, limits, log_level=log_level))
    try:
        await server.serve(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()


async def serve_async(
    app: ASGIApp,
    hosts: Sequence[str],
    port: int,
    *,
    path: str = "/mcp",
    log_level: str = "warning",
    name: str = "agentdock",
    limits: Limits = DEFAULT_LIMITS,
) -> None:
    """Bind every host and serve ``app`` under ``limits`` until cancelled or signalled."""
    sockets = bind_sockets(hosts, port)
    _announce(name, hosts, sockets[0].getsockname()[1], path)
    await _serve_sockets(app, sockets, limits, log_level)


def serve(app: ASGIApp, hosts: Sequence[str], port: int, **kwargs: Any) -> None:
    """Blocking :func:`serve_async`."""
    anyio.run(lambda: serve_async(app, hosts, port, **kwargs))


def run_server(options: ServerOptions, build: Callable[[], MCPServer[Any]]) -> int:
    """Run one MCP server as described in the module docstring; return the exit code."""
    name = options.name
    soft, _hard = raise_nofile_limit()
    limits = options.limits.fitted(soft)
    sockets: list[socket.socket] = []
    if options.transport == "streamable-http":
        try:
            sockets = bind_sockets(options.hosts, options.port)
        except OSError as exc:
            print(
                f"{name}: cannot listen on {', '.join(options.hosts)} port {options.port}: {exc}",
                file=sys.stderr,
            )
            return 1
    elif not options.stdio_user:
        print(f"{name}: over stdio the caller is --user U or $QMS_USER", file=sys.stderr)
        return 2
    # the token hashes live in the data folder of the user who started the server: read them now,
    # before a drop to the project's owner takes that folder out of reach
    store = TokenStore(options.root)
    with contextlib.suppress(AuthError):
        store.agents()
    try:
        identity = drop_privileges(
            options.root, allow_root=options.allow_root, hand_over_folders=[paths.state_dir(options.root)]
        )
    except (PrivilegeError, OSError) as exc:
        for sock in sockets:
            sock.close()
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    print(f"{name}: {identity}", file=sys.stderr, flush=True)
    server = build()
    if options.transport == "stdio":
        server.run("stdio")
        return 0
    if not store.agents():
        log.warning(
            "no agent has a token yet: create one with `agentdock token <agent> --project-root %s`",
            options.root,
        )
    app = build_app(
        server,
        store,
        stateless=options.stateless,
        json_response=options.json_response,
        allowed_hosts=(*options.allowed_hosts, *options.hosts),
        max_body_bytes=limits.max_body_bytes,
        max_header_bytes=limits.max_header_bytes,
        session_lifetime_s=limits.session_lifetime_s,
    )
    _announce(name, options.hosts, sockets[0].getsockname()[1], "/mcp")
    anyio.run(_serve_sockets, app, sockets, limits, options.log_level)  # Ctrl-C: the CLI runner's 130
    return 0
