"""Turn the agent's command string into argument lists, refusing every shell construct but ``&&``.

The string is scanned once, quote-aware, for constructs a shell would give
meaning to: separators and pipes (``;``, ``|``, ``||``, ``&``), redirections,
subshells, command and parameter substitution (backticks, ``$(``, ``$VAR``,
also inside double quotes), unquoted newlines and line continuations, globs,
brace expansion, tilde expansion and comments.  Any of them refuses the whole
command with rule ``shell-syntax``.  Unquoted ``&&`` splits it into steps;
each step is then split with :func:`shlex.split` (POSIX rules), so quoting
works as a user expects: ``commit -m 'a; b && c'`` is one argument.

Nothing is ever expanded: the gateway runs git with argument lists, no shell.
"""

from __future__ import annotations

import shlex

from agentdock.gitgate.errors import Refused

__all__ = ["MAX_COMMAND_CHARS", "MAX_STEPS", "split_chain"]

MAX_COMMAND_CHARS = 16_384
MAX_STEPS = 16

_FORBIDDEN_OUT = {
    ";": "';' (command separator)",
    "|": "'|' (pipe or '||')",
    "<": "'<' (redirection)",
    ">": "'>' (redirection)",
    "(": "'(' (subshell)",
    ")": "')' (subshell)",
    "`": "'`' (command substitution)",
    "\n": "a newline outside quotes (command separator)",
    "\r": "a carriage return outside quotes",
    "*": "'*' outside quotes (shell glob; quote pathspec patterns: '*.py')",
    "?": "'?' outside quotes (shell glob; quote it)",
    "[": "'[' outside quotes (shell glob; quote it)",
}
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_EXPANDABLE_AFTER_DOLLAR = set("({'\"_@*#?$!-0123456789") | {chr(c) for c in range(ord("a"), ord("z") + 1)}


def _refuse(what: str, pos: int) -> Refused:
    return Refused(
        "shell-syntax", f"{what} at offset {pos}; only git invocations joined by '&&' are accepted"
    )


def _check_char(ch: str, pos: int) -> None:
    code = ord(ch)
    if (code < 0x20 and ch not in "\t\n\r") or code == 0x7F:
        raise Refused("control-character", f"control character U+{code:04X} at offset {pos}")
    if ch in _BIDI:
        raise Refused("control-character", f"bidirectional control U+{code:04X} at offset {pos}")


def _dollar_expands(text: str, pos: int) -> bool:
    nxt = text[pos + 1 : pos + 2]
    return bool(nxt) and (nxt.lower() in _EXPANDABLE_AFTER_DOLLAR or nxt.isupper())


def _brace_expansion(text: str, pos: int) -> bool:
    """``{a,b}`` or ``{1..3}`` in an unquoted word (``stash@{0}`` is not an expansion)."""
    end = pos + 1
    while end < len(text) and text[end] not in " \t\n}'\"":
        end += 1
    if end >= len(text) or text[end] != "}":
        return False
    inner = text[pos + 1 : end]
    return "," in inner or ".." in inner


def _separators(command: str) -> list[tuple[int, int]]:
    """Spans of unquoted ``&&``; raises Refused on any other shell construct."""
    spans: list[tuple[int, int]] = []
    state = "out"
    word_start = True
    i = 0
    n = len(command)
    while i < n:
        ch = command[i]
        _check_char(ch, i)
        if state == "single":
            if ch == "'":
                state = "out"
            i += 1
            continue
        if state == "double":
            if ch == "\\":
                if i + 1 < n:
                    _check_char(command[i + 1], i + 1)
                i += 2
                continue
            if ch == '"':
                state = "out"
            elif ch == "`":
                raise _refuse("'`' inside double quotes (command substitution)", i)
            elif ch == "$" and _dollar_expands(command, i):
                raise _refuse("'$' inside double quotes (expansion; use single quotes for a literal $)", i)
            i += 1
            continue
        # outside quotes
        if ch in " \t":
            word_start = True
            i += 1
            continue
        if ch == "\\":
            if i + 1 >= n:
                raise _refuse("a trailing backslash", i)
            if command[i + 1] in "\n\r":
                raise _refuse("a backslash-newline (line continuation)", i)
            _check_char(command[i + 1], i + 1)
            word_start = False
            i += 2
            continue
        if ch == "&":
            if command[i + 1 : i + 2] == "&":
                if command[i + 2 : i + 3] in ("&", "|", ";"):
                    raise _refuse(f"'&&{command[i + 2]}'", i)
                spans.append((i, i + 2))
                word_start = True
                i += 2
                continue
            raise _refuse("'&' (background job)", i)
        if ch in _FORBIDDEN_OUT:
            raise _refuse(_FORBIDDEN_OUT[ch], i)
        if ch == "$" and _dollar_expands(command, i):
            raise _refuse("'$' outside quotes (expansion)", i)
        if word_start and ch == "~":
            raise _refuse("'~' at the start of a word (tilde expansion)", i)
        if word_start and ch == "#":
            raise _refuse("'#' at the start of a word (comment)", i)
        if ch == "{" and _brace_expansion(command, i):
            raise _refuse("'{…,…}' outside quotes (brace expansion)", i)
        if ch == "'":
            state = "single"
        elif ch == '"':
            state = "double"
        word_start = False
        i += 1
    if state != "out":
        raise Refused("syntax", f"unterminated {state} quote")
    return spans


def split_chain(command: str) -> list[list[str]]:
    """``"git add x && git commit -m 'm'"`` -> ``[["git", "add", "x"], ["git", "commit", "-m", "m"]]``."""
    if len(command) > MAX_COMMAND_CHARS:
        raise Refused("syntax", f"command is {len(command)} characters; the limit is {MAX_COMMAND_CHARS}")
    if not command.strip():
        raise Refused("syntax", "empty command")
    spans = _separators(command)
    pieces: list[str] = []
    start = 0
    for lo, hi in spans:
        pieces.append(command[start:lo])
        start = hi
    pieces.append(command[start:])
    if len(pieces) > MAX_STEPS:
        raise Refused("syntax", f"{len(pieces)} steps; at most {MAX_STEPS} git invocations per command")
    steps: list[list[str]] = []
    for number, piece in enumerate(pieces, 1):
        try:
            argv = shlex.split(piece, comments=False, posix=True)
        except ValueError as exc:
            raise Refused("syntax", f"step {number}: {exc}") from exc
        if not argv:
            raise Refused("syntax", f"step {number} is empty ('&&' needs a git invocation on both sides)")
        steps.append(argv)
    return steps
