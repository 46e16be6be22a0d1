"""``qms-mcp``: the QMS as MCP tools (also ``python -m agentdock.qms.mcp``).

::

    qms-mcp --transport {stdio,streamable-http} [--host H[,H2]]... [--port 8000]
            --project-root DIR [--user U] [--stateless] [--json-response] [--allow-host NAME]...
            [--allow-root] [limits: --read-timeout S, --max-body-bytes N, ...]

The flags, start-up (bind, drop root, serve) and limits are the shared host's
(:mod:`agentdock.mcphost.options`, :mod:`agentdock.mcphost.serve`).

Over Streamable HTTP (endpoint ``/mcp``) every request needs
``Authorization: Bearer <token>`` (``agentdock token <agent>``); the caller is
the token's agent and no tool takes a user argument.  Over stdio the caller is
``--user`` / ``QMS_USER``.  Binds 127.0.0.1 unless ``--host`` says otherwise.

A refused operation (permission, workflow, unknown document, invalid workspace
file) is a tool result with ``isError: true`` whose text starts with
``refused [<rule>]`` (:mod:`agentdock.mcphost.results`); a malformed request (bad id, type, version or outcome) is a
JSON-RPC ``invalid params`` error naming the rule.  Mutating tools honour an
``Idempotency-Key`` header: the same key from the same agent returns the
original result and applies nothing twice.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from agentdock import paths
from agentdock.clirun import run_cli, setup_logging
from agentdock.defaults import QMS_PORT
from agentdock.mcphost import IdempotencyConflict, IdempotencyStore
from agentdock.mcphost.options import ServerOptions, resolve_options, server_parser
from agentdock.mcphost.results import invalid_params, refusal, require_caller, to_call_result
from agentdock.qms.errors import BadRequest
from agentdock.qms.keyed import apply_once
from agentdock.qms.project import find_root
from agentdock.qms.service import Qms, Result

__all__ = ["DEFAULT_PORT", "build_server", "main", "parse_args"]

DEFAULT_PORT = QMS_PORT
log = logging.getLogger("agentdock.qms.mcp")

_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
_WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
_DELETE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)

INSTRUCTIONS = """\
Document control (QMS). Never edit files under QMS/ directly. To change a document: qms_checkout puts a
copy in your workspace (.claude/users/<you>/workspace/<ID>.md); edit it there (front matter: title and
revision_summary only); qms_checkin; qms_route for review, then approval. Reviewers and approvers find
their tasks with qms_inbox and answer with qms_review / qms_approve / qms_reject. qms_status, qms_read,
qms_history and qms_comments are always available."""


def build_server(options: ServerOptions, *, qms: Qms | None = None) -> MCPServer[Any]:
    """An ``MCPServer`` exposing the QMS tools over ``options.root``."""
    qms = qms or Qms(options.root)
    idempotency = IdempotencyStore(options.root, "qms")
    server: MCPServer[Any] = MCPServer("qms-mcp", instructions=INSTRUCTIONS, version="0.1.0")

    async def call(
        ctx: Context[Any, Any],
        tool: str,
        args: dict[str, Any],
        op: Callable[[str], Result],
        *,
        mutating: bool,
    ) -> CallToolResult:
        from agentdock.mcphost.http import idempotency_key

        agent = require_caller(ctx, stdio_user=options.stdio_user)
        key = idempotency_key(ctx) if mutating else None

        def guarded() -> dict[str, Any]:
            payload, replayed = apply_once(
                qms, idempotency, agent=agent, key=key, operation=tool, arguments=args, op=lambda: op(agent)
            )
            if replayed:
                log.info("replayed %s for %s (Idempotency-Key)", tool, agent)
            return payload

        try:
            payload = await anyio.to_thread.run_sync(guarded)
        except BadRequest as exc:
            raise invalid_params(f"[{exc.rule}] {exc.message}") from exc
        except IdempotencyConflict as exc:
            payload = refusal("idempotency", str(exc))
        return to_call_result(payload)

    # -- read-only tools ------------------------------------------------------------------------------
    @server.tool(annotations=_READ)
    async def qms_inbox(ctx: Context[Any, Any]) -> CallToolResult:
        """Your review and approval tasks (documents routed to you)."""
        return await call(ctx, "qms_inbox", {}, qms.inbox, mutating=False)

    @server.tool(annotations=_READ)
    async def qms_workspace(ctx: Context[Any, Any]) -> CallToolResult:
        """The documents checked out into your workspace."""
        return await call(ctx, "qms_workspace", {}, qms.workspace, mutating=False)

    @server.tool(annotations=_READ)
    async def qms_status(ctx: Context[Any, Any], doc_id: str | None = None) -> CallToolResult:
        """A document's status, version, owner and pending reviewers; every document without doc_id."""
        return await call(ctx, "qms_status", {}, lambda u: qms.status(u, doc_id), mutating=False)

    @server.tool(annotations=_READ)
    async def qms_read(ctx: Context[Any, Any], doc_id: str, version: str | None = None) -> CallToolResult:
        """A document's text: the current draft or effective copy, or an archived version N.X."""
        return await call(ctx, "qms_read", {}, lambda u: qms.read(u, doc_id, version), mutating=False)

    @server.tool(annotations=_READ)
    async def qms_history(ctx: Context[Any, Any], doc_id: str) -> CallToolResult:
        """A document's audit trail (kept even after cancel)."""
        return await call(ctx, "qms_history", {}, lambda u: qms.history(u, doc_id), mutating=False)

    @server.tool(annotations=_READ)
    async def qms_comments(ctx: Context[Any, Any], doc_id: str) -> CallToolResult:
        """Review and rejection comments on a document."""
        return await call(ctx, "qms_comments", {}, lambda u: qms.comments(u, doc_id), mutating=False)

    # -- mutating tools -------------------------------------------------------------------------------
    @server.tool(annotations=_WRITE)
    async def qms_create(
        ctx: Context[Any, Any],
        doc_type: Literal["SOP", "CR", "INV", "VAR"],
        title: str,
        parent: str | None = None,
    ) -> CallToolResult:
        """Create a document (a VAR needs its parent CR/INV); it is checked out to you at version 0.1."""
        args = {"doc_type": doc_type, "title": title, "parent": parent}
        return await call(
            ctx, "qms_create", args, lambda u: qms.create(u, doc_type, title, parent), mutating=True
        )

    @server.tool(annotations=_WRITE)
    async def qms_checkout(ctx: Context[Any, Any], doc_id: str) -> CallToolResult:
        """Check a document out into your workspace (.claude/users/<you>/workspace/<ID>.md) to edit it."""
        return await call(
            ctx, "qms_checkout", {"doc_id": doc_id}, lambda u: qms.checkout(u, doc_id), mutating=True
        )

    @server.tool(annotations=_WRITE)
    async def qms_checkin(ctx: Context[Any, Any], doc_id: str) -> CallToolResult:
        """Check your edited workspace copy back in (front matter: title and revision_summary only)."""
        return await call(
            ctx, "qms_checkin", {"doc_id": doc_id}, lambda u: qms.checkin(u, doc_id), mutating=True
        )

    @server.tool(annotations=_DELETE)
    async def qms_cancel(ctx: Context[Any, Any], doc_id: str, confirm: bool = False) -> CallToolResult:
        """Delete a never-approved (< 1.0), checked-in document; its history stays. Needs confirm=true."""
        args = {"doc_id": doc_id, "confirm": confirm}
        return await call(
            ctx, "qms_cancel", args, lambda u: qms.cancel(u, doc_id, confirm=confirm), mutating=True
        )

    @server.tool(annotations=_WRITE)
    async def qms_route(
        ctx: Context[Any, Any], doc_id: str, workflow: Literal["review", "approval"], retire: bool = False
    ) -> CallToolResult:
        """Route your document for review or approval (retire=true with approval retires it); assigns qa."""
        args = {"doc_id": doc_id, "workflow": workflow, "retire": retire}
        return await call(
            ctx, "qms_route", args, lambda u: qms.route(u, doc_id, workflow, retire=retire), mutating=True
        )

    @server.tool(annotations=_WRITE)
    async def qms_assign(ctx: Context[Any, Any], doc_id: str, assignees: list[str]) -> CallToolResult:
        """(Quality) add reviewers or approvers to a document in review or approval."""
        args = {"doc_id": doc_id, "assignees": assignees}
        return await call(ctx, "qms_assign", args, lambda u: qms.assign(u, doc_id, assignees), mutating=True)

    @server.tool(annotations=_WRITE)
    async def qms_review(
        ctx: Context[Any, Any],
        doc_id: str,
        outcome: Literal["recommend", "request_updates"],
        comment: str = "",
    ) -> CallToolResult:
        """Record your review of a document assigned to you (request_updates needs a comment)."""
        args = {"doc_id": doc_id, "outcome": outcome, "comment": comment}
        return await call(
            ctx, "qms_review", args, lambda u: qms.review(u, doc_id, outcome, comment), mutating=True
        )

    @server.tool(annotations=_WRITE)
    async def qms_approve(ctx: Context[Any, Any], doc_id: str) -> CallToolResult:
        """Approve a document assigned to you for approval."""
        return await call(
            ctx, "qms_approve", {"doc_id": doc_id}, lambda u: qms.approve(u, doc_id), mutating=True
        )

    @server.tool(annotations=_WRITE)
    async def qms_reject(ctx: Context[Any, Any], doc_id: str, comment: str) -> CallToolResult:
        """Reject a document assigned to you for approval, saying why; it returns to its reviewed state."""
        args = {"doc_id": doc_id, "comment": comment}
        return await call(ctx, "qms_reject", args, lambda u: qms.reject(u, doc_id, comment), mutating=True)

    @server.tool(annotations=_WRITE)
    async def qms_withdraw(ctx: Context[Any, Any], doc_id: str) -> CallToolResult:
        """Pull your document back out of review or approval."""
        return await call(
            ctx, "qms_withdraw", {"doc_id": doc_id}, lambda u: qms.withdraw(u, doc_id), mutating=True
        )

    @server.tool(annotations=_WRITE)
    async def qms_release(ctx: Context[Any, Any], doc_id: str) -> CallToolResult:
        """Release your pre-approved CR/INV/VAR for execution."""
        return await call(
            ctx, "qms_release", {"doc_id": doc_id}, lambda u: qms.release(u, doc_id), mutating=True
        )

    @server.tool(annotations=_WRITE)
    async def qms_close(ctx: Context[Any, Any], doc_id: str) -> CallToolResult:
        """Close your post-approved CR/INV/VAR."""
        return await call(ctx, "qms_close", {"doc_id": doc_id}, lambda u: qms.close(u, doc_id), mutating=True)

    return server


def _parser() -> argparse.ArgumentParser:
    return server_parser("qms-mcp", "The QMS as an MCP server.", default_port=DEFAULT_PORT)


def parse_args(argv: Sequence[str], environ: Mapping[str, str]) -> ServerOptions:
    """Flags > environment (``QMS_USER``, ``QMS_MCP_PORT``, ``QMS_MCP_LOG_LEVEL``) > defaults."""
    args = _parser().parse_args(list(argv))
    root = args.project_root or find_root(Path.cwd())
    if root is None:
        raise SystemExit(
            "qms-mcp: no project root: pass --project-root DIR (create one with `qms init --root DIR`)"
        )
    root = Path(root).resolve()
    if not paths.agents_dir(root).is_dir():
        raise SystemExit(
            f"qms-mcp: {root} is not a QMS project (no .claude/agents/); run `qms init --root {root}`"
        )
    try:
        return resolve_options(
            "qms-mcp", args, environ, root=root, default_port=DEFAULT_PORT, env_prefix="QMS_MCP"
        )
    except ValueError as exc:
        raise SystemExit(f"qms-mcp: {exc}") from None


def _build(options: ServerOptions) -> MCPServer[Any]:
    """Runs as the project owner (after the shared host dropped root): recover, then serve."""
    qms = Qms(options.root)
    recovered = qms.storage.recover_all()
    if recovered:
        log.warning(
            "finished %d interrupted operation(s): %s", len(recovered), ", ".join(map(str, recovered))
        )
    return build_server(options, qms=qms)


def _main(argv: Sequence[str] | None = None) -> int:
    from agentdock.mcphost.serve import run_server

    try:
        options = parse_args(sys.argv[1:] if argv is None else argv, os.environ)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 2
        return int(exc.code or 0)
    setup_logging(options.log_level)
    return run_server(options, lambda: _build(options))


def main(argv: Sequence[str] | None = None) -> int:
    """``qms-mcp``: see :func:`_main`; exit codes, Ctrl-C and errors follow :mod:`agentdock.clirun`."""
    return run_cli("qms-mcp", lambda: _main(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
