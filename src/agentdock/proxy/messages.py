"""JSON-RPC message routing: what a message is, what a method may do, how errors look.

The proxy never models MCP payloads; it needs only to know a message's kind
(request, notification, response), its id, and how risky its method is to send
twice. Messages stay plain ``dict`` values end to end.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "MODERN_VERSIONS",
    "PROTOCOL_VERSION_META_KEY",
    "Kind",
    "Message",
    "MethodClass",
    "RequestId",
    "error_response",
    "is_valid_message",
    "kind_of",
    "method_class",
    "modern_version_of",
]

Message = dict[str, Any]
RequestId = str | int

PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
"""Where a 2026-07-28-era request carries its protocol version (``params._meta``)."""

HANDSHAKE_VERSIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})
"""Revisions negotiated with ``initialize`` and served with a session."""

MODERN_VERSIONS = frozenset({"2026-07-28"})
"""Revisions that use the stateless per-request envelope (no initialize, no session)."""

BATCH_VERSIONS = frozenset({"2025-03-26"})
"""The one revision whose Streamable HTTP transport allows JSON-RPC batches."""


class Kind(enum.Enum):
    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"


class MethodClass(enum.StrEnum):
    """How safe a method is to send twice; the columns of the retry decision table."""

    SAFE = "safe"
    """No side effects: initialize, ping, discovery, list and read methods."""
    TOOL_CALL_KEYED = "tool_call_keyed"
    """``tools/call`` sent with an ``Idempotency-Key``: a server that honours it runs it once."""
    UNSAFE = "unsafe"
    """May have side effects and carries no idempotency key (``tools/call`` without one, unknown methods)."""
    NOTIFICATION = "notification"
    """Fire-and-forget client notifications (initialized, cancelled, progress, roots changed)."""
    REPLY = "reply"
    """The client's response to a server request (sampling, elicitation, roots, ping); servers ignore repeats."""


SAFE_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
        "tasks/get",
        "tasks/list",
        "tasks/result",
    }
)
"""Methods that read, or set state idempotently: repeating them changes nothing."""


def is_valid_message(value: Any) -> bool:
    """Whether ``value`` is a JSON-RPC 2.0 request, notification or response object."""
    if not isinstance(value, dict) or value.get("jsonrpc") != "2.0":
        return False
    if "method" in value:
        if not isinstance(value["method"], str):
            return False
        return "id" not in value or _valid_id(value["id"])
    if "id" not in value or ("result" in value) == ("error" in value):
        return False
    return value["id"] is None or _valid_id(value["id"])


def _valid_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def kind_of(message: Message) -> Kind:
    """The kind of a message that passed :func:`is_valid_message`."""
    if "method" in message:
        return Kind.REQUEST if "id" in message else Kind.NOTIFICATION
    return Kind.RESPONSE


def method_class(message: Message, *, keyed: bool) -> MethodClass:
    """The retry-table column for ``message``; ``keyed`` says an Idempotency-Key is sent with it."""
    kind = kind_of(message)
    if kind is Kind.RESPONSE:
        return MethodClass.REPLY
    if kind is Kind.NOTIFICATION:
        return MethodClass.NOTIFICATION
    method = message["method"]
    if method in SAFE_METHODS:
        return MethodClass.SAFE
    if method == "tools/call" and keyed:
        return MethodClass.TOOL_CALL_KEYED
    return MethodClass.UNSAFE


def modern_version_of(message: Message) -> str | None:
    """The 2026-07-28-era protocol version a request carries in ``params._meta``, if any."""
    params = message.get("params")
    if not isinstance(params, dict):
        return None
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        return None
    version = meta.get(PROTOCOL_VERSION_META_KEY)
    if isinstance(version, str) and version not in HANDSHAKE_VERSIONS:
        return version
    return None


def error_response(request_id: RequestId | None, code: int, message: str, data: Any = None) -> Message:
    """A JSON-RPC error response; ``data`` is omitted when ``None``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}
