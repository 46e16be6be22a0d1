"""The audit trail's append-only promise, checked on every read.

Each event line carries ``seq`` (1, 2, 3… with no gap) and ``prev``: the SHA-256 of the previous
line's exact bytes (the first line's ``prev`` is a genesis value derived from the document id,
so one document's trail cannot be passed off as another's).  That chain shows an edited or
reordered line, but a whole file rolled back to an older copy (``git checkout -- QMS/.audit/…``)
is itself a valid chain, so the QMS also keeps a **tail anchor** — ``{"seq": N, "hash": H}``,
the last line's number and hash — in its private state (``.agentdock/qms/anchors/``, masked in
containers and unreachable through git-mcp).  A trail is intact when its chain holds *and* its
last line is the anchored one; anything else is reported with the first entry that is wrong:

* an edited, inserted or deleted line (``prev`` or ``seq`` breaks at that entry),
* a rollback (the trail ends before the anchor's ``seq``),
* appended lines the QMS did not write (the trail goes past the anchor),
* a missing trail for a document whose anchor exists.

A trail written before chains existed (no ``prev`` anywhere, no anchor) is accepted as
*legacy*; the first chained line appended to it pins the legacy prefix through its ``prev``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Anchor", "TrailCheck", "chain_events", "encode", "genesis", "line_hash", "verify_trail"]


def genesis(doc_id: str) -> str:
    return hashlib.sha256(f"agentdock-qms-audit:{doc_id}".encode()).hexdigest()


def line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def encode(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=False, ensure_ascii=True)


@dataclass(frozen=True)
class Anchor:
    """The trail's tail (``seq``, ``hash``) and, once written by this QMS, the SHA-256 of the
    document's metadata, draft and effective copy (None: absent) as the last operation left them."""

    seq: int
    hash: str
    files: dict[str, str | None] = field(default_factory=dict, compare=True, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, **({"files": self.files} if self.files else {})}

    @classmethod
    def from_json(cls, data: object) -> Anchor | None:
        if isinstance(data, dict) and isinstance(data.get("seq"), int) and isinstance(data.get("hash"), str):
            raw = data.get("files")
            files = (
                {str(k): (v if isinstance(v, str) else None) for k, v in raw.items()}
                if isinstance(raw, dict)
                else {}
            )
            return cls(int(data["seq"]), str(data["hash"]), files)
        return None


@dataclass
class TrailCheck:
    """What a read of one trail found."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = True
    broken_at: int | None = None  # the first entry (1-based) that cannot be trusted
    reason: str = ""
    legacy: bool = False
    tail: Anchor | None = None  # (seq, hash) of the last complete line

    def fail(self, at: int, reason: str) -> TrailCheck:
        if self.ok:
            self.ok, self.broken_at, self.reason = False, at, reason
        return self

    @property
    def summary(self) -> str:
        if self.ok:
            return "intact" + (" (legacy, unchained)" if self.legacy else "")
        return f"BROKEN from entry {self.broken_at}: {self.reason}"


def verify_trail(doc_id: str, text: str | None, anchor: Anchor | None) -> TrailCheck:
    """Check a trail's chain and its tail against ``anchor``; the torn last line of a killed
    append (no newline) is not part of the trail."""
    check = TrailCheck()
    lines = [] if not text else text.split("\n")[:-1]
    prev = genesis(doc_id)
    chained = False
    for number, line in enumerate(lines, 1):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return check.fail(number, "not a JSON event")
        if not isinstance(event, dict):
            return check.fail(number, "not a JSON object")
        if event.get("seq") != number:
            return check.fail(number, f"sequence number {event.get('seq')!r} where {number} belongs")
        if "prev" in event:
            chained = True
            if event["prev"] != prev:
                return check.fail(
                    number, "hash chain broken: the entry before it was changed, removed or added"
                )
        elif chained:
            return check.fail(number, "an unchained entry after chained ones")
        check.events.append(event)
        prev = line_hash(line)
    if lines:
        check.tail = Anchor(len(lines), prev)
    check.legacy = bool(lines) and not chained
    if anchor is None:
        if chained:
            return check.fail(1, "no tail anchor for a chained trail (agentdock's private state was lost)")
        return check
    have = len(lines)
    if have < anchor.seq:
        return check.fail(
            have + 1, f"rolled back: the trail ends at entry {have}, the QMS wrote {anchor.seq}"
        )
    if have > anchor.seq:
        return check.fail(anchor.seq + 1, f"entries after {anchor.seq} were not written by the QMS")
    if check.tail is None or check.tail.hash != anchor.hash:
        return check.fail(have, f"entry {have} differs from the one the QMS wrote")
    return check


def chain_events(doc_id: str, tail: Anchor | None, events: list[dict[str, Any]]) -> tuple[list[str], Anchor]:
    """The lines to append for ``events`` (each given ``prev``) and the new tail anchor."""
    prev = tail.hash if tail else genesis(doc_id)
    seq = tail.seq if tail else 0
    lines = []
    for event in events:
        seq = int(event["seq"])
        line = encode({**event, "prev": prev})
        lines.append(line)
        prev = line_hash(line)
    return lines, Anchor(seq, prev)
