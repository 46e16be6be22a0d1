"""The proxy's command line, resolved once into a frozen :class:`ProxyConfig`.

``mcp-proxy URL [--retries N] [--timeout MS] [--header K=V]... [--max-time MS]
[--retry-window MS] [--idle-timeout MS] [--log-level L] [--log-file PATH] [--no-idempotency-key] [--no-get-stream] [--check]``

The retry budget (see :mod:`agentdock.proxy.retry`): a server that is
unavailable (refused, 503, 429, restarting) is waited for up to
``--retry-window`` per request, counted from its first failure; a request
that may have reached the server is re-sent at most ``--retries`` times (and
only when repeating it is harmless); ``--retries 0`` turns retrying off;
everything ends by ``--max-time``.

Precedence: flag > environment (``MCP_PROXY_LOG_LEVEL``, ``MCP_PROXY_LOG_FILE``,
``MCP_PROXY_AUTH_TOKEN`` which becomes ``Authorization: Bearer …`` unless a
``--header Authorization=…`` is given) > default. Bad values raise
:class:`~agentdock.proxy.errors.ConfigError` (the CLI prints it and exits 2).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from agentdock.proxy.errors import ConfigError

__all__ = ["DEFAULT_RETRIES", "DEFAULT_RETRY_WINDOW_MS", "DEFAULT_TIMEOUT_MS", "ProxyConfig", "parse_args"]

DEFAULT_RETRIES = 3
DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_MAX_TIME_MS = 300_000
DEFAULT_RETRY_WINDOW_MS = 30_000
#: Largest single message (stdin line, SSE event, JSON body): bounded memory whatever a peer sends.
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
LOG_LEVELS = ("debug", "info", "warning", "error")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_RESERVED_HEADERS = frozenset(
    {"content-type", "accept", "content-length", "mcp-session-id", "mcp-protocol-version", "last-event-id"}
)


@dataclass(frozen=True)
class ProxyConfig:
    """Everything the proxy needs, resolved once in ``main()``."""

    url: str
    retries: int = DEFAULT_RETRIES
    """Re-sends of a request that may have reached the server; also the minimum number of retries
    while the server is unavailable. 0: no retries at all."""
    retry_window_s: float = DEFAULT_RETRY_WINDOW_MS / 1000
    """How long an unavailable server is waited for, from a request's first failure (within max_time_s)."""
    timeout_s: float = DEFAULT_TIMEOUT_MS / 1000
    """Bounds connecting and waiting for a response to start."""
    max_time_s: float = DEFAULT_MAX_TIME_MS / 1000
    """Overall deadline of one client request, retries and long streams included."""
    idle_timeout_s: float | None = None
    """A started response that sends nothing (not even a keep-alive) this long is stalled; None: timeout_s."""
    headers: tuple[tuple[str, str], ...] = ()
    log_level: str = "info"
    log_file: Path | None = None
    idempotency_keys: bool = True
    """Send ``Idempotency-Key`` with ``tools/call`` and retry calls whose outcome is unknown."""
    check: bool = False
    shutdown_grace_s: float = 5.0
    """How long in-flight requests may finish after stdin closes or SIGTERM."""
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Cap on one message: a stdin line, an SSE event (or line), a JSON response body."""
    get_stream: bool = True

    @property
    def header_map(self) -> dict[str, str]:
        return dict(self.headers)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _parser() -> _Parser:
    p = _Parser(
        prog="mcp-proxy",
        description="Bridge an MCP client on stdio to an MCP server over Streamable HTTP.",
        epilog="Retry budget: a server that did not take a request because it is unavailable (refused, connect "
        "timeout, 503, 429) is retried for up to --retry-window, so a restart or a burst of 503s is ridden out; "
        "a request that may have reached the server is re-sent at most --retries times, only if repeating it is "
        "harmless (no side effects, or tools/call with an Idempotency-Key); every request ends by --max-time "
        "with its result or one JSON-RPC error naming the status, attempts and elapsed time. "
        "stdout carries only JSON-RPC, one message per line; logs go to stderr or --log-file.",
    )
    p.add_argument("url", help="the server's MCP endpoint, e.g. http://host.docker.internal:8000/mcp")
    p.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        metavar="N",
        help="re-sends of a request that may have reached the server (dropped connection, no response in "
        "time, 502/504), only where repeating is harmless; also the least number of retries while the server "
        "is unavailable; 0 turns retrying off (default 3)",
    )
    p.add_argument(
        "--retry-window",
        type=int,
        default=DEFAULT_RETRY_WINDOW_MS,
        metavar="MS",
        help="how long a request waits, from its first failure, for a server that is unavailable (connection "
        "refused, 503, 429, restarting): retried with capped backoff and Retry-After honoured; before a "
        "request that may have reached it is re-sent, the server must answer a ping. 0: no waiting beyond "
        "--retries (default 30000, never beyond --max-time)",
    )
    p.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT_MS,
        metavar="MS",
        help="connect and response-start timeout in ms (default 10000)",
    )
    p.add_argument(
        "--max-time",
        type=int,
        default=DEFAULT_MAX_TIME_MS,
        metavar="MS",
        help="overall deadline per request in ms, retries and streaming included (default 300000)",
    )
    p.add_argument(
        "--idle-timeout",
        type=int,
        default=None,
        metavar="MS",
        help="a response stream that sends nothing at all (not even a keep-alive) for this long is treated as "
        "stalled and retried where safe (default: --timeout)",
    )
    p.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="K=V",
        help="extra HTTP header on every request (repeatable), e.g. Authorization='Bearer TOKEN'",
    )
    p.add_argument("--log-level", choices=LOG_LEVELS, default=None, help="default info (MCP_PROXY_LOG_LEVEL)")
    p.add_argument("--log-file", type=Path, default=None, help="append logs here instead of stderr")
    p.add_argument(
        "--no-idempotency-key",
        action="store_true",
        help="do not send Idempotency-Key with tools/call (then a call whose outcome is unknown is not retried)",
    )
    p.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="N",
        help="largest message in either direction: a stdin line, an SSE event or line, a JSON response body; "
        "a larger one is answered with a JSON-RPC error and dropped, and the proxy keeps serving "
        f"(default {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    p.add_argument(
        "--no-get-stream", action="store_true", help="do not open the GET stream for server messages"
    )
    p.add_argument(
        "--check", action="store_true", help="initialize once, print server info and latency, exit"
    )
    return p


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep:
        raise ConfigError(f"--header {text!r}: expected K=V (for example Authorization='Bearer TOKEN')")
    if not _TOKEN.fullmatch(name):
        raise ConfigError(f"--header {text!r}: {name!r} is not a valid HTTP header name")
    if name.lower() in _RESERVED_HEADERS:
        raise ConfigError(f"--header {name}: the proxy manages this header itself")
    if any(c in value for c in "\r\n\x00"):
        raise ConfigError(f"--header {name}: the value contains a line break or NUL")
    return name, value.strip()


def _validate_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"URL {url!r}: expected an http:// or https:// URL with a host")
    return url


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> ProxyConfig:
    """Parse and validate the command line (and the few environment defaults)."""
    env = environ or {}
    ns = _parser().parse_args(list(argv))
    if ns.retries < 0:
        raise ConfigError(f"--retries {ns.retries}: must be 0 or more")
    if ns.retry_window < 0:
        raise ConfigError(f"--retry-window {ns.retry_window}: must be 0 or more milliseconds")
    if ns.timeout <= 0:
        raise ConfigError(f"--timeout {ns.timeout}: must be a positive number of milliseconds")
    if ns.idle_timeout is not None and ns.idle_timeout <= 0:
        raise ConfigError(f"--idle-timeout {ns.idle_timeout}: must be a positive number of milliseconds")
    if ns.max_time <= 0:
        raise ConfigError(f"--max-time {ns.max_time}: must be a positive number of milliseconds")
    if ns.max_message_bytes < 1024:
        raise ConfigError(f"--max-message-bytes {ns.max_message_bytes}: must be at least 1024")
    headers = [_header(h) for h in ns.header]
    token = env.get("MCP_PROXY_AUTH_TOKEN", "").strip()
    if token and not any(name.lower() == "authorization" for name, _ in headers):
        headers.append(("Authorization", f"Bearer {token}"))
    level = ns.log_level or env.get("MCP_PROXY_LOG_LEVEL", "info").lower()
    if level not in LOG_LEVELS:
        raise ConfigError(f"MCP_PROXY_LOG_LEVEL={level!r}: expected one of {', '.join(LOG_LEVELS)}")
    log_file = ns.log_file or (Path(env["MCP_PROXY_LOG_FILE"]) if env.get("MCP_PROXY_LOG_FILE") else None)
    return ProxyConfig(
        url=_validate_url(ns.url),
        retries=ns.retries,
        retry_window_s=ns.retry_window / 1000,
        timeout_s=ns.timeout / 1000,
        max_time_s=max(ns.max_time, ns.timeout) / 1000,
        idle_timeout_s=ns.idle_timeout / 1000 if ns.idle_timeout is not None else None,
        headers=tuple(headers),
        log_level=level,
        log_file=log_file,
        idempotency_keys=not ns.no_idempotency_key,
        check=ns.check,
        get_stream=not ns.no_get_stream,
        max_message_bytes=ns.max_message_bytes,
    )
