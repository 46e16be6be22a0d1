"""``git-mcp``: the MCP server exposing one tool, ``git_exec(command)``, behind the gateway policy.

    git-mcp --transport {stdio,streamable-http} [--host H]... [--port 8001] --project-root DIR
            [--protect PATH]... [--protect-branch NAME]... [--user NAME]
    git-mcp --explain-policy

Over HTTP every request needs ``Authorization: Bearer <token>`` (``agentdock
token <agent>``); the agent a token belongs to is the caller recorded for
each command.  Over stdio the caller is ``--user`` (or ``QMS_USER``).

A refused command is a tool result with ``isError: true`` whose text starts
``refused [<rule>]``; a malformed request (no ``command`` string, unknown
arguments) is a JSON-RPC ``invalid params`` error.

A call with an ``Idempotency-Key`` header (the proxy sends one, the same on every
retry) runs at most once per (agent, key): a retry gets the first call's result,
also when it arrives while the first is still running (it waits for it).  Records
live in ``<root>/.agentdock/idempotency/git/``; the same key with another command
is refused (``refused [idempotency]``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, INVALID_REQUEST, CallToolResult, TextContent, ToolAnnotations

from agentdock import paths
from agentdock.clirun import run_cli, setup_logging
from agentdock.defaults import GIT_PORT
from agentdock.gitgate.errors import ConfigError, ExecutionError
from agentdock.gitgate.executor import ExecLimits, build_env
from agentdock.gitgate.facts import DEFAULT_PROTECTED_BRANCHES, normalise_protect, repository_dir
from agentdock.gitgate.gateway import GateConfig, GitGateway, render
from agentdock.gitgate.policy import explain

__all__ = ["DEFAULT_PORT", "TOOL_NAME", "ServeOptions", "build_server", "main", "reject_malformed"]

DEFAULT_PORT = GIT_PORT
TOOL_NAME = "git_exec"
log = logging.getLogger("agentdock.gitgate")

_TOOL_DESCRIPTION = """Run git in the project repository on the host.

`command` is one git invocation, or several joined by `&&` (the chain stops at the first failure),
each with or without a leading `git`, quoted like a POSIX shell: e.g. `status`, `log --oneline -10`,
`git add notes/ && git commit -m 'Session notes' && git push`.  No other shell syntax is accepted and
nothing is expanded.  Commands that destroy work or escape the project (force pushes, reset --hard,
clean -f, checkout ., branch -D, config writes, submodule operations, protected paths…) are refused
with the name of the rule; nothing is run then."""


async def reject_malformed(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """A ``git_exec`` call without exactly one string ``command`` is a JSON-RPC invalid-params error."""
    params = ctx.params
    if ctx.method == "tools/call" and isinstance(params, Mapping) and params.get("name") == TOOL_NAME:
        arguments = params.get("arguments")
        if not isinstance(arguments, Mapping) or not isinstance(arguments.get("command"), str):
            raise MCPError(INVALID_PARAMS, f'{TOOL_NAME} needs arguments {{"command": <string>}}')
        extra = sorted(set(arguments) - {"command"})
        if extra:
            raise MCPError(
                INVALID_PARAMS, f"{TOOL_NAME} takes only 'command'; unexpected: {', '.join(extra)}"
            )
    return await call_next(ctx)


def build_server(gateway: GitGateway, *, stdio_user: str | None = None) -> MCPServer[Any]:
    """The MCP server: one tool, the caller taken from the bearer token (or ``stdio_user``)."""
    from agentdock.mcphost import IdempotencyConflict, IdempotencyStore
    from agentdock.mcphost.errors import Unauthenticated
    from agentdock.mcphost.http import caller_agent, idempotency_key

    records = IdempotencyStore(gateway.config.root, "git")
    server: MCPServer[Any] = MCPServer(
        "git-mcp",
        instructions="Run git in the host project through a policy-checked gateway: tool git_exec(command).",
        middleware=[reject_malformed],
    )

    @server.tool(
        name=TOOL_NAME,
        description=_TOOL_DESCRIPTION,
        annotations=ToolAnnotations(
            title="git", destructive_hint=True, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def git_exec(command: str, ctx: Context) -> CallToolResult:
        try:
            agent = caller_agent(ctx, stdio_user=stdio_user)
        except Unauthenticated as exc:
            raise MCPError(INVALID_REQUEST, str(exc)) from exc

        async def run() -> dict[str, Any]:
            outcome = await gateway.execute(command, agent)
            text, structured = render(outcome)
            return {"text": text, "structured": structured, "is_error": not outcome.ok}

        key = idempotency_key(ctx)
        try:
            payload, replayed = await records.run_async(agent, key, TOOL_NAME, {"command": command}, run)
        except IdempotencyConflict as exc:
            payload = {
                "text": f"refused [idempotency]: {exc}\nNothing was run.",
                "structured": {
                    "ok": False,
                    "refused": {"rule": "idempotency", "reason": str(exc), "step": None},
                    "steps": [],
                },
                "is_error": True,
            }
        else:
            if replayed:
                log.info("agent=%s replayed Idempotency-Key %s: %r not run again", agent, key, command)
        return CallToolResult(
            content=[TextContent(type="text", text=payload["text"])],
            structured_content=payload["structured"],
            is_error=payload["is_error"],
        )

    return server


@dataclass(frozen=True)
class ServeOptions:
    transport: str
    hosts: tuple[str, ...]
    port: int
    stdio_user: str | None
    stateless: bool
    json_response: bool


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="git-mcp", description="git for agent containers, behind a parsed policy"
    )
    p.add_argument("--transport", choices=("stdio", "streamable-http"), default="streamable-http")
    p.add_argument(
        "--host", action="append", help="address to bind (repeatable or comma list; default 127.0.0.1)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--project-root", type=Path, help="the repository agents work on")
    p.add_argument(
        "--protect",
        action="append",
        default=[],
        metavar="PATH",
        help="a path no command may reach (submodules are always protected)",
    )
    p.add_argument(
        "--protect-branch",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a branch no push may delete (default: {', '.join(DEFAULT_PROTECTED_BRANCHES)})",
    )
    p.add_argument("--user", help="caller identity over stdio (default: $QMS_USER)")
    p.add_argument("--timeout", type=float, default=ExecLimits.timeout_s, help="seconds per git step")
    p.add_argument(
        "--max-output", type=int, default=ExecLimits.max_output_bytes, help="bytes kept per stream"
    )
    p.add_argument("--audit-file", type=Path, help="JSON-lines record of every command (default: run dir)")
    p.add_argument("--stateless", action="store_true", help="stateless streamable HTTP (no sessions)")
    p.add_argument("--json-response", action="store_true", help="answer POSTs with JSON instead of SSE")
    p.add_argument("--explain-policy", action="store_true", help="print the policy rules and exit")
    return p


def resolve_config(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[GateConfig, ServeOptions]:
    """Flags > environment > defaults, checked once, into frozen config."""
    if args.project_root is None:
        raise ConfigError("--project-root is required")
    root = args.project_root.expanduser().resolve()
    if not (root / ".git").exists():
        raise ConfigError(f"--project-root {root} is not a git working tree (no .git)")
    try:
        protect = tuple(normalise_protect(root, value) for value in args.protect)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if args.timeout <= 0 or args.max_output <= 0:
        raise ConfigError("--timeout and --max-output must be positive")
    from agentdock.mcphost.http import parse_hosts

    try:
        hosts = tuple(parse_hosts(args.host))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    audit = args.audit_file or paths.run_dir(root) / "git-mcp-audit.jsonl"
    try:
        git_dir = repository_dir(root, environ)
    except ExecutionError as exc:
        raise ConfigError(str(exc)) from exc
    config = GateConfig(
        root=root,
        env=build_env(environ, root, git_dir),
        protect=protect,
        protected_branches=(*DEFAULT_PROTECTED_BRANCHES, *args.protect_branch),
        limits=ExecLimits(timeout_s=args.timeout, max_output_bytes=args.max_output),
        audit_file=audit,
    )
    options = ServeOptions(
        transport=args.transport,
        hosts=hosts,
        port=args.port,
        stdio_user=args.user or environ.get("QMS_USER") or None,
        stateless=args.stateless,
        json_response=args.json_response,
    )
    return config, options


def _serve_http(server: MCPServer[Any], config: GateConfig, options: ServeOptions) -> None:
    """The whole of the auth wiring: agentdock.mcphost's bearer-token app, bound per host."""
    from agentdock.mcphost import TokenStore
    from agentdock.mcphost.http import build_app, serve

    app = build_app(
        server, TokenStore(config.root), stateless=options.stateless, json_response=options.json_response
    )
    serve(app, list(options.hosts), options.port, name="git-mcp")


def _main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.explain_policy:
        print(explain())
        return 0
    setup_logging("INFO")
    try:
        config, options = resolve_config(args, os.environ)
    except ConfigError as exc:
        print(f"git-mcp: {exc}", file=sys.stderr)
        return 2
    server = build_server(GitGateway(config), stdio_user=options.stdio_user)
    if options.transport == "stdio":
        server.run("stdio")
        return 0
    try:
        _serve_http(server, config, options)
    except OSError as exc:
        print(f"git-mcp: cannot listen on {', '.join(options.hosts)}:{options.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``git-mcp``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("git-mcp", lambda: _main(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
