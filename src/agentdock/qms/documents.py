"""Controlled document files: Markdown with YAML front matter holding ``title`` and ``revision_summary``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from agentdock.qms.errors import InvalidDocument, NotFound, UnsafePath
from agentdock.qms.limits import DEFAULT_LIMITS, Limits, check_body, check_one_line
from agentdock.qms.safefs import SafeRoot

__all__ = [
    "ALLOWED_KEYS",
    "MAX_DOCUMENT_BYTES",
    "MAX_TITLE_CHARS",
    "Document",
    "parse_document",
    "read_user_file",
    "validate_title",
]

#: A checked-in document may be at most this large by default (UTF-8 bytes; see ``Limits``).
MAX_DOCUMENT_BYTES = DEFAULT_LIMITS.max_document_bytes
MAX_TITLE_CHARS = DEFAULT_LIMITS.max_title_chars
ALLOWED_KEYS = frozenset({"title", "revision_summary"})


@dataclass(frozen=True)
class Document:
    title: str
    revision_summary: str
    body: str

    def render(self) -> str:
        front = yaml.safe_dump(
            {"title": self.title, "revision_summary": self.revision_summary},
            sort_keys=False,
            allow_unicode=True,
            width=1000,
        )
        body = self.body if self.body.endswith("\n") or not self.body else self.body + "\n"
        return f"---\n{front}---\n{body}"

    @classmethod
    def template(cls, title: str, doc_id: str) -> Document:
        return cls(title=title, revision_summary="Initial draft", body=f"\n# {doc_id}: {title}\n\n")


def validate_title(title: object, limits: Limits = DEFAULT_LIMITS) -> str:
    """One line of printable text, at most ``limits.max_title_chars`` (see :mod:`agentdock.qms.limits`)."""
    if not isinstance(title, str):
        raise InvalidDocument("title must be a non-empty string", rule="document.title")
    return check_one_line(title, what="title", rule="document.title", max_chars=limits.max_title_chars)


def parse_document(text: str, *, source: str = "document", limits: Limits = DEFAULT_LIMITS) -> Document:
    """Parse and validate a document's text; InvalidDocument names what is wrong."""
    if len(text.encode("utf-8")) > limits.max_document_bytes:
        raise InvalidDocument(
            f"{source} is larger than the {limits.max_document_bytes} byte limit", rule="document.size"
        )
    if "\x00" in text:
        raise InvalidDocument(f"{source} contains a NUL byte", rule="document.encoding")
    if not text.startswith("---\n"):
        raise InvalidDocument(
            f"{source} must start with YAML front matter ('---' line, title, revision_summary, '---')",
            rule="document.front-matter",
        )
    end = text.find("\n---\n", 3)
    if end < 0 and text.endswith("\n---"):
        end = len(text) - 4
    if end < 0:
        raise InvalidDocument(
            f"{source}: front matter is not closed by a '---' line", rule="document.front-matter"
        )
    try:
        front = yaml.safe_load(text[4 : end + 1])
    except yaml.YAMLError as exc:
        raise InvalidDocument(
            f"{source}: front matter is not valid YAML: {exc}", rule="document.front-matter"
        ) from exc
    if not isinstance(front, dict):
        raise InvalidDocument(f"{source}: front matter must be a mapping", rule="document.front-matter")
    extra = sorted(str(k) for k in front if k not in ALLOWED_KEYS)
    if extra:
        raise InvalidDocument(
            f"{source}: front matter may hold only title and revision_summary (found {', '.join(extra)}); "
            "status, version and owner are metadata the QMS keeps",
            rule="document.front-matter",
        )
    summary = front.get("revision_summary")
    if not isinstance(summary, str) or not summary.strip():
        raise InvalidDocument(
            f"{source}: revision_summary must be a non-empty string describing this revision",
            rule="document.revision-summary",
        )
    summary = check_one_line(
        summary, what="revision_summary", rule="document.revision-summary", max_chars=limits.max_comment_chars
    )
    body = text[end + 5 :]
    check_body(body, source=source)
    return Document(title=validate_title(front.get("title"), limits), revision_summary=summary, body=body)


def read_user_file(safe: SafeRoot, path: Path, *, source: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """Read a file a user controls: reached without any link (``O_NOFOLLOW`` on every component),
    a regular file, UTF-8, within the size limit."""
    try:
        data = safe.read_bytes(path, limit=limits.max_document_bytes)
    except UnsafePath as exc:
        rule = "document.size" if exc.rule == "path.size" else "document.file"
        raise InvalidDocument(
            f"{source}: {exc.message}; it must be a regular file in your workspace", rule=rule
        ) from exc
    if data is None:
        raise NotFound(f"{source} not found at {path}", rule="workspace.missing")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(f"{source} is not UTF-8 text", rule="document.encoding") from exc
