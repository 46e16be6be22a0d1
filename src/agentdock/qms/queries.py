"""The read-only side of the QMS: users, document views and the reading commands.

:class:`QmsQueries` holds one project root's storage and answers ``status``,
``read``, ``history``, ``comments``, ``inbox`` and ``workspace`` without
changing anything; :class:`~agentdock.qms.service.Qms` adds the mutations on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agentdock.qms.agents import User, load_users, parse_user_name
from agentdock.qms.documents import parse_document
from agentdock.qms.errors import BadRequest, NotFound, PermissionDenied
from agentdock.qms.ids import DocId, parse_doc_id
from agentdock.qms.model import Meta, Result, Version
from agentdock.qms.storage import Storage, utc_now
from agentdock.qms.tasks import doc_of_task_file, read_inbox

__all__ = ["QmsQueries"]


class QmsQueries:
    """Users, document views and the reading commands of one project root."""

    def __init__(self, root: Path, *, clock: Callable[[], str] = utc_now) -> None:
        self.root = Path(root)
        self.storage = Storage(self.root)
        self.layout = self.storage.layout
        self.clock = clock

    # -- users ----------------------------------------------------------------------------------------
    def users(self) -> dict[str, User]:
        return load_users(self.root)

    def user(self, name: object) -> User:
        users = self.users()
        user = users.get(parse_user_name(name))
        if user is None:
            raise PermissionDenied(
                f"unknown user {name!r}: not defined in .claude/agents/ (known: {', '.join(users) or 'none'})",
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
            elif path.exists():
                text = path.read_text(encoding="utf-8")
            else:
                continue
            try:
                return parse_document(text, source=path.name).title
            except Exception:
                return ""
        return ""

    def current_file(self, meta: Meta) -> Path:
        draft = self.layout.draft_file(meta.doc)
        return draft if draft.exists() else self.layout.effective_file(meta.doc)

    def task_files(self, doc: DocId, users: list[str]) -> list[Path]:
        found = []
        for name in users:
            inbox = self.layout.inbox_dir(name)
            if inbox.is_dir():
                found += [p for p in inbox.glob(f"task-{doc.text}-*.md") if doc_of_task_file(p.name) == doc]
        return sorted(found)

    def describe(
        self, meta: Meta, *, pending: Mapping[Path, str | None] | None = None, **extra: Any
    ) -> dict[str, Any]:
        return {**meta.to_json(), "doc_id": meta.id, "title": self.title(meta, pending), **extra}

    # -- reading --------------------------------------------------------------------------------------
    def status(self, actor: str, doc_id: str | None = None) -> Result:
        self.user(actor)
        if doc_id is None:
            self.storage.recover_all()
            rows = [self.describe(self.storage.load_meta(doc)) for doc in self.storage.all_documents()]
            lines = [
                f"{r['id']:<16} v{r['version']:<6} {r['status']:<17} {r['owner']:<10} {r['title']}"
                for r in rows
            ]
            return Result("\n".join(lines) or "No documents.", {"documents": rows})
        doc = parse_doc_id(doc_id)
        with self.storage.document(doc):
            meta = self.storage.load_meta(doc)
        data = self.describe(meta)
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
        return Result("\n".join(lines), data)

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
                path = next((p for p in candidates if p.exists()), candidates[0])
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise NotFound(f"{doc} has no version {shown}", rule="document.version") from None
        return Result(
            text, {"doc_id": doc.text, "version": shown, "status": meta.status.value, "content": text}
        )

    def history(self, actor: str, doc_id: str) -> Result:
        self.user(actor)
        doc = parse_doc_id(doc_id)
        with self.storage.document(doc):
            events = self.storage.audit(doc)
        if not events:
            raise NotFound(f"no document {doc}", rule="document.unknown")
        lines = [
            f"{e['ts']}  v{e['version']:<5} {e['event']:<15} {e['user']:<10} {_fields(e)}" for e in events
        ]
        return Result("\n".join(lines), {"doc_id": doc.text, "events": events})

    def comments(self, actor: str, doc_id: str) -> Result:
        result = self.history(actor, doc_id)
        comments = [
            e for e in result.data["events"] if e["event"] in ("REVIEW", "REJECT") and e.get("comment")
        ]
        lines = [
            f"v{e['version']} {e['user']} ({e.get('outcome', 'reject')}): {e['comment']}" for e in comments
        ]
        return Result(
            "\n".join(lines) or "No comments.", {"doc_id": result.data["doc_id"], "comments": comments}
        )

    def inbox(self, actor: str) -> Result:
        user = self.user(actor)
        tasks = read_inbox(self.layout.inbox_dir(user.name))
        lines = [
            f"{t.task_type:<8} {t.doc_id:<16} v{t.version:<5} {t.workflow_type:<13} from {t.assigned_by}: {t.title}"
            for t in tasks
        ]
        return Result(
            "\n".join(lines) or "Inbox empty.", {"user": user.name, "tasks": [t.as_dict() for t in tasks]}
        )

    def workspace(self, actor: str) -> Result:
        user = self.user(actor)
        folder = self.layout.workspace_file(user.name, DocId("SOP-001")).parent
        items = []
        for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            try:
                doc = parse_doc_id(path.stem)
            except BadRequest:
                continue
            meta = self.storage.load_meta(doc) if self.storage.exists(doc) else None
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
    skip = {"ts", "event", "user", "version", "seq"}
    return " ".join(f"{k}={v}" for k, v in event.items() if k not in skip and v not in ("", None))
