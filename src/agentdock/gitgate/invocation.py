"""One git invocation, parsed: global options, the subcommand, and its options and arguments.

``["git", "-C", "docs", "commit", "-am", "msg"]`` becomes an :class:`Invocation`
with ``globals=(("-C", "docs"),)``, ``command="commit"`` and parsed args.
Git's own global-option grammar is followed exactly (``-C``/``-c`` take the
next word, ``--git-dir`` takes ``=value`` or the next word; git accepts no
abbreviations there), so the subcommand found here is the one git would run.
Anything git would not parse the same way is refused, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agentdock.gitgate.commands import ACTIONS, COMMANDS, REFUSED_COMMANDS
from agentdock.gitgate.errors import Refused
from agentdock.gitgate.options import CommandSpec, ParsedArgs, parse_args

__all__ = ["GLOBAL_FLAGS", "GLOBAL_WITH_VALUE", "Invocation", "parse_invocation"]

#: Global options that take a value: as ``--opt=value`` or the next word (``-C``/``-c``: next word only).
GLOBAL_WITH_VALUE = frozenset(
    {
        "-C",
        "-c",
        "--git-dir",
        "--work-tree",
        "--namespace",
        "--config-env",
        "--super-prefix",
        "--attr-source",
        "--list-cmds",
        "--shallow-file",
    }
)
_NEXT_WORD_ONLY = frozenset({"-C", "-c"})
_EQUALS_ONLY = frozenset({"--list-cmds"})
#: Global options without a value (``--exec-path`` may also carry ``=path``).
GLOBAL_FLAGS = frozenset(
    {
        "-p",
        "--paginate",
        "-P",
        "--no-pager",
        "--no-replace-objects",
        "--bare",
        "--literal-pathspecs",
        "--no-literal-pathspecs",
        "--glob-pathspecs",
        "--noglob-pathspecs",
        "--icase-pathspecs",
        "--no-optional-locks",
        "--html-path",
        "--man-path",
        "--info-path",
        "-h",
        "--help",
        "-v",
        "--version",
        "--exec-path",
        "--no-lazy-fetch",
        "--no-advice",
    }
)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    globals: tuple[tuple[str, str | None], ...]
    command: str
    action: str | None
    spec: CommandSpec
    args: ParsedArgs
    #: False when ``action`` is a sub-command the gateway does not allow (its parent's rule refuses it)
    action_listed: bool = True

    @property
    def display(self) -> str:
        return "git " + " ".join(self.argv)

    def global_values(self, name: str) -> list[str]:
        return [v for n, v in self.globals if n == name and v is not None]

    def has_global(self, *names: str) -> bool:
        return any(n in names for n, _ in self.globals)


def _non_ascii(word: str, what: str) -> None:
    if not word.isascii():
        raise Refused(
            "unicode-lookalike",
            f"{what} {word!r} contains non-ASCII characters (look-alikes of git names are refused)",
        )


def parse_invocation(words: Sequence[str]) -> Invocation:
    argv = list(words)
    if argv and argv[0] == "git":
        argv = argv[1:]
    original = tuple(argv)
    if argv and _ASSIGNMENT.match(argv[0]):
        raise Refused(
            "environment",
            f"{argv[0]!r} sets an environment variable; the gateway runs git with a fixed environment",
        )
    globals_: list[tuple[str, str | None]] = []
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        word = argv[i]
        _non_ascii(word, "global option")
        i += 1
        name, eq, value = word.partition("=")
        if name in GLOBAL_WITH_VALUE and not (eq and name in _NEXT_WORD_ONLY):
            if eq:
                globals_.append((name, value))
            elif name in _EQUALS_ONLY:
                globals_.append((name, None))
            elif i < len(argv):
                globals_.append((name, argv[i]))
                i += 1
            else:
                raise Refused("syntax", f"global option {name} needs a value")
            continue
        if name in GLOBAL_FLAGS and (not eq or name == "--exec-path"):
            globals_.append((name, value if eq else None))
            continue
        raise Refused("global-option", f"{word!r} is not a git global option the gateway accepts")
    rest = argv[i:]
    if not rest:
        if any(n in ("-v", "--version") for n, _ in globals_):
            rest = ["version"]
        else:
            raise Refused("syntax", "no git subcommand given")
    name, args = rest[0], rest[1:]
    _non_ascii(name, "subcommand")
    if name in REFUSED_COMMANDS:
        rule, reason = REFUSED_COMMANDS[name]
        raise Refused(rule, reason)
    spec = COMMANDS.get(name)
    if spec is None:
        raise Refused(
            "unknown-subcommand",
            f"'git {name}' is not a subcommand the gateway runs (aliases and external commands are not run)",
        )
    action: str | None = None
    listed = True
    table = ACTIONS.get(name)
    if table is not None:
        first = args[0] if args else None
        if first is None or first.startswith("-") or (table.implicit and first not in table.known):
            action = table.default
        else:
            action, args = first, args[1:]
        if action in table.allowed:
            spec = table.allowed[action]
        else:
            listed = False
    parsed = parse_args(spec, args)
    return Invocation(
        argv=original,
        globals=tuple(globals_),
        command=name,
        action=action,
        spec=spec,
        args=parsed,
        action_listed=listed,
    )
