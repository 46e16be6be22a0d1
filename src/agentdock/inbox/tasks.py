"""Task files: recognising their names, parsing their front matter, wording announcements.

The QMS writes one file per assignee when it routes a document (QMS_SPEC.md,
"Workspace and inbox")::

    .claude/users/<assignee>/inbox/task-<ID>-<workflow>-v<N-X>.md

    ---
    task_id: ...
    task_type: REVIEW            # or APPROVAL
    workflow_type: ...
    doc_id: CR-056               # children too: CR-056-VAR-001
    title: ...
    responsible_user: qa
    assigned_by: claude
    assigned_date: ...
    version: '0.1'
    ---
    body telling the assignee what to do

The front matter is read with YAML's base loader, so every value stays the
string that was written (``0.10`` is not turned into the float ``0.1``).
Anything that does not follow this shape raises :class:`TaskFileError`.
"""

from __future__ import annotations

import errno
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from agentdock import safefs
from agentdock.inbox.errors import TaskFileError
from agentdock.qms.tasks import FIELDS as QMS_TASK_FIELDS

__all__ = [
    "MAX_DISPLAY_CHARS",
    "MAX_TASK_FILE_BYTES",
    "TASK_FIELDS",
    "TASK_VERBS",
    "Task",
    "display_text",
    "format_announcement",
    "is_agent_name",
    "is_task_filename",
    "parse_task",
    "read_task_file",
]

#: Front-matter keys every task file must carry (QMS_SPEC.md) — the QMS's own list, which writes them.
TASK_FIELDS: tuple[str, ...] = QMS_TASK_FIELDS

#: How each task type reads in an announcement: imperative verbs, so
#: ``New task: Review CR-056`` and ``New task: Approve CR-056`` read alike.
TASK_VERBS: dict[str, str] = {"REVIEW": "Review", "APPROVAL": "Approve"}

#: Larger files are refused unread: a task file is a few hundred bytes.
MAX_TASK_FILE_BYTES = 256 * 1024

_TASK_FILENAME = re.compile(r"^task-[A-Za-z0-9][A-Za-z0-9_.-]*\.md$")
_DOC_ID = re.compile(r"^[A-Z]{2,8}-\d{3,}(?:-[A-Z]{2,8}-\d{3,})*$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_VERSION = re.compile(r"^\d+\.\d+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: Longest text an announcement or notification shows from one task field.
MAX_DISPLAY_CHARS = 200
#: Fields shown escaped rather than refused (free text an agent chose).
_FREE_TEXT = frozenset({"title"})


def display_text(text: str, limit: int = MAX_DISPLAY_CHARS) -> str:
    """``text`` made safe for a terminal, a notification or another agent: one line, bounded.

    Control characters (C0, DEL, C1: ANSI escapes, carriage returns, bells) and invisible
    formatting characters (bidi overrides, zero-width marks: Unicode category ``Cf``) are
    shown as ``\\xNN``/``\\uNNNN``; text past ``limit`` characters is cut and ends in ``…``.
    """
    out: list[str] = []
    for char in text:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif unicodedata.category(char) in {"Cf", "Zl", "Zp", "Co", "Cs"}:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        elif char == "\\":
            out.append("\\\\")
        else:
            out.append(char)
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[: max(0, limit - 1)] + "…"


def is_task_filename(name: str) -> bool:
    """True for ``task-….md``; false for editors' temp, swap, backup and lock files.

    ``.task-x.md.swp``, ``task-x.md~``, ``task-x.md.tmp``, ``.#task-x.md``,
    ``#task-x.md#``, ``4913`` and anything not named ``task-*.md`` are ignored.
    """
    return _TASK_FILENAME.match(name) is not None


def is_agent_name(name: str) -> bool:
    """True for a name that can be an agent (and so an inbox owner): letters, digits, ``_.-``."""
    return _USER.match(name) is not None


@dataclass(frozen=True)
class Task:
    """One parsed task file; ``agent`` is the owner of the inbox it sits in."""

    agent: str
    task_id: str
    task_type: str
    workflow_type: str
    doc_id: str
    title: str
    responsible_user: str
    assigned_by: str
    assigned_date: str
    version: str
    body: str

    @property
    def verb(self) -> str:
        return TASK_VERBS[self.task_type]

    def content_version(self) -> tuple[str, ...]:
        """What makes two readings of one file "the same task": its front matter.

        The body is left out, so a file written in several chunks, or a body
        reworded later, is not announced twice.
        """
        return (
            self.task_id,
            self.task_type,
            self.workflow_type,
            self.doc_id,
            self.title,
            self.responsible_user,
            self.assigned_by,
            self.assigned_date,
            self.version,
        )


def _split_front_matter(text: str, path: Path | None) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise TaskFileError(path, "does not start with a '---' front-matter line")
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise TaskFileError(path, "front matter is not closed by a '---' line")


def _field(data: dict[object, object], key: str, path: Path | None) -> str:
    if key not in data:
        raise TaskFileError(path, f"front matter lacks {key!r}")
    value = data[key]
    if not isinstance(value, str):
        raise TaskFileError(path, f"front matter {key!r} must be a single value, not {type(value).__name__}")
    value = value.strip()
    if key not in _FREE_TEXT and _CONTROL.search(value):
        raise TaskFileError(path, f"front matter {key!r} contains control characters")
    return value


def parse_task(text: str, agent: str, path: Path | None = None) -> Task:
    """Parse a task file's text; ``agent`` is the inbox owner. Raises :class:`TaskFileError`."""
    front, body = _split_front_matter(text, path)
    try:
        data = yaml.load(front, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds only str/list/dict
    except yaml.YAMLError as exc:
        raise TaskFileError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TaskFileError(path, "front matter is not a mapping of keys to values")
    values = {key: _field(data, key, path) for key in TASK_FIELDS}
    for key in ("task_id", "workflow_type", "assigned_date"):
        if not values[key]:
            raise TaskFileError(path, f"front matter {key!r} is empty")
    task_type = values["task_type"].upper()
    if task_type not in TASK_VERBS:
        raise TaskFileError(
            path, f"task_type {values['task_type']!r} is not one of {', '.join(sorted(TASK_VERBS))}"
        )
    if not _DOC_ID.match(values["doc_id"]):
        raise TaskFileError(path, f"doc_id {values['doc_id']!r} is not a document id like CR-056")
    for key in ("responsible_user", "assigned_by"):
        if not _USER.match(values[key]):
            raise TaskFileError(path, f"{key} {values[key]!r} is not a user name")
    if not _VERSION.match(values["version"]):
        raise TaskFileError(path, f"version {values['version']!r} is not N.X")
    return Task(
        agent=agent,
        task_id=values["task_id"],
        task_type=task_type,
        workflow_type=values["workflow_type"],
        doc_id=values["doc_id"],
        title=values["title"],
        responsible_user=values["responsible_user"],
        assigned_by=values["assigned_by"],
        assigned_date=values["assigned_date"],
        version=values["version"],
        body=body,
    )


def read_task_file(path: Path, agent: str, *, root: Path | None = None) -> Task:
    """Read and parse one task file without following links. Raises :class:`TaskFileError`
    (also for a link, a non-regular file, a file over :data:`MAX_TASK_FILE_BYTES`, and I/O
    failures other than the file having gone, which raises ``FileNotFoundError``).

    With ``root`` (the project root) every folder from there to the file is walked with
    ``O_NOFOLLOW`` too, so a linked ``inbox`` or agent folder is refused as well."""
    path = Path(path)
    try:
        if root is not None:
            rel = path.parent.relative_to(root).as_posix()
            with safefs.open_dir(root, rel) as (fd, _):
                raw = safefs.read_regular_file(fd, path.name, MAX_TASK_FILE_BYTES, path)
        else:
            with safefs.open_dir(path.parent) as (fd, _):
                raw = safefs.read_regular_file(fd, path.name, MAX_TASK_FILE_BYTES, path)
    except FileNotFoundError:
        raise
    except safefs.UnsafePathError as exc:
        if exc.reason == "does not exist":
            raise FileNotFoundError(errno.ENOENT, "gone", str(path)) from exc
        raise TaskFileError(path, exc.reason if exc.path == path else f"{exc.path} {exc.reason}") from exc
    except (OSError, ValueError) as exc:
        raise TaskFileError(path, f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TaskFileError(path, "is not UTF-8 text") from exc
    return parse_task(text, agent, path)


def format_announcement(task: Task) -> str:
    """``[QA] New task: Review CR-056 (from claude)`` — agent upper-cased, full doc id, every field
    passed through :func:`display_text` (they are validated, but a display never trusts that)."""
    agent, doc, sender = (display_text(v, 64) for v in (task.agent.upper(), task.doc_id, task.assigned_by))
    return f"[{agent}] New task: {task.verb} {doc} (from {sender})"
