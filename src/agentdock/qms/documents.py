"""Controlled document files: Markdown with YAML front matter holding ``title`` and ``revision_summary``."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from agentdock.qms.errors import InvalidDocument, NotFound

__all__ = [
    "ALLOWED_KEYS",
    "MAX_DOCUMENT_BYTES",
    "MAX_TITLE_CHARS",
    "Document",
    "parse_document",
    "read_user_file",
]

#: A checked-in document may be at most this large (UTF-8 bytes).
MAX_DOCUMENT_BYTES = 512 * 1024
MAX_TITLE_CHARS = 200
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


def validate_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise InvalidDocument("title must be a non-empty string", rule="document.title")
    title = title.strip()
    if len(title) > MAX_TITLE_CHARS or any(ch in title for ch in "\n\r\x00"):
        raise InvalidDocument(
            f"title must be one line of at most {MAX_TITLE_CHARS} characters", rule="document.title"
        )
    return title


def parse_document(text: str, *, source: str = "document") -> Document:
    """Parse and validate a document's text; InvalidDocument names what is wrong."""
    if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(
            f"{source} is larger than the {MAX_DOCUMENT_BYTES} byte limit", rule="document.size"
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
    return Document(
        title=validate_title(front.get("title")), revision_summary=summary.strip(), body=text[end + 5 :]
    )


def read_user_file(path: Path, *, source: str) -> str:
    """Read a file a user controls: must be a regular file (no symlinks), UTF-8, within the size limit."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise NotFound(f"{source} not found at {path}", rule="workspace.missing") from None
    except OSError as exc:
        raise InvalidDocument(
            f"{source} cannot be opened ({exc.strerror}); it must be a regular file", rule="document.file"
        ) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidDocument(f"{source} is not a regular file", rule="document.file")
        if st.st_size > MAX_DOCUMENT_BYTES:
            raise InvalidDocument(
                f"{source} is {st.st_size} bytes; the limit is {MAX_DOCUMENT_BYTES}", rule="document.size"
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocument(f"{source} is not UTF-8 text", rule="document.encoding") from exc
