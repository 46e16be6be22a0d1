"""Mutating QMS calls under an ``Idempotency-Key``: applied at most once, a SIGKILL included.

``apply_once(qms, store, agent=, key=, operation=, arguments=, op=)`` runs ``op()`` (one
:class:`~agentdock.qms.service.Qms` mutation) and returns ``(payload, replayed)``,
where ``payload`` is the tool result the MCP server sends::

    {"is_error": bool, "text": str, "structured": dict}

A refusal (:class:`~agentdock.qms.errors.QmsError` other than ``BadRequest``) is a
payload too; ``BadRequest`` propagates (the server turns it into invalid params).

Crash safety.  The idempotency record is not written after the operation (a
SIGKILL in between would let the retry apply it again): it is one more file in
the operation's own journal commit (:meth:`Qms.committing_with`), so it exists
exactly when the operation does.  A retry that finds no record first finishes
every interrupted journal (:meth:`Storage.recover_all`), which writes the record
of an operation whose process was killed after its commit point, then looks
again.  Both happen under the key's lock, so a concurrent duplicate (same key,
operation still running) waits and then gets the first result.  ``store`` and
``qms`` must share one project root (the record is a path under it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agentdock.mcphost import IdempotencyStore
from agentdock.mcphost.results import refusal
from agentdock.qms.errors import BadRequest, QmsError
from agentdock.qms.service import Qms, Result

__all__ = ["apply_once", "refusal_payload", "result_payload"]


def result_payload(result: Result) -> dict[str, Any]:
    return {"is_error": False, "text": result.message, "structured": result.data}


def refusal_payload(rule: str, message: str) -> dict[str, Any]:
    """``refused [<rule>]: <message>``, the shared host's refusal shape."""
    return refusal(rule, message)


def _run(op: Callable[[], Result]) -> dict[str, Any]:
    try:
        return result_payload(op())
    except BadRequest:
        raise
    except QmsError as exc:
        return refusal_payload(exc.rule, exc.message)


def apply_once(
    qms: Qms,
    store: IdempotencyStore,
    *,
    agent: str,
    key: str | None,
    operation: str,
    arguments: Mapping[str, Any],
    op: Callable[[], Result],
) -> tuple[dict[str, Any], bool]:
    """``(payload, replayed)`` of ``op()``, applied at most once per ``(agent, key)``."""
    if key is None:
        return _run(op), False
    with store.claim(agent, key, operation, arguments) as claim:
        if claim.result is None and qms.storage.recover_all():
            claim.reload()  # a killed attempt's journal, now replayed, may have carried this key's record
        if claim.result is not None:
            return claim.result, True
        recorded: list[dict[str, Any]] = []

        def record(result: Result) -> tuple[Path, str]:
            payload = result_payload(result)
            recorded.append(payload)
            return claim.path, claim.record_text(payload)

        with qms.committing_with(record):
            payload = _run(op)
        if recorded:  # written by the operation's own commit
            claim.result = recorded[0]
            return recorded[0], False
        # A refusal changed nothing, so recording it afterwards cannot double-apply anything.
        claim.save(payload)
        return payload, False
