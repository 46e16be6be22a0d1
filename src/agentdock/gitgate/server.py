"""``git-mcp``: the MCP server exposing one tool, ``git_exec(command)``, behind the gateway policy.

    git-mcp --transport {stdio,streamable-http} [--host H]... [--port 8001] --project-root DIR
            [--protect PATH]... [--protect-branch NAME]... [--user NAME] [--allow-root]
            [limits: --read-timeout S, --max-body-bytes N, ...]
            [--sandbox {auto,bwrap,off} | --no-sandbox] [--max-queued N] [--read-step-timeout S]
    git-mcp --explain-policy
    git-mcp --check --project-root DIR     # how git would run here (sandbox, uid); exit 1 when it cannot

Each git step runs hardened and, on Linux, inside a bubblewrap sandbox (see
``docs/security/git-sandbox.md``); the decision is logged at start.  Where the sandbox cannot work
the server refuses to start unless ``--no-sandbox`` is given.

The shared flags, start-up (bind, drop root, serve), limits and error shapes are the
shared host's (:mod:`agentdock.mcphost.options`, :mod:`agentdock.mcphost.serve`,
:mod:`agentdock.mcphost.results`).  git runs as the project's owner: a server
started as root drops to the owner before the gateway is built.

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
import dataclasses
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, ToolAnnotations

from agentdock import paths
from agentdock.clirun import run_cli, setup_logging
from agentdock.defaults import GIT_PORT
from agentdock.gitgate.errors import ConfigError, ExecutionError
from agentdock.gitgate.executor import ExecLimits, build_env
from agentdock.gitgate.facts import DEFAULT_PROTECTED_BRANCHES, normalise_protect, repository_dir
from agentdock.gitgate.gateway import GateConfig, GitGateway, render
from agentdock.gitgate.policy import explain
from agentdock.gitgate.runtime import SANDBOX_MODES
from agentdock.gitgate.scheduler import DEFAULT_MAX_QUEUED
from agentdock.mcphost.options import ServerOptions, resolve_options, server_parser
from agentdock.mcphost.results import invalid_params, refusal, require_caller, to_call_result

__all__ = ["DEFAULT_PORT", "TOOL_NAME", "build_server", "main", "reject_malformed", "resolve_config"]

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
            raise invalid_params(f'{TOOL_NAME} needs arguments {{"command": <string>}}')
        extra = sorted(set(arguments) - {"command"})
        if extra:
            raise invalid_params(f"{TOOL_NAME} takes only 'command'; unexpected: {', '.join(extra)}")
    return await call_next(ctx)


def build_server(gateway: GitGateway, *, stdio_user: str | None = None) -> MCPServer[Any]:
    """The MCP server: one tool, the caller taken from the bearer token (or ``stdio_user``)."""
    from agentdock.mcphost import IdempotencyConflict, IdempotencyStore
    from agentdock.mcphost.http import idempotency_key

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
        agent = require_caller(ctx, stdio_user=stdio_user)

        async def run() -> dict[str, Any]:
            outcome = await gateway.execute(command, agent)
            text, structured = render(outcome)
            return {"text": text, "structured": structured, "is_error": not outcome.ok}

        key = idempotency_key(ctx)
        try:
            payload, replayed = await records.run_async(agent, key, TOOL_NAME, {"command": command}, run)
        except IdempotencyConflict as exc:
            structured = {
                "ok": False,
                "refused": {"rule": "idempotency", "reason": str(exc), "step": None},
                "steps": [],
            }
            payload = refusal("idempotency", f"{exc}\nNothing was run.", structured)
        else:
            if replayed:
                log.info("agent=%s replayed Idempotency-Key %s: %r not run again", agent, key, command)
        return to_call_result(payload)

    return server


def _parser() -> argparse.ArgumentParser:
    p = server_parser(
        "git-mcp", "git for agent containers, behind a parsed policy", default_port=DEFAULT_PORT
    )
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
    p.add_argument(
        "--timeout",
        type=float,
        default=ExecLimits.timeout_s,
        help="seconds per git step that writes or fetches",
    )
    p.add_argument(
        "--read-step-timeout",
        type=float,
        default=ExecLimits.read_timeout_s,
        help="seconds per read-only git step (status, log, diff…)",
    )
    p.add_argument(
        "--sandbox",
        choices=SANDBOX_MODES,
        default="auto",
        help="auto: bubblewrap on Linux (required there), none elsewhere; bwrap: required; off: none",
    )
    p.add_argument("--no-sandbox", action="store_true", help="same as --sandbox off (logged at start)")
    p.add_argument(
        "--max-queued",
        type=int,
        default=DEFAULT_MAX_QUEUED,
        help="git commands per agent running or waiting; more are refused (rule queue-full)",
    )
    p.add_argument("--check", action="store_true", help="report how git would run here and exit")
    p.add_argument(
        "--max-output", type=int, default=ExecLimits.max_output_bytes, help="bytes kept per stream"
    )
    p.add_argument("--audit-file", type=Path, help="JSON-lines record of every command (default: run dir)")
    p.add_argument("--explain-policy", action="store_true", help="print the policy rules and exit")
    return p


def resolve_config(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[GateConfig, ServerOptions]:
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
    if args.timeout <= 0 or args.max_output <= 0 or args.read_step_timeout <= 0:
        raise ConfigError("--timeout, --read-step-timeout and --max-output must be positive")
    if args.max_queued < 1:
        raise ConfigError("--max-queued must be at least 1")
    try:
        options = resolve_options(
            "git-mcp", args, environ, root=root, default_port=DEFAULT_PORT, env_prefix="GIT_MCP"
        )
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
        limits=ExecLimits(
            timeout_s=args.timeout, read_timeout_s=args.read_step_timeout, max_output_bytes=args.max_output
        ),
        audit_file=audit,
        sandbox="off" if args.no_sandbox else args.sandbox,
        max_queued_per_agent=args.max_queued,
    )
    return config, options


def _main(argv: Sequence[str] | None = None) -> int:
    from agentdock.mcphost.serve import run_server

    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.explain_policy:
        print(explain())
        return 0
    try:
        config, options = resolve_config(args, os.environ)
    except ConfigError as exc:
        print(f"git-mcp: {exc}", file=sys.stderr)
        return 2
    # the audit lines are INFO: git-mcp logs at least that much
    setup_logging(logging.DEBUG if options.log_level == "debug" else logging.INFO)
    if args.check:
        return _check(config)

    def build() -> MCPServer[Any]:
        # after the host dropped root: git's environment (HOME…) is the owner's
        gate = dataclasses.replace(
            config, env=build_env(os.environ, config.root, Path(config.env["GIT_DIR"]))
        )
        return build_server(GitGateway(gate), stdio_user=options.stdio_user)

    return run_server(options, build)


def _check(config: GateConfig) -> int:
    """``--check``: decide the sandbox as the server would, print it; 1 when it cannot work."""
    try:
        gateway = GitGateway(config)
    except ConfigError as exc:
        print(f"git-mcp: {exc}", file=sys.stderr)
        return 1
    status = gateway.runtime.status
    print(f"git-mcp: project {config.root}")
    print(f"git-mcp: sandbox {status.mode}: {status.detail}")
    gateway.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``git-mcp``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("git-mcp", lambda: _main(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
