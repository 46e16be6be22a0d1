"""Inbox task files: ``.claude/users/<assignee>/inbox/task-<ID>-<workflow>-v<N-X>.md``.

Front matter (YAML), in this order::

    task_id: task-SOP-001-review-v0-1
    task_type: REVIEW            # or APPROVAL
    workflow_type: REVIEW        # REVIEW, APPROVAL, PRE_REVIEW, PRE_APPROVAL, POST_REVIEW, POST_APPROVAL
    doc_id: SOP-001
    title: Cleaning procedure
    responsible_user: qa         # the assignee, who must act
    assigned_by: claude
    assigned_date: '2026-01-31T12:00:00.000000Z'
    version: '0.1'

followed by a Markdown body telling the assignee what to check and which
``qms`` command / MCP tool to use.  ``<workflow>`` in the file name is the
workflow type in lower case (``pre_review``…), ``<N-X>`` the version with a dash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from agentdock.qms.errors import BadRequest, UnsafePath
from agentdock.qms.ids import DocId, parse_doc_id
from agentdock.qms.model import Version
from agentdock.qms.safefs import SafeRoot

__all__ = ["TASK_FILE_RE", "Task", "parse_task", "read_inbox", "render_task", "task_file_name"]

MAX_TASK_BYTES = 64 * 1024
WORKFLOW_TYPES = ("REVIEW", "APPROVAL", "PRE_REVIEW", "PRE_APPROVAL", "POST_REVIEW", "POST_APPROVAL")
TASK_FILE_RE = re.compile(
    r"task-(?P<doc>.+)-(?P<workflow>"
    + "|".join(w.lower() for w in WORKFLOW_TYPES)
    + r")-v(?P<v>[0-9]+-[0-9]+)\.md"
)
FIELDS = (
    "task_id",
    "task_type",
    "workflow_type",
    "doc_id",
    "title",
    "responsible_user",
    "assigned_by",
    "assigned_date",
    "version",
)


@dataclass(frozen=True)
class Task:
    task_id: str
    task_type: str
    workflow_type: str
    doc_id: str
    title: str
    responsible_user: str
    assigned_by: str
    assigned_date: str
    version: str

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}


def task_file_name(doc: DocId, workflow_type: str, version: Version) -> str:
    return f"task-{doc.text}-{workflow_type.lower()}-v{version.dashed}.md"


def _instructions(task: Task) -> str:
    doc = task.doc_id
    if task.task_type == "REVIEW":
        return (
            f"# Review {doc} v{task.version}: {task.title}\n\n"
            f"{task.assigned_by} asks you to review this document ({task.workflow_type.lower().replace('_', '-')}).\n\n"
            "1. Read it: `qms_read` (MCP) or `qms read " + doc + "`.\n"
            "2. Check it is correct, complete, consistent with the effective procedures, and that the\n"
            "   revision summary describes the change.\n"
            "3. Record your outcome with `qms_review` (outcome `recommend` or `request_updates`, with a\n"
            f"   comment saying what must change), or `qms review {doc} --recommend|--request-updates --comment ...`.\n\n"
            "This task disappears from your inbox once you have reviewed.\n"
        )
    return (
        f"# Approve {doc} v{task.version}: {task.title}\n\n"
        f"{task.assigned_by} asks you to approve this document ({task.workflow_type.lower().replace('_', '-')}).\n\n"
        "1. Read it (`qms_read`) and its review comments (`qms_comments`).\n"
        "2. Approve it with `qms_approve` (`qms approve " + doc + "`), or reject it with `qms_reject` and a\n"
        f"   comment saying why (`qms reject {doc} --comment ...`).\n\n"
        "This task disappears from your inbox once you have approved or rejected.\n"
    )


def render_task(task: Task) -> str:
    front = yaml.safe_dump(task.as_dict(), sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n\n{_instructions(task)}"


def parse_task(text: str) -> Task:
    if not text.startswith("---\n") or "\n---" not in text[3:]:
        raise BadRequest("task file has no front matter", rule="task.format")
    front = yaml.safe_load(text[4 : text.index("\n---", 3)])
    if not isinstance(front, dict) or any(name not in front for name in FIELDS):
        raise BadRequest(f"task front matter must hold {', '.join(FIELDS)}", rule="task.format")
    return Task(**{name: str(front[name]) for name in FIELDS})


def doc_of_task_file(name: str) -> DocId | None:
    match = TASK_FILE_RE.fullmatch(name)
    if match is None:
        return None
    try:
        return parse_doc_id(match.group("doc"))
    except BadRequest:
        return None


def read_inbox(safe: SafeRoot, inbox: Path) -> list[Task]:
    """The tasks in one inbox folder, oldest first; files that are not task files, links and
    anything reached through a link are ignored."""
    tasks: list[Task] = []
    try:
        names = safe.listdir(inbox)
    except UnsafePath:
        return tasks
    for name in names:
        if doc_of_task_file(name) is None:
            continue
        try:
            text = safe.read_text(inbox / name, limit=MAX_TASK_BYTES)
            if text is not None:
                tasks.append(parse_task(text))
        except (BadRequest, UnsafePath, yaml.YAMLError, UnicodeDecodeError):
            continue
    return sorted(tasks, key=lambda t: (t.assigned_date, t.task_id))
