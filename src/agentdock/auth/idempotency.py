"""Idempotency records: a mutating call with a reused ``Idempotency-Key`` returns its first result.

``IdempotencyStore(root, namespace).run(agent, key, operation, arguments, apply)``
runs ``apply()`` (which returns a JSON-serialisable dict) at most once per
``(agent, key)``: the first call stores the result under
``<root>/.agentdock/idempotency/<namespace>/<sha256>.json`` (atomic write); later
calls with the same key get ``(stored_result, True)`` without running ``apply``.
A key reused for a different operation or arguments raises
:class:`~agentdock.auth.errors.IdempotencyConflict`.  A per-key cross-process
lock makes two concurrent calls with one key apply once.  With ``key=None``
``apply`` simply runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentdock import paths
from agentdock.auth.errors import IdempotencyConflict
from agentdock.auth.files import atomic_write_text, file_lock

__all__ = ["KEY_RE", "IdempotencyStore"]

#: Keys are 1-200 visible ASCII characters (UUIDs, ULIDs, anything a client generates).
KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")


class IdempotencyStore:
    def __init__(self, project_root: Path, namespace: str) -> None:
        if not re.fullmatch(r"[a-z0-9_-]{1,40}", namespace):
            raise ValueError(f"invalid idempotency namespace {namespace!r}")
        self.dir = paths.state_dir(Path(project_root)) / "idempotency" / namespace

    def run(
        self,
        agent: str,
        key: str | None,
        operation: str,
        arguments: Mapping[str, Any],
        apply: Callable[[], dict[str, Any]],
    ) -> tuple[dict[str, Any], bool]:
        """``(result, replayed)``: the stored result for a known key, else ``apply()``'s, recorded."""
        if key is None:
            return apply(), False
        if not KEY_RE.match(key):
            raise IdempotencyConflict("Idempotency-Key must be 1-200 visible ASCII characters")
        digest = hashlib.sha256(f"{agent}\0{key}".encode()).hexdigest()
        fingerprint = hashlib.sha256(
            json.dumps(
                {"operation": operation, "arguments": dict(arguments)}, sort_keys=True, default=str
            ).encode()
        ).hexdigest()
        record_path = self.dir / f"{digest}.json"
        with file_lock(self.dir / "locks" / f"{digest[:2]}.lock"):
            if record_path.is_file():
                record = json.loads(record_path.read_text(encoding="utf-8"))
                if record.get("fingerprint") != fingerprint:
                    raise IdempotencyConflict(
                        f"Idempotency-Key {key!r} was already used for {record.get('operation')} "
                        "with different arguments; use a new key for a new operation"
                    )
                result: dict[str, Any] = record["result"]
                return result, True
            result = apply()
            record = {
                "agent": agent,
                "key": key,
                "operation": operation,
                "fingerprint": fingerprint,
                "created": datetime.now(UTC).isoformat(),
                "result": result,
            }
            atomic_write_text(record_path, json.dumps(record, sort_keys=True) + "\n", mode=0o600)
            return result, False
