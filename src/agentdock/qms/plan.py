"""One operation's change to one document, built up and committed as one journal entry.

A :class:`Plan` accumulates the writes, audit events and new metadata of a single
QMS operation; :meth:`Plan.commit` builds the :class:`Result` first and then hands
the whole change to :meth:`Storage.commit <agentdock.qms.storage.Storage.commit>`,
so the operation is applied all-or-nothing.

``with commit_extra(extra): ...`` adds one file, computed from the operation's
:class:`Result`, to that same journal commit (what
:meth:`Qms.committing_with <agentdock.qms.service.Qms.committing_with>` offers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdock.qms import workflow as wf
from agentdock.qms.agents import User
from agentdock.qms.model import Meta, Result, Status
from agentdock.qms.queries import QmsQueries
from agentdock.qms.storage import Change
from agentdock.qms.tasks import Task, render_task, task_file_name

__all__ = ["CommitExtra", "Plan", "Result", "commit_extra"]


#: Given the operation's result, the extra file ``(path under the root, text)`` to commit with it.
CommitExtra = Callable[[Result], tuple[Path, str]]


@dataclass
class _PendingExtra:
    make: CommitExtra
    used: bool = False


_COMMIT_EXTRA: ContextVar[_PendingExtra | None] = ContextVar("qms_commit_extra", default=None)


@contextlib.contextmanager
def commit_extra(extra: CommitExtra) -> Iterator[None]:
    """Write ``extra(result)`` in the journal commit of the one mutation run inside the block."""
    token = _COMMIT_EXTRA.set(_PendingExtra(extra))
    try:
        yield
    finally:
        _COMMIT_EXTRA.reset(token)


class Plan:
    """Accumulates one operation's change to one document."""

    def __init__(self, qms: QmsQueries, meta: Meta, user: User) -> None:
        self.qms = qms
        self.old = meta
        self.new = meta
        self.user = user
        self.change = Change(doc=meta.doc, meta=meta)
        self.now = qms.clock()
        self.remove = False  # cancel: the metadata goes, the audit trail stays
        self.data: dict[str, Any] = {}  # extra fields of the result's data

    def event(self, name: str, **fields: Any) -> None:
        self.change.events.append(
            {"ts": self.now, "event": name, "user": self.user.name, "version": self.new.version, **fields}
        )

    def set(self, **changes: Any) -> None:
        self.new = self.new.evolve(**changes)

    def status(self, to: Status) -> None:
        if to != self.new.status:
            self.event("STATUS_CHANGE", **{"from": self.new.status.value, "to": to.value})
            self.new = self.new.evolve(status=to)

    def write(self, path: Path, text: str | None) -> None:
        self.change.writes[path] = text

    def archive(self, version: str, source: Path) -> None:
        target = self.qms.layout.archive_file(self.new.doc, version)
        safe = self.qms.safe
        if safe.kind(target) is None and target not in self.change.writes and safe.kind(source) is not None:
            self.write(target, self.qms.read_document(self.new.doc, source))

    def add_tasks(self, assignees: list[str]) -> None:
        kind = "REVIEW" if self.new.status in wf.REVIEW_STATES else "APPROVAL"
        workflow = wf.workflow_type(self.new.status)
        for assignee in assignees:
            name = task_file_name(self.new.doc, workflow, self.new.ver)
            task = Task(
                task_id=name.removesuffix(".md"),
                task_type=kind,
                workflow_type=workflow,
                doc_id=self.new.id,
                title=self.qms.title(self.new),
                responsible_user=assignee,
                assigned_by=self.user.name,
                assigned_date=self.now,
                version=self.new.version,
            )
            self.write(self.qms.layout.inbox_dir(assignee) / name, render_task(task))

    def remove_task(self, assignee: str) -> None:
        for path in self.qms.task_files(self.new.doc, [assignee]):
            self.write(path, None)

    def remove_all_tasks(self) -> None:
        for path in self.qms.task_files(self.new.doc, list(self.qms.users())):
            self.write(path, None)

    def commit(self, message: str) -> Result:
        """Apply the change; the result is built first, so a commit extra can go into the same journal."""
        base = self.old.audit_seq
        final = self.new.evolve(audit_seq=base + len(self.change.events))
        self.change.meta = None if self.remove else final
        result = Result(message, self.qms.describe(final, pending=self.change.writes, **self.data))
        pending = _COMMIT_EXTRA.get()
        if pending is not None:
            if pending.used:
                raise RuntimeError("committing_with covers one operation, which commits once")
            pending.used = True
            path, text = pending.make(result)
            self.change.writes[path] = text
        self.qms.storage.commit(self.change, base_seq=base)
        return result
