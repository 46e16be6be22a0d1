"""``agentdock faults``: run the fault MCP server or the TCP fault proxy by hand, to reproduce a failure.

::

    agentdock faults serve --plan plan.yaml --port 8931 [--seed 7] [--token T]
    agentdock faults proxy --listen 127.0.0.1:9000 --upstream 127.0.0.1:8765 \\
        --toxic latency:latency_ms=200,jitter_ms=50 --toxic reset_peer:after_bytes=400,max_connections=1
    agentdock faults kinds

Both servers run until Ctrl-C or SIGTERM.  The token comes from ``--token``,
else ``AGENTDOCK_FAULTS_TOKEN``, else a fresh one printed on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentdock.clirun import run_cli, setup_logging
from agentdock.harness.errors import HarnessError, PlanError, ProxyConfigError, ServerStartError, ToxicError
from agentdock.harness.http.model import FAULTS, Plan
from agentdock.harness.tcp.toxics import TOXICS, Toxic, parse_toxic_spec

__all__ = ["ProxyConfig", "ServeConfig", "main"]

log = logging.getLogger("agentdock.harness")
TOKEN_ENV = "AGENTDOCK_FAULTS_TOKEN"  # noqa: S105 - the name of a variable, not a secret


@dataclass(frozen=True)
class ServeConfig:
    plan: Plan
    plan_path: Path | None
    host: str
    port: int
    token: str
    token_generated: bool
    mode: Literal["sse", "json"]
    stateless: bool
    journal_path: Path | None


@dataclass(frozen=True)
class ProxyConfig:
    name: str
    listen: str
    upstream: str
    toxics: tuple[Toxic, ...]
    seed: int
    control: str | None
    token: str
    token_generated: bool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentdock faults", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the fault MCP server (Streamable HTTP at /mcp)")
    serve.add_argument("--plan", type=Path, help="fault plan, YAML or JSON (default: no faults)")
    serve.add_argument("--port", type=int, required=True, help="TCP port (0: any free port)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--seed", type=int, help="override the plan's seed")
    serve.add_argument("--token", help=f"bearer token clients must send (else ${TOKEN_ENV}, else generated)")
    serve.add_argument(
        "--json-responses", action="store_true", help="answer JSON bodies unless a fault says SSE"
    )
    serve.add_argument("--stateless", action="store_true", help="issue no session ids")
    serve.add_argument("--journal", type=Path, help="write what the server saw (JSON lines) here on exit")
    serve.add_argument("--log-level", default="INFO")

    proxy = sub.add_parser("proxy", help="run the TCP fault proxy in front of a server")
    proxy.add_argument("--listen", required=True, help="HOST:PORT to accept connections on")
    proxy.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    proxy.add_argument(
        "--toxic",
        action="append",
        default=[],
        help="TYPE[:key=value,...] or a JSON toxic; keys stream, toxicity, name, max_connections, or attributes",
    )
    proxy.add_argument("--name", default="proxy", help="proxy name in the control API")
    proxy.add_argument("--seed", type=int, default=0, help="seed for toxicity draws and jitter")
    proxy.add_argument("--control", help="HOST:PORT for the HTTP control API (/proxies, /toxics, /reset)")
    proxy.add_argument(
        "--token", help=f"bearer token for the control API (else ${TOKEN_ENV}, else generated)"
    )
    proxy.add_argument("--log-level", default="INFO")

    sub.add_parser("kinds", help="list the fault kinds and toxic types")
    return parser


def _token(given: str | None) -> tuple[str, bool]:
    token = given or os.environ.get(TOKEN_ENV)
    return (token, False) if token else (secrets.token_urlsafe(24), True)


def _serve_config(args: argparse.Namespace) -> ServeConfig:
    plan = Plan.load(args.plan) if args.plan else Plan()
    if args.seed is not None:
        plan = plan.with_seed(args.seed)
    if not 0 <= args.port <= 65535:
        raise PlanError(f"--port must be within 0..65535, not {args.port}")
    token, generated = _token(args.token)
    mode: Literal["sse", "json"] = "json" if args.json_responses else "sse"
    return ServeConfig(
        plan, args.plan, args.host, args.port, token, generated, mode, args.stateless, args.journal
    )


def _proxy_config(args: argparse.Namespace) -> ProxyConfig:
    from agentdock.harness.tcp.proxy import parse_address

    parse_address(args.listen, what="--listen")
    parse_address(args.upstream, what="--upstream")
    if args.control:
        parse_address(args.control, what="--control")
    toxics = tuple(parse_toxic_spec(spec) for spec in args.toxic)
    token, generated = _token(args.token)
    return ProxyConfig(
        args.name, args.listen, args.upstream, toxics, args.seed, args.control, token, generated
    )


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _serve(config: ServeConfig) -> None:
    from agentdock.harness.http.server import fault_server

    async with fault_server(
        config.plan,
        host=config.host,
        port=config.port,
        token=config.token,
        default_mode=config.mode,
        stateless=config.stateless,
    ) as server:
        kinds = ", ".join(f.kind for f in config.plan.faults) or "none"
        print(
            f"fault server: {server.url} seed={config.plan.seed} faults: {kinds}", file=sys.stderr, flush=True
        )
        if config.token_generated:
            print(f"bearer token: {config.token}", file=sys.stderr, flush=True)
        try:
            await _until_signalled()
        finally:
            if config.journal_path is not None:
                config.journal_path.write_text(server.journal.dumps() + "\n", encoding="utf-8")


async def _proxy(config: ProxyConfig) -> None:
    from agentdock.harness.tcp.control import control_server
    from agentdock.harness.tcp.proxy import ProxySet

    proxies = ProxySet(seed=config.seed)
    try:
        proxy = await proxies.create(config.name, listen=config.listen, upstream=config.upstream)
        for toxic in config.toxics:
            proxy.add_toxic(toxic)
        toxics = ", ".join(t.name for t in config.toxics) or "none"
        print(
            f"fault proxy {proxy.name}: {proxy.listen} -> {proxy.upstream} seed={config.seed} toxics: {toxics}",
            file=sys.stderr,
            flush=True,
        )
        if config.control is None:
            await _until_signalled()
            return
        host, _, port = config.control.rpartition(":")
        async with control_server(proxies, token=config.token, host=host.strip("[]"), port=int(port)) as ctl:
            print(f"control API: {ctl.url}", file=sys.stderr, flush=True)
            if config.token_generated:
                print(f"bearer token: {config.token}", file=sys.stderr, flush=True)
            await _until_signalled()
    finally:
        await proxies.close()


def _kinds() -> None:
    print("fault kinds (agentdock faults serve --plan):")
    for name, cls in sorted(FAULTS.items()):
        print(f"  {name:<22} {cls.summary}")
    print("\ntoxic types (agentdock faults proxy --toxic):")
    for name, tcls in sorted(TOXICS.items()):
        print(f"  {name:<22} {tcls.summary}")


def _main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "kinds":
        _kinds()
        return 0
    setup_logging(args.log_level)
    try:
        if args.command == "serve":
            asyncio.run(_serve(_serve_config(args)))
        else:
            asyncio.run(_proxy(_proxy_config(args)))
    except (PlanError, ToxicError, ProxyConfigError) as exc:
        print(f"agentdock faults: {exc}", file=sys.stderr)
        return 2
    except (ServerStartError, HarnessError) as exc:
        print(f"agentdock faults: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``agentdock faults``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("agentdock faults", lambda: _main(argv))
