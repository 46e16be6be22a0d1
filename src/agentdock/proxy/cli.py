"""``mcp-proxy`` / ``python3 proxy/mcp_proxy.py``: the process entry point.

Resolves the configuration once, sets up logging (stderr or ``--log-file``;
stdout is reserved for JSON-RPC — the real fd 1 is handed to the writer and
fd 1 itself is pointed at stderr, so a stray ``print`` anywhere cannot corrupt
the protocol stream), builds the one ``httpx.AsyncClient``, and runs the
bridge until stdin closes, SIGTERM/SIGINT arrives, or stdout breaks.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import anyio
import httpx

from agentdock.clirun import run_cli, setup_logging
from agentdock.defaults import PROTOCOL_VERSION
from agentdock.proxy.bridge import Bridge
from agentdock.proxy.config import ProxyConfig, parse_args
from agentdock.proxy.errors import ConfigError, UpstreamError
from agentdock.proxy.framing import LineWriter, encode_message, read_lines
from agentdock.proxy.messages import Message
from agentdock.proxy.pool import keepalive_transport
from agentdock.proxy.transport import Upstream

__all__ = ["configure_logging", "main", "make_client", "run_check", "serve"]

log = logging.getLogger("agentdock.proxy")

_DIRECT_HOSTS = frozenset({"localhost", "host.docker.internal"})


def _is_direct(host: str) -> bool:
    """Loopback and the Docker host alias never go through an HTTP(S) proxy."""
    if host.lower() in _DIRECT_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_client(config: ProxyConfig) -> httpx.AsyncClient:
    """The one persistent client: keep-alive pool, no read timeout (the proxy bounds waits itself).

    ``HTTP(S)_PROXY``/``NO_PROXY`` are honoured as httpx does, except that a
    loopback or ``host.docker.internal`` endpoint is always reached directly.
    """
    timeout = httpx.Timeout(
        connect=config.timeout_s, read=None, write=config.timeout_s, pool=config.timeout_s
    )
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=64, keepalive_expiry=30)
    host = urlsplit(config.url).hostname or ""
    if not _is_direct(host):
        return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
    # The client only ever talks to config.url. A direct host gets one transport and no proxy
    # transports from the environment: httpx's own, on a pool whose bookkeeping stays cheap with
    # many requests in flight (agentdock.proxy.pool). Plain http never uses TLS: no CA bundle loaded.
    plain = urlsplit(config.url).scheme == "http"
    transport = keepalive_transport(verify=not plain, limits=limits, plain_http=plain)
    return httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)


def configure_logging(config: ProxyConfig) -> None:
    handler: logging.Handler
    if config.log_file is not None:
        handler = logging.FileHandler(config.log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    setup_logging(config.log_level, handler=handler)
    quiet = logging.DEBUG if config.log_level == "debug" else logging.WARNING
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(quiet)


def _claim_stdout() -> BinaryIO:
    """Return a private handle on the real stdout and point fd 1 (and ``sys.stdout``) at stderr."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


async def serve(config: ProxyConfig, stdin: BinaryIO, stdout: BinaryIO) -> int:
    async with make_client(config) as client:
        upstream = Upstream(
            client,
            config.url,
            timeout_s=config.timeout_s,
            headers=config.header_map,
            max_message_bytes=config.max_message_bytes,
            idle_timeout_s=config.idle_timeout_s,
        )
        sink = LineWriter(stdout)
        bridge = Bridge(config, upstream, sink)
        log.info(
            "proxying stdio <-> %s (retries %d, retry window %g s, timeout %g s, max-time %g s)",
            config.url,
            config.retries,
            config.retry_window_s,
            config.timeout_s,
            config.max_time_s,
        )
        async with anyio.create_task_group() as tg:

            async def on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        log.info("signal %d: shutting down", signum)
                        bridge.request_stop()

            tg.start_soon(on_signal)
            code = await bridge.run(read_lines(stdin, config.max_message_bytes))
            tg.cancel_scope.cancel()
        sink.close()
        return code


async def run_check(config: ProxyConfig) -> int:
    """``--check``: initialize once, print the server's identity and the latency, exit 0/1."""
    from agentdock import __version__

    async with make_client(config) as client:
        upstream = Upstream(client, config.url, timeout_s=config.timeout_s, headers=config.header_map)
        init: Message = {
            "jsonrpc": "2.0",
            "id": "mcp-proxy-check",
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mcp-proxy-check", "version": __version__},
            },
        }

        async def ignore(_: Message) -> None:
            return None

        started = time.perf_counter()
        try:
            answer = await upstream.post(encode_message(init), init, upstream.headers_for(init), ignore)
        except UpstreamError as exc:
            print(f"FAIL {config.url}: {exc}")
            return 1
        elapsed_ms = (time.perf_counter() - started) * 1000
        result: Any = answer.get("result") if answer else None
        if not isinstance(result, dict):
            error = answer.get("error") if answer else None
            print(f"FAIL {config.url}: initialize answered {error!r}")
            return 1
        info = result.get("serverInfo") or {}
        upstream.protocol_version = result.get("protocolVersion")
        print(
            f"OK {config.url}: {info.get('name', '?')} {info.get('version', '?')}, "
            f"protocol {result.get('protocolVersion')}, session {upstream.session_id or '(stateless)'}, "
            f"{elapsed_ms:.1f} ms"
        )
        initialized: Message = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        try:
            await upstream.post(
                encode_message(initialized), initialized, upstream.headers_for(initialized), ignore
            )
        except UpstreamError as exc:
            log.info("initialized notification failed: %s", exc)
        await upstream.delete_session()
        return 0


def _cache_missing_sniffio() -> None:
    """Remember that ``sniffio`` is absent, so httpcore's per-request ``import sniffio`` fails fast.

    httpcore imports it inside every request to detect the async library; when
    it is not installed, each attempt searches sys.path again (a failed import
    is not cached) — measurable per-request overhead. ``None`` in
    ``sys.modules`` makes the import fail at once, and httpcore then assumes
    asyncio, which is what the proxy runs on.
    """
    try:
        import sniffio  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def _main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = parse_args(args, os.environ)
    except ConfigError as exc:
        print(
            f"mcp-proxy: error: {exc}\nusage: mcp-proxy URL [--retries N] [--timeout MS] [--header K=V]...\n"
            "Run `mcp-proxy --help` for all options.",
            file=sys.stderr,
        )
        return 2
    configure_logging(config)
    _cache_missing_sniffio()
    if config.check:
        return anyio.run(run_check, config)
    stdout = _claim_stdout()
    return anyio.run(serve, config, sys.stdin.buffer, stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """``mcp-proxy``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("mcp-proxy", lambda: _main(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
