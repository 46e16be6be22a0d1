"""The read-only side of the QMS: users, document views and the reading commands.

:class:`QmsQueries` holds one project root's storage and answers ``status``,
``read``, ``history``, ``comments``, ``inbox`` and ``workspace`` without
changing anything; :class:`~agentdock.qms.service.Qms` adds the mutations on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agentdock.qms.agents import User, parse_user_name
from agentdock.qms.documents import parse_document
from agentdock.qms.errors import BadRequest, NotFound, PermissionDenied, QmsError
from agentdock.qms.ids import DocId, parse_doc_id
from agentdock.qms.index import Row, summary
from agentdock.qms.limits import Limits, parse_limits, printable
from agentdock.qms.model import Meta, Result, Version
from agentdock.qms.overview import Overview
from agentdock.qms.roster import Roster
from agentdock.qms.storage import Storage, utc_now
from agentdock.qms.tasks import doc_of_task_file, read_inbox

__all__ = ["QmsQueries"]


class QmsQueries:
    """Users, document views and the reading commands of one project root."""

    def __init__(
        self, root: Path, *, clock: Callable[[], str] = utc_now, limits: Limits | None = None
    ) -> None:
        self.root = Path(root)
        self.storage = Storage(self.root)
        self.layout = self.storage.layout
        self.safe = self.storage.safe
        self.clock = clock
        self.roster = Roster(self.root)
        self.limits = limits or parse_limits(self.safe.read_text(self.layout.limits_file(), limit=64 * 1024))
        self.overview = Overview(self.storage.index, _status_lines)

    # -- users ----------------------------------------------------------------------------------------
    def users(self) -> dict[str, User]:
        """The roster (``QMS/.meta/roster.json``, verified against its pin); never agent files."""
        return self.roster.users()

    def user(self, name: object) -> User:
        parse_user_name(name)
        users = self.users()
        user = users.get(str(name))
        if user is None:
            raise PermissionDenied(
                f"unknown user {name!r}: not in the QMS roster (known: {', '.join(users) or 'none'}); "
                "a person adds users with `qms roster set USER GROUP`",
                rule="user.unknown",
            )
        return user

    # -- helpers --------------------------------------------------------------------------------------
    def title(self, meta: Meta, pending: Mapping[Path, str | None] | None = None) -> str:
        """The draft's (else the effective copy's) title; ``pending`` writes count as done."""
        pending = pending or {}
        for path in (self.layout.draft_file(meta.doc), self.layout.effective_file(meta.doc)):
            if path in pending:
                text = pending[path]
                if text is None:
                    continue
            else:
                try:
                    text = self.storage.read_text(path, limit=self.limits.max_document_bytes)
                except (QmsError, UnicodeDecodeError):
                    return ""
                if text is None:
                    continue
            try:
                return parse_document(text, source=path.name, limits=self.limits).title
            except (QmsError, UnicodeDecodeError):
                return ""
        return ""

    def current_file(self, meta: Meta) -> Path:
        draft = self.layout.draft_file(meta.doc)
        return draft if self.safe.kind(draft) is not None else self.layout.effective_file(meta.doc)

    def read_document(self, doc: DocId, path: Path) -> str:
        """A controlled file's text, reached without links (UnsafePath if a link is on the way) and,
        for the draft and effective copy, checked to be what the QMS last wrote (IntegrityError)."""
        text = self.storage.read_controlled(doc, path)
        if text is None:
            raise NotFound(f"{self.layout.relative(path)} does not exist", rule="document.file-missing")
        return text

    def task_files(self, doc: DocId, users: list[str]) -> list[Path]:
        found = []
        for name in users:
            inbox = self.layout.inbox_dir(name)
            try:
                names = self.safe.listdir(inbox)
            except QmsError:
                continue  # a link where the inbox belongs: nothing of ours is in it
            found += [inbox / n for n in names if doc_of_task_file(n) == doc]
        return sorted(found)

    def describe(
        self, meta: Meta, *, pending: Mapping[Path, str | None] | None = None, **extra: Any
    ) -> dict[str, Any]:
        return {**meta.to_json(), "doc_id": meta.id, "title": self.title(meta, pending), **extra}

    # -- the index (agentdock.qms.index) --------------------------------------------------------------
    def index_rows(
        self, docs: list[str], cancelled: list[str] | None = None, *, check_sigs: bool = True
    ) -> dict[str, Row]:
        """Each document's index row, in the order given; stale shards are rebuilt from the files
        (``check_sigs=False``: only which documents exist is checked, for what never changes)."""
        found = self.storage.index.rows(
            docs, cancelled, self.scan_row, lock=self.storage.user_lock, check_sigs=check_sigs
        )
        return {doc: found[doc] for doc in [*docs, *(cancelled or [])]}

    def scan_row(self, text: str) -> Row:
        """A document's row read from the files (what the index is rebuilt from): the verified
        metadata under the document's lock, the title, and who created it when (the trail's first
        line)."""
        doc = parse_doc_id(text)
        creation = self.storage.creation(doc)
        creator, created = creation if creation else (None, None)
        try:
            with self.storage.document(doc):
                sig = self.storage.index.signature(doc)
                if sig is None and not self.storage.safe.kind(self.layout.meta_file(doc)):
                    return Row(None, None, creator, created)  # cancelled: its trail remains
                view = summary(self.describe(self.storage.load_meta(doc)))
        except QmsError as exc:
            view = {
                "id": doc.text,
                "version": "?",
                "status": "UNREADABLE",
                "owner": "?",
                "title": f"[{exc.rule}] {exc.message}",
            }
            sig = None
        return Row(sig, view, creator, created)

    # -- reading --------------------------------------------------------------------------------------
    def status(self, actor: str, doc_id: str | None = None) -> Result:
        self.user(actor)
        if doc_id is None:
            listing = self.storage.listing()
            self.storage.recover_all(listing)
            rows, text = self.overview.documents(listing, self.scan_row, lock=self.storage.user_lock)
            data: dict[str, Any] = {"documents": rows}
            quarantined = self.storage.quarantined()
            if quarantined:
                data["quarantined"] = quarantined
                warning = (
                    f"WARNING: {len(quarantined)} journal(s) quarantined, never replayed; see `qms doctor`"
                )
                text = f"{text}\n{warning}" if text else warning
            return Result(text or "No documents.", data)
        doc = parse_doc_id(doc_id)
        with self.storage.document(doc):
            meta = self.storage.load_meta(doc)
            trail = self.storage.check_audit(doc)
        data = self.describe(meta, audit=trail.summary)
        lines = [
            f"{meta.id}: {data['title']}",
            f"  version {meta.version}  status {meta.status}  owner {meta.owner}"
            f"{'  (checked out)' if meta.checked_out else ''}",
        ]
        if meta.effective_version:
            lines.append(f"  effective version {meta.effective_version}")
        if meta.pending_assignees:
            lines.append(f"  pending: {', '.join(meta.pending_assignees)}")
        if meta.review_outcomes:
            lines.append("  reviews: " + ", ".join(f"{u}={o}" for u, o in meta.review_outcomes.items()))
        if not trail.ok:
            lines.append(f"  WARNING: audit trail {trail.summary}")
        return Result("\n".join(printable(line) for line in lines), data)

    def read(self, actor: str, doc_id: str, version: str | None = None) -> Result:
        self.user(actor)
        doc = parse_doc_id(doc_id)
        with self.storage.document(doc):
            meta = self.storage.load_meta(doc)
            if version is None:
                path, shown = self.current_file(meta), meta.version
                if path == self.layout.effective_file(doc) and meta.effective_version:
                    shown = meta.effective_version
            else:
                shown = str(Version.parse(version))
                candidates = [self.layout.archive_file(doc, shown)]
                if shown == meta.effective_version:
                    candidates.append(self.layout.effective_file(doc))
                if shown == meta.version:
                    candidates.append(self.layout.draft_file(doc))
                path = next((p for p in candidates if self.safe.kind(p) is not None), candidates[0])
            try:
                text = self.read_document(doc, path)
            except NotFound:
                raise NotFound(f"{doc} has no version {shown}", rule="document.version") from None
        return Result(
            text, {"doc_id": doc.text, "version": shown, "status": meta.status.value, "content": text}
        )

    def history(self, actor: str, doc_id: str) -> Result:
        self.user(actor)
        doc = parse_doc_id(doc_id)
        with self.storage.document(doc):
            trail = self.storage.check_audit(doc)
        events = trail.events
        if not events and trail.ok:
            raise NotFound(f"no document {doc}", rule="document.unknown")
        lines = [
            f"{e.get('ts')}  v{e.get('version')!s:<5} {e.get('event')!s:<15} {e.get('user')!s:<10} {_fields(e)}"
            for e in events
        ]
        data: dict[str, Any] = {"doc_id": doc.text, "events": events, "audit": trail.summary}
        if not trail.ok:
            data["audit_broken_at"] = trail.broken_at
            lines.insert(
                0,
                f"WARNING: audit trail {trail.summary}; only the {len(events)} entries before it are shown "
                "and none of them is vouched for",
            )
        return Result(printable("\n".join(lines), keep_newlines=True), data)

    def comments(self, actor: str, doc_id: str) -> Result:
        result = self.history(actor, doc_id)
        comments = [
            e for e in result.data["events"] if e.get("event") in ("REVIEW", "REJECT") and e.get("comment")
        ]
        lines = [
            f"v{e.get('version')} {e.get('user')} ({e.get('outcome', 'reject')}): {e.get('comment')}"
            for e in comments
        ]
        data = {"doc_id": result.data["doc_id"], "comments": comments, "audit": result.data["audit"]}
        if result.data["audit"] != "intact" and not result.data["audit"].startswith("intact"):
            lines.insert(0, f"WARNING: audit trail {result.data['audit']}")
        return Result(printable("\n".join(lines), keep_newlines=True) or "No comments.", data)

    def inbox(self, actor: str) -> Result:
        user = self.user(actor)
        tasks = read_inbox(self.safe, self.layout.inbox_dir(user.name))
        lines = [
            f"{t.task_type:<8} {t.doc_id:<16} v{t.version:<5} {t.workflow_type:<13} from {t.assigned_by}: {t.title}"
            for t in tasks
        ]
        return Result(
            "\n".join(printable(line) for line in lines) or "Inbox empty.",
            {"user": user.name, "tasks": [t.as_dict() for t in tasks]},
        )

    def workspace(self, actor: str) -> Result:
        user = self.user(actor)
        folder = self.layout.workspace_file(user.name, DocId("SOP-001")).parent
        items = []
        for name in self.safe.listdir(folder):
            path = folder / name
            try:
                doc = parse_doc_id(name.removesuffix(".md") if name.endswith(".md") else name)
            except BadRequest:
                continue
            meta = None
            if self.storage.exists(doc):
                try:
                    with self.storage.document(doc):
                        meta = self.storage.load_meta(doc)
                except QmsError:
                    meta = None
            checked_out = bool(meta and meta.checked_out and meta.owner == user.name)
            items.append(
                {
                    "doc_id": doc.text,
                    "file": self.layout.relative(path),
                    "checked_out": checked_out,
                    "version": meta.version if meta else None,
                }
            )
        lines = [
            f"{i['doc_id']:<16} v{i['version']}  {i['file']}{'' if i['checked_out'] else '  (not checked out)'}"
            for i in items
        ]
        return Result("\n".join(lines) or "Workspace empty.", {"user": user.name, "documents": items})


def _fields(event: dict[str, Any]) -> str:
    skip = {"ts", "event", "user", "version", "seq", "prev"}
    return " ".join(f"{k}={v}" for k, v in event.items() if k not in skip and v not in ("", None))


def _status_lines(rows: list[dict[str, Any]]) -> str:
    """The lines of ``status`` of everything for ``rows`` (index summaries), made printable."""
    return _printable_lines(
        [f"{r['id']:<16} v{r['version']:<6} {r['status']:<17} {r['owner']:<10} {r['title']}" for r in rows]
    )


def _printable_lines(lines: list[str]) -> str:
    """``lines`` joined, each shown through :func:`printable` (one scan when nothing needs it)."""
    text = "\n".join(lines)
    if text.count("\n") == max(len(lines) - 1, 0) and printable(text, keep_newlines=True) is text:
        return text
    return "\n".join(printable(line) for line in lines)
