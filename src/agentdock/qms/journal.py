"""The per-document journal: sealed by the QMS, checked before it is believed, quarantined if not.

A journal (``QMS/.meta/<TYPE>/.<ID>.journal``) replays an interrupted operation, so a journal an
agent planted would be a way to write anything.  A journal is applied only when

1. its **seal** holds: an HMAC-SHA256 over its content with a key kept in agentdock's private
   state (``.agentdock/qms/journal.key``, mode 0600, masked in containers, out of git-mcp's
   reach) — so a journal the QMS did not write (an EFFECTIVE version with no approval, say)
   is refused even if every path in it is allowed; and
2. every path it writes is one the operation may write (:func:`check_paths`): its own
   document's files (draft, effective copy), its archive, the workspaces and inboxes of the
   users the operation names (its events' users and assignees, the document's owner and
   pending assignees), this document's task files in any inbox (removal only), and the MCP
   server's idempotency record.  ``.git/config``, another agent's folder, ``..``, an absolute
   path: a corrupt journal.

A journal that fails either check, cannot be parsed, or cannot be applied because a path on
the way is a link or a folder is *quarantined*: moved to ``QMS/.meta/quarantine/`` with a
``.reason.json`` beside it, logged, reported by ``qms status`` and ``qms doctor``, and never
replayed.  It blocks neither its document (which stays as it was before that operation) nor
any other document, nor the server's start.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path, PurePosixPath
from typing import Any

from agentdock import paths
from agentdock.qms.errors import StorageError, UnsafePath
from agentdock.qms.ids import DocId, Layout
from agentdock.qms.safefs import SafeRoot
from agentdock.qms.tasks import doc_of_task_file

__all__ = ["CorruptJournal", "JournalSeal", "check_paths", "named_users", "read_sealed"]

_ARCHIVE_NAME = re.compile(r"(?P<doc>[A-Z0-9-]+)-v[0-9]{1,4}\.[0-9]{1,4}\.md")
_RECORD_NAME = re.compile(r"[0-9a-f]{64}\.json")
MAX_JOURNAL_BYTES = 8 * 1024 * 1024


class CorruptJournal(StorageError):
    """A journal that must not be replayed (unsealed, malformed, or writing where it may not)."""

    default_rule = "journal.corrupt"


class JournalSeal:
    """Seals and opens journals with the project's private key (created on first use)."""

    def __init__(self, root: Path) -> None:
        self.safe = SafeRoot(root)
        self.key_file = paths.state_dir(Path(root)) / "qms" / "journal.key"

    def _key(self, *, create: bool) -> bytes | None:
        raw = self.safe.read_bytes(self.key_file, limit=256)
        if raw is None and create:
            self.safe.write_text(self.key_file, secrets.token_hex(32) + "\n", mode=0o600)
            raw = self.safe.read_bytes(self.key_file, limit=256)
        return None if raw is None else bytes.fromhex(raw.decode("ascii").strip())

    @staticmethod
    def _mac(key: bytes, body: dict[str, Any]) -> str:
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hmac.new(key, canonical.encode("ascii"), hashlib.sha256).hexdigest()

    def seal(self, body: dict[str, Any]) -> str:
        key = self._key(create=True)
        assert key is not None
        return json.dumps({**body, "mac": self._mac(key, body)}) + "\n"

    def open(self, raw: str) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CorruptJournal(f"not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("mac"), str):
            raise CorruptJournal("no seal: the QMS did not write it")
        mac = data.pop("mac")
        try:
            key = self._key(create=False)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptJournal("the journal key is unreadable") from exc
        if key is None or not hmac.compare_digest(mac, self._mac(key, data)):
            raise CorruptJournal("its seal does not verify: the QMS did not write it")
        return data


def named_users(journal: dict[str, Any]) -> set[str]:
    """The users an operation names: its events' users and assignees, the owner and assignees."""
    names: set[str] = set()
    for event in journal.get("events") or []:
        if isinstance(event, dict):
            if isinstance(event.get("user"), str):
                names.add(event["user"])
            names.update(a for a in event.get("assignees") or [] if isinstance(a, str))
    meta = journal.get("meta")
    if isinstance(meta, dict):
        if isinstance(meta.get("owner"), str):
            names.add(meta["owner"])
        names.update(a for a in meta.get("pending_assignees") or [] if isinstance(a, str))
    return names


def check_paths(layout: Layout, doc: DocId, journal: dict[str, Any]) -> None:
    """CorruptJournal unless every write in ``journal`` is one an operation on ``doc`` may make."""
    if journal.get("doc") != doc.text:
        raise CorruptJournal(f"it is for {journal.get('doc')!r}, not {doc.text}")
    meta = journal.get("meta")
    if meta is not None and (not isinstance(meta, dict) or meta.get("id") != doc.text):
        raise CorruptJournal(f"its metadata is not {doc.text}'s")
    writes = journal.get("writes")
    if not isinstance(writes, list) or not isinstance(journal.get("events"), list):
        raise CorruptJournal("writes and events must be lists")
    users = named_users(journal)
    own = {layout.relative(layout.draft_file(doc)), layout.relative(layout.effective_file(doc))}
    archive_dir = layout.relative(layout.archive_file(doc, "0.1").parent)
    records = layout.relative(paths.state_dir(layout.root) / "idempotency" / "qms")
    for item in writes:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise CorruptJournal("a write is not [path, text-or-null]")
        relative, text = item
        if text is not None and not isinstance(text, str):
            raise CorruptJournal(f"the write to {relative!r} is not text")
        pure = PurePosixPath(relative)
        if pure.is_absolute() or any(p in ("", ".", "..") for p in pure.parts) or "\x00" in relative:
            raise CorruptJournal(f"it writes {relative!r}, which is not a plain path under the root")
        if relative in own:
            continue
        parent, name = str(pure.parent), pure.name
        if parent == archive_dir:
            match = _ARCHIVE_NAME.fullmatch(name)
            if match and match.group("doc") == doc.text:
                continue
        if parent == records and _RECORD_NAME.fullmatch(name):
            continue
        parts = pure.parts
        if len(parts) == 5 and parts[:2] == (".claude", "users"):
            user, folder = parts[2], parts[3]
            if folder == "workspace" and name == f"{doc.text}.md" and user in users:
                continue
            if folder == "inbox" and doc_of_task_file(name) == doc and (text is None or user in users):
                continue
        raise CorruptJournal(f"it writes {relative!r}, which an operation on {doc.text} may not write")


def read_sealed(safe: SafeRoot, path: Path, seal: JournalSeal) -> dict[str, Any] | None:
    """The journal's verified content, None if there is none; CorruptJournal if it is not sound."""
    try:
        raw = safe.read_bytes(path, limit=MAX_JOURNAL_BYTES)
    except UnsafePath as exc:
        raise CorruptJournal(exc.message) from exc
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptJournal("not UTF-8") from exc
    return seal.open(text)
