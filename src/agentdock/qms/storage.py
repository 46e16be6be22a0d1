"""The QMS on disk: metadata, audit trail, locks and the per-document journal.

Durability model.  An operation on a document is computed in memory as a
:class:`Change` (files to write or delete, the new metadata, audit events) while
the document's cross-process lock is held.  :meth:`Storage.commit` then

1. writes the change as a journal ``QMS/.meta/<TYPE>/.<ID>.journal`` (atomic:
   temp file, fsync, rename) — this is the commit point;
2. applies it: each file written atomically or deleted, audit events appended
   (``O_APPEND`` + fsync; each carries ``seq``, so a replay appends only the
   missing ones), metadata written last;
3. deletes the journal.

Ownership.  A file written into an agent's workspace is given the workspace
folder's owner when the server runs as root and they differ (agents run as a
non-root uid in their containers; a root-owned 0644 checkout could not be
edited in place there).

A process killed before step 1 leaves the document as it was; killed after it,
the next operation that takes the document's lock (or :meth:`recover_all`)
replays the journal, so the document ends up exactly as after the operation.
The audit trail is only ever appended to (a torn last line from a killed append
is cut back to the last complete event before the replay re-appends it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentdock import paths
from agentdock.mcphost.files import append_line, atomic_write_text, file_lock, fsync_dir
from agentdock.qms.errors import BadRequest, NotFound, StorageError
from agentdock.qms.ids import DocId, DocType, Layout, existing_numbers, number_text, parse_doc_id
from agentdock.qms.model import Meta

__all__ = ["Change", "Storage", "utc_now"]

log = logging.getLogger("agentdock.qms.storage")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Change:
    """What one operation does to one document, applied all-or-nothing."""

    doc: DocId
    meta: Meta | None  # None: the document's metadata is removed (cancel)
    writes: dict[Path, str | None] = field(default_factory=dict)  # path -> text, or None to delete
    events: list[dict[str, Any]] = field(default_factory=list)


class Storage:
    def __init__(self, root: Path) -> None:
        self.layout = Layout(root)
        self.root = root

    # -- locks ----------------------------------------------------------------------------------------
    def _lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        state = self.root / ".agentdock"
        if not state.exists():
            state.mkdir(mode=0o700, parents=True, exist_ok=True)
        return file_lock(self.layout.lock_file(name))

    @contextlib.contextmanager
    def document(self, doc: DocId) -> Iterator[None]:
        """Hold the document's lock, with any interrupted operation on it finished first."""
        with self._lock(f"doc-{doc.text}"):
            self._recover(doc)
            yield

    @contextlib.contextmanager
    def allocation(self, doc_type: DocType, parent: DocId | None) -> Iterator[None]:
        scope = f"{parent.text}-VAR" if parent else doc_type.value
        with self._lock(f"alloc-{scope}"):
            yield

    def next_id(self, doc_type: DocType, parent: DocId | None = None) -> DocId:
        """Highest existing number + 1; call while holding :meth:`allocation`."""
        used = existing_numbers(self.layout, doc_type, parent)
        number = number_text(max(used, default=0) + 1)
        text = f"{parent.text}-VAR-{number}" if parent else f"{doc_type.value}-{number}"
        return parse_doc_id(text)

    # -- reading --------------------------------------------------------------------------------------
    def load_meta(self, doc: DocId) -> Meta:
        path = self.layout.meta_file(doc)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            hint = " (it was cancelled; its history remains)" if self.layout.audit_file(doc).exists() else ""
            raise NotFound(f"no document {doc.text}{hint}", rule="document.unknown") from None
        try:
            meta = Meta.from_json(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise StorageError(f"{path} is not valid JSON: {exc}", rule="storage.meta") from exc
        if meta.id != doc.text:
            raise StorageError(f"{path} holds metadata for {meta.id}", rule="storage.meta")
        return meta

    def exists(self, doc: DocId) -> bool:
        return self.layout.meta_file(doc).is_file()

    def all_documents(self) -> list[DocId]:
        docs: list[DocId] = []
        meta_root = self.layout.qms / ".meta"
        for doc_type in DocType:
            folder = meta_root / doc_type.value
            if folder.is_dir():
                for entry in folder.glob("*.json"):
                    with contextlib.suppress(BadRequest):
                        docs.append(parse_doc_id(entry.stem))
        return sorted(docs)

    def audit(self, doc: DocId) -> list[dict[str, Any]]:
        path = self.layout.audit_file(doc)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        events = []
        for number, line in enumerate(text.splitlines(keepends=True), 1):
            if not line.endswith("\n"):
                break  # a torn append; the pending journal will restore it
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise StorageError(f"{path}:{number} is not valid JSON", rule="storage.audit") from exc
        return events

    # -- writing --------------------------------------------------------------------------------------
    def commit(self, change: Change, *, base_seq: int) -> None:
        """Journal then apply ``change``; events get ``seq`` numbers after ``base_seq``."""
        events = [{**event, "seq": base_seq + i} for i, event in enumerate(change.events, 1)]
        journal = {
            "doc": change.doc.text,
            "meta": None if change.meta is None else change.meta.to_json(),
            "writes": [[self.layout.relative(p), text] for p, text in change.writes.items()],
            "events": events,
        }
        atomic_write_text(self.layout.journal_file(change.doc), json.dumps(journal) + "\n", mode=0o644)
        self._apply(change.doc, journal)

    def recover_all(self) -> list[DocId]:
        """Finish every interrupted operation (each under its document's lock); returns the documents."""
        found: list[DocId] = []
        meta_root = self.layout.qms / ".meta"
        for doc_type in DocType:
            folder = meta_root / doc_type.value
            if not folder.is_dir():
                continue
            for entry in folder.glob(".*.journal"):
                try:
                    doc = parse_doc_id(entry.name[1 : -len(".journal")])
                except BadRequest:
                    continue
                with self.document(doc):
                    found.append(doc)
        return found

    def pending_journal(self, doc: DocId) -> bool:
        return self.layout.journal_file(doc).exists()

    def _recover(self, doc: DocId) -> None:
        path = self.layout.journal_file(doc)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        try:
            journal = json.loads(raw)
        except json.JSONDecodeError as exc:
            # The journal is written atomically, so this is damage, not a torn write.
            raise StorageError(
                f"{path} is corrupt: {exc}; inspect it by hand", rule="storage.journal"
            ) from exc
        self._apply(doc, journal)

    def _apply(self, doc: DocId, journal: dict[str, Any]) -> None:
        touched: set[Path] = set()
        for relative, text in journal["writes"]:
            path = self.layout.resolve(relative)
            if text is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            else:
                atomic_write_text(path, text)
                self._give_to_workspace_owner(path)
            touched.add(path.parent)
        self._append_events(doc, journal["events"])
        meta_path = self.layout.meta_file(doc)
        if journal["meta"] is None:
            with contextlib.suppress(FileNotFoundError):
                meta_path.unlink()
        else:
            atomic_write_text(meta_path, json.dumps(journal["meta"], indent=2, sort_keys=True) + "\n")
        for folder in touched:
            if folder.is_dir():
                fsync_dir(folder)
        self.layout.journal_file(doc).unlink()
        fsync_dir(self.layout.journal_file(doc).parent)

    def _give_to_workspace_owner(self, path: Path) -> None:
        """As root, hand a file just written into an agent's workspace to the workspace's owner."""
        if os.geteuid() != 0:
            return
        folder = path.parent
        if folder != paths.agent_workspace_dir(self.root, folder.parent.name):
            return
        try:
            owner = folder.stat()
            mine = path.stat(follow_symlinks=False)
            if (mine.st_uid, mine.st_gid) != (owner.st_uid, owner.st_gid):
                os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
        except OSError as exc:  # the write itself succeeded; the agent may only have to copy it
            log.warning("cannot give %s to the owner of %s: %s", path, folder, exc)

    def _append_events(self, doc: DocId, events: list[dict[str, Any]]) -> None:
        path = self.layout.audit_file(doc)
        last_seq = 0
        if path.exists():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                # A torn append from a killed process: cut back to the last complete event.
                with open(path, "r+b") as handle:
                    handle.truncate(data.rfind(b"\n") + 1)
                    os.fsync(handle.fileno())
            existing = self.audit(doc)
            last_seq = max((int(e.get("seq", 0)) for e in existing), default=0)
        for event in events:
            if int(event["seq"]) > last_seq:
                append_line(path, json.dumps(event, sort_keys=False))
