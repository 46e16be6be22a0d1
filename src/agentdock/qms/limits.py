"""Bounds on what one agent can push into the QMS, and the characters it may use.

Whatever an agent writes as a title, a comment or a revision summary reaches a person's
terminal (``qms history``), notifications and other agents' context, so:

* **titles** (and revision summaries) are one line with no control character: no C0 (``\\x00``-
  ``\\x1f``: no ESC, no BEL, no CR/LF, no TAB), no DEL, no C1 (``\\x80``-``\\x9f``, which includes
  the one-byte CSI ``\\x9b``), no bidirectional override/isolate (``U+202A``-``U+202E``,
  ``U+2066``-``U+2069``) and no line/paragraph separator;
* **comments** are the same but may span lines: ``\\n`` is allowed (reviewers write paragraphs),
  nothing else from those sets;
* **document bodies** may use ``\\t``, ``\\n`` and ``\\r`` (CRLF files); any other control character
  is refused at checkin;
* sizes are capped (:class:`Limits`), and so is how many documents one user may create in a
  sliding window, so one agent cannot fill the disk, the id space or the others' context.

:class:`Limits` is read from ``QMS/.meta/limits.json`` (a person edits it; agents cannot write
``QMS/``), else the defaults here.  A refusal names its rule: ``title.control-character``,
``comment.size``, ``document.size``, ``limit.create-rate``…
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from agentdock.qms.errors import InvalidDocument, StorageError

__all__ = [
    "DEFAULT_LIMITS",
    "Limits",
    "check_body",
    "check_comment",
    "check_one_line",
    "parse_limits",
    "printable",
]

_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
_SEPARATORS = frozenset({"\u2028", "\u2029"})


def _forbidden(ch: str, allowed: str) -> bool:
    code = ord(ch)
    if ch in allowed:
        return False
    return code < 0x20 or 0x7F <= code <= 0x9F or ch in _BIDI or ch in _SEPARATORS


def _first_bad(text: str, allowed: str) -> tuple[int, str] | None:
    for index, ch in enumerate(text):
        if _forbidden(ch, allowed):
            return index, ch
    return None


@dataclass(frozen=True)
class Limits:
    """The QMS's bounds; every field has units in its name."""

    max_title_chars: int = 200
    max_comment_chars: int = 4000
    max_document_bytes: int = 512 * 1024
    max_creates_per_window: int = 30
    create_window_s: int = 3600

    def to_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_LIMITS = Limits()


def parse_limits(raw: str | None) -> Limits:
    """``QMS/.meta/limits.json`` (any subset of the fields) over the defaults."""
    if raw is None:
        return DEFAULT_LIMITS
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise StorageError(f"QMS/.meta/limits.json is not valid JSON: {exc}", rule="limits.file") from exc
    known = {f.name for f in fields(Limits)}
    if not isinstance(data, dict) or set(data) - known:
        raise StorageError(
            f"QMS/.meta/limits.json must be an object with some of: {', '.join(sorted(known))}",
            rule="limits.file",
        )
    for name, value in data.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise StorageError(
                f"QMS/.meta/limits.json: {name} must be a positive integer", rule="limits.file"
            )
    return Limits(**data)


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def check_one_line(value: str, *, what: str, rule: str, max_chars: int) -> str:
    """A stripped, non-empty single line without control characters, at most ``max_chars``."""
    text = value.strip()
    if not text:
        raise InvalidDocument(f"{what} must be a non-empty string", rule=rule)
    if len(text) > max_chars:
        raise InvalidDocument(
            f"{what} is {len(text)} characters; the limit is {max_chars}", rule=f"{rule}.size"
        )
    bad = _first_bad(text, "")
    if bad is not None:
        raise InvalidDocument(
            f"{what} contains control character {_describe(bad[1])} at position {bad[0]}: titles and "
            "summaries are one line of printable text",
            rule=f"{rule}.control-character",
        )
    return text


def check_comment(value: str, *, limits: Limits, rule: str) -> str:
    """A stripped comment (may be empty), newlines allowed, no other control character."""
    text = value.strip()
    if len(text) > limits.max_comment_chars:
        raise InvalidDocument(
            f"comment is {len(text)} characters; the limit is {limits.max_comment_chars}", rule=f"{rule}.size"
        )
    bad = _first_bad(text, "\n")
    if bad is not None:
        raise InvalidDocument(
            f"comment contains control character {_describe(bad[1])} at position {bad[0]} "
            "(only newlines are allowed)",
            rule=f"{rule}.control-character",
        )
    return text


def check_body(text: str, *, source: str) -> None:
    """A document body: tab, newline and carriage return allowed, no other control character."""
    bad = _first_bad(text, "\t\n\r")
    if bad is not None:
        line = text.count("\n", 0, bad[0]) + 1
        raise InvalidDocument(
            f"{source} contains control character {_describe(bad[1])} on line {line}",
            rule="document.control-character",
        )


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), for a terminal or a
    notification: what came from disk is shown, never interpreted."""
    allowed = "\n" if keep_newlines else ""
    if _first_bad(text, allowed) is None:
        return text
    return "".join(
        (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") if _forbidden(ch, allowed) else ch
        for ch in text
    )
