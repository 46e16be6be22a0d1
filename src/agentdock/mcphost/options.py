"""The flags every agentdock MCP server shares, resolved once into a frozen :class:`ServerOptions`.

::

    --transport {stdio,streamable-http}   default stdio (a local user at a terminal)
    --host H[,H2] (repeatable)            default 127.0.0.1; never 0.0.0.0 unless asked
    --port P                              default per server (qms-mcp 8000, git-mcp 8001); 0 picks one
    --project-root DIR
    --user U                              the caller over stdio (default $QMS_USER)
    --stateless / --json-response         Streamable HTTP modes
    --allow-host NAME (repeatable)        extra Host header name to admit
    --log-level LEVEL                     debug, info, warning (default), error
    --allow-root                          stay root instead of becoming the project's owner
    --read-timeout S --idle-timeout S --max-connections N --max-connections-per-peer N
    --max-header-bytes N --max-body-bytes N --session-lifetime S   (see agentdock.mcphost.limits)

Precedence: flag > environment (``<PREFIX>_PORT``, ``<PREFIX>_LOG_LEVEL``, ``QMS_USER``,
``AGENTDOCK_ALLOW_ROOT=1``) > default.  Each server adds its own flags to the same parser
(:func:`server_parser`) and validates its own project root.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agentdock.mcphost.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_TRANSPORT",
    "SHARED_FLAGS",
    "ServerOptions",
    "parse_hosts",
    "resolve_options",
    "server_parser",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_TRANSPORT: Literal["stdio"] = "stdio"
Transport = Literal["stdio", "streamable-http"]

#: Every flag :func:`server_parser` declares (both servers accept exactly these, plus their own).
SHARED_FLAGS: tuple[str, ...] = (
    "--transport",
    "--host",
    "--port",
    "--project-root",
    "--user",
    "--stateless",
    "--json-response",
    "--allow-host",
    "--log-level",
    "--allow-root",
    "--read-timeout",
    "--idle-timeout",
    "--max-connections",
    "--max-connections-per-peer",
    "--max-header-bytes",
    "--max-body-bytes",
    "--session-lifetime",
    "--shutdown-grace",
)

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class ServerOptions:
    """How one server runs: transport, addresses, identity over stdio, limits, root policy."""

    name: str
    root: Path
    transport: Transport = DEFAULT_TRANSPORT
    hosts: tuple[str, ...] = (DEFAULT_HOST,)
    port: int = 0
    stdio_user: str | None = None
    stateless: bool = False
    json_response: bool = False
    allowed_hosts: tuple[str, ...] = ()
    log_level: str = "warning"
    allow_root: bool = False
    limits: Limits = field(default_factory=lambda: DEFAULT_LIMITS)


def server_parser(name: str, description: str, *, default_port: int) -> argparse.ArgumentParser:
    """An argument parser with the shared flags; the server adds its own to it."""
    p = argparse.ArgumentParser(prog=name, description=description)
    p.add_argument("--transport", choices=("stdio", "streamable-http"), default=None,
                   help=f"default {DEFAULT_TRANSPORT}")  # fmt: skip
    p.add_argument(
        "--host", action="append", help=f"address to bind (comma list or repeat; default {DEFAULT_HOST})"
    )
    p.add_argument("--port", type=int, default=None, help=f"HTTP port (default {default_port}; 0 picks one)")
    p.add_argument("--project-root", type=Path, help="the project the server works on")
    p.add_argument("--user", help="the caller over stdio (default: $QMS_USER)")
    p.add_argument("--stateless", action="store_true", help="HTTP: no sessions (each request stands alone)")
    p.add_argument("--json-response", action="store_true", help="HTTP: answer with JSON instead of SSE")
    p.add_argument("--allow-host", action="append", default=[], help="extra Host header name to admit")
    p.add_argument("--log-level", default=None, help="debug, info, warning (default), error")
    p.add_argument(
        "--allow-root",
        action="store_true",
        default=None,
        help="when started as root, stay root (default: become the project's owner, or refuse)",
    )
    d = DEFAULT_LIMITS
    limits = p.add_argument_group("limits (per server)")
    limits.add_argument("--read-timeout", type=float, default=d.read_timeout_s, metavar="S",
                        help=f"a request must arrive in full within S seconds (default {d.read_timeout_s:g})")  # fmt: skip
    limits.add_argument("--idle-timeout", type=float, default=d.idle_timeout_s, metavar="S",
                        help=f"close a keep-alive connection idle for S seconds (default {d.idle_timeout_s:g})")  # fmt: skip
    limits.add_argument("--max-connections", type=int, default=d.max_connections, metavar="N",
                        help=f"open connections in total (default {d.max_connections})")  # fmt: skip
    limits.add_argument("--max-connections-per-peer", type=int, default=d.max_connections_per_peer, metavar="N",
                        help=f"open connections per client address (default {d.max_connections_per_peer})")  # fmt: skip
    limits.add_argument("--max-header-bytes", type=int, default=d.max_header_bytes, metavar="N",
                        help=f"request head size, else 431 (default {d.max_header_bytes})")  # fmt: skip
    limits.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes, metavar="N",
                        help=f"request body size, else 413 (default {d.max_body_bytes})")  # fmt: skip
    limits.add_argument("--session-lifetime", type=float, default=d.session_lifetime_s, metavar="S",
                        help="forget an MCP session with no request for S seconds; its next request gets "
                        f"404 and the client starts a new one (default {d.session_lifetime_s:g})")  # fmt: skip
    limits.add_argument("--shutdown-grace", type=float, default=d.shutdown_grace_s, metavar="S",
                        help="on SIGTERM, let requests in flight finish for S seconds, then cancel them "
                        f"(default {d.shutdown_grace_s:g})")  # fmt: skip
    return p


def parse_hosts(values: Iterable[str] | None) -> list[str]:
    """Split ``--host`` values (comma lists and repeats) into unique addresses; default 127.0.0.1."""
    hosts: list[str] = []
    for value in values or ():
        for part in value.split(","):
            host = part.strip().strip("[]")
            if not host:
                raise ValueError(f"empty host in --host {value!r}")
            if host not in hosts:
                hosts.append(host)
    return hosts or [DEFAULT_HOST]


def resolve_options(
    name: str,
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    root: Path,
    default_port: int,
    env_prefix: str,
) -> ServerOptions:
    """Flags > environment > defaults; raises ``ValueError`` with a usage message."""
    port_text = environ.get(f"{env_prefix}_PORT")
    try:
        port = args.port if args.port is not None else int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"{env_prefix}_PORT={port_text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    limits = Limits(
        read_timeout_s=args.read_timeout,
        idle_timeout_s=args.idle_timeout,
        max_connections=args.max_connections,
        max_connections_per_peer=args.max_connections_per_peer,
        max_header_bytes=args.max_header_bytes,
        max_body_bytes=args.max_body_bytes,
        session_lifetime_s=args.session_lifetime,
        shutdown_grace_s=args.shutdown_grace,
    )
    allow_root = args.allow_root
    if allow_root is None:
        allow_root = environ.get("AGENTDOCK_ALLOW_ROOT", "").strip().lower() in _TRUE
    return ServerOptions(
        name=name,
        root=root,
        transport=args.transport or DEFAULT_TRANSPORT,
        hosts=tuple(parse_hosts(args.host)),
        port=port,
        stdio_user=args.user or environ.get("QMS_USER") or None,
        stateless=args.stateless,
        json_response=args.json_response,
        allowed_hosts=tuple(args.allow_host),
        log_level=(args.log_level or environ.get(f"{env_prefix}_LOG_LEVEL") or "warning").lower(),
        allow_root=bool(allow_root),
        limits=limits,
    )
