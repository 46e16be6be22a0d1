"""Tool results and error shapes both servers answer with — one spelling, one rule.

* A refused action is a **tool result** with ``isError: true`` whose text starts with
  ``refused [<rule>]: `` (:func:`refusal_text`, :func:`refusal`), so an agent can act on it.
* A malformed request is a **JSON-RPC error** (``invalid params``, :func:`invalid_params`).
* A caller without identity never reaches a tool: over HTTP the bearer check answers
  ``401`` with ``WWW-Authenticate`` (:mod:`agentdock.mcphost.http`); over stdio a server
  does not start without ``--user``.  Should a tool still see no caller,
  :func:`require_caller` raises a JSON-RPC error, never a tool result.

A payload is the dict a server builds first (and the idempotency records store)::

    {"is_error": bool, "text": str, "structured": dict}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, INVALID_REQUEST, CallToolResult, TextContent

from agentdock.mcphost.errors import Unauthenticated

__all__ = [
    "REFUSAL_RE",
    "invalid_params",
    "refusal",
    "refusal_text",
    "require_caller",
    "to_call_result",
]

#: What every refusal text starts with (the rule is a lowercase name such as ``protected-path``).
REFUSAL_RE = re.compile(r"^refused \[(?P<rule>[a-z0-9_.-]+)\]")


def refusal_text(rule: str, message: str) -> str:
    """``refused [<rule>]: <message>``."""
    return f"refused [{rule}]: {message}"


def refusal(rule: str, message: str, structured: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A refusal payload; ``structured`` defaults to ``{"error": message, "rule": rule}``."""
    return {
        "is_error": True,
        "text": refusal_text(rule, message),
        "structured": dict(structured) if structured is not None else {"error": message, "rule": rule},
    }


def to_call_result(payload: Mapping[str, Any]) -> CallToolResult:
    """The MCP ``CallToolResult`` of a payload."""
    return CallToolResult(
        content=[TextContent(type="text", text=payload["text"])],
        structured_content=payload["structured"],
        is_error=bool(payload["is_error"]),
    )


def invalid_params(message: str) -> MCPError:
    """The JSON-RPC ``invalid params`` error for a malformed request (raise it)."""
    return MCPError(INVALID_PARAMS, message)


def require_caller(ctx: Context[Any, Any], *, stdio_user: str | None) -> str:
    """The calling agent, or a JSON-RPC ``invalid request`` error when there is none."""
    from agentdock.mcphost.http import caller_agent

    try:
        return caller_agent(ctx, stdio_user=stdio_user)
    except Unauthenticated as exc:
        raise MCPError(INVALID_REQUEST, f"unauthenticated: {exc}") from exc
