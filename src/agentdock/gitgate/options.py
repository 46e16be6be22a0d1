"""git's option grammar, as data, and a parser that reads argv the way git's parse-options does.

An option is declared in a compact spelling: ``"f|force"`` (a flag with a
short and a long name), ``"m|message="`` (takes a value, attached or as the
next argument), ``"S|gpg-sign=?"`` (optional value: ``--gpg-sign=KEY`` or
``-SKEY`` only), ``"F|file=@"`` (a value naming a file git will read),
``"[no-]ff"`` (``--no-ff`` is accepted too), ``"!output=@"`` (known, so parsed
with the right arity, but never allowed).  The first long name is the option's
key; rules in the policy refer to keys.

The tables are allow-lists: an option a command does not declare, one declared
with ``!``, or the ``--no-`` form of one not declared ``[no-]`` is recorded as *unknown*, and the
policy's last rule (``unknown-option``) refuses every command that has one.  The
parser does not raise on it, so a more specific rule can name the attack first.

The parser understands what makes option parsing a security question:
bundled short flags (``-fdx``), values glued to short flags (``-mfoo``),
``--opt=value``, values that look like options (``-m --force`` is a message),
``--`` and ``--end-of-options``, ``--no-<opt>`` negations and — because git
accepts them — unique and ambiguous abbreviations of long options (``--forc``).
An ambiguous abbreviation is recorded as a use of *every* option it could
mean, so a rule refusing any of them names it; every abbreviation is also
*unknown* (refused in the end): git resolves an abbreviation against its own
full table, where an exact name the gateway never listed wins.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from agentdock.gitgate.errors import Refused

__all__ = ["Arity", "CommandSpec", "Option", "OptionUse", "ParsedArgs", "opts", "parse_args"]


class Arity(enum.Enum):
    NONE = "none"
    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True)
class Option:
    key: str
    longs: tuple[str, ...]
    shorts: tuple[str, ...]
    arity: Arity
    is_file: bool = False
    negatable: bool = False
    #: False for options the gateway knows (so it parses them right) but never lets through
    allowed: bool = True

    def spelling(self) -> str:
        names = [f"-{s}" for s in self.shorts] + [f"--{n}" for n in self.longs]
        return "/".join(names)


def _option(spec: str) -> Option:
    body, arity, is_file, negatable, allowed = spec, Arity.NONE, False, False, True
    if body.startswith("!"):
        body, allowed = body[1:], False
    if body.startswith("[no-]"):
        body, negatable = body[5:], True
    if body.endswith("=@"):
        body, arity, is_file = body[:-2], Arity.REQUIRED, True
    elif body.endswith("=?"):
        body, arity = body[:-2], Arity.OPTIONAL
    elif body.endswith("="):
        body, arity = body[:-1], Arity.REQUIRED
    names = body.split("|")
    shorts = tuple(n for n in names if len(n) == 1)
    longs = tuple(n for n in names if len(n) > 1)
    key = longs[0] if longs else shorts[0]
    return Option(
        key=key,
        longs=longs,
        shorts=shorts,
        arity=arity,
        is_file=is_file,
        negatable=negatable,
        allowed=allowed,
    )


def opts(*specs: str) -> tuple[Option, ...]:
    """``opts("f|force", "m|message=")`` -> options; see the module docstring for the spelling."""
    return tuple(_option(s) for s in specs)


#: Every parse-options command understands these.
COMMON = opts("h", "!help")


@dataclass(frozen=True)
class CommandSpec:
    """One git subcommand (or ``stash push``-style action) as the gateway knows it.

    ``options``: the allow-list; anything else is an unknown option (refused).
    ``numeric``: ``-<n>`` means ``-n <n>`` (log family).
    ``paths``: what positional arguments are — ``"paths"`` (all pathspecs),
    ``"revs-paths"`` (revisions or pathspecs), ``"pattern-revs-paths"`` (grep)
    or ``"other"`` (remotes, refspecs, branch names…).
    ``writes``: whether the command changes the working tree or the index.
    """

    name: str
    options: tuple[Option, ...]
    paths: str = "other"
    numeric: bool = False
    summary: str = ""
    writes: bool = False
    _by_short: dict[str, Option] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table: dict[str, Option] = {}
        for opt in (*self.options, *COMMON):
            for short in opt.shorts:
                table.setdefault(short, opt)
        object.__setattr__(self, "_by_short", table)

    def all_options(self) -> tuple[Option, ...]:
        return (*self.options, *COMMON)

    def short(self, char: str) -> Option | None:
        return self._by_short.get(char)

    def resolve_long(self, name: str) -> list[tuple[Option, bool]]:
        """Options ``--name`` can mean, with whether it is the negated form; exact beats prefix."""
        options = self.all_options()
        for opt in options:
            if name in opt.longs:
                return [(opt, False)]
        if name.startswith("no-"):
            for opt in options:
                if opt.negatable and name[3:] in opt.longs:
                    return [(opt, True)]
        found: dict[tuple[str, bool], tuple[Option, bool]] = {}
        if name:
            for opt in options:
                if any(long.startswith(name) for long in opt.longs):
                    found.setdefault((opt.key, False), (opt, False))
                if (
                    opt.negatable
                    and name.startswith("no-")
                    and len(name) > 3
                    and any(long.startswith(name[3:]) for long in opt.longs)
                ):
                    found.setdefault((opt.key, True), (opt, True))
        return list(found.values())


@dataclass(frozen=True)
class OptionUse:
    key: str
    spelled: str
    value: str | None = None
    negated: bool = False
    ambiguous: bool = False
    is_file: bool = False
    #: not on the command's allow-list (the ``unknown-option`` rule refuses it)
    unknown: bool = False


@dataclass(frozen=True)
class ParsedArgs:
    uses: tuple[OptionUse, ...]
    positionals: tuple[str, ...]
    #: index into ``positionals`` where ``--`` appeared (everything from there on came after it)
    dashdash: int | None = None

    def has(self, *keys: str) -> bool:
        """Whether any of ``keys`` is used (not negated), counting ambiguous abbreviations."""
        return any(u.key in keys and not u.negated for u in self.uses)

    def first(self, *keys: str) -> OptionUse | None:
        for use in self.uses:
            if use.key in keys and not use.negated:
                return use
        return None

    def values(self, *keys: str) -> list[str]:
        return [u.value for u in self.uses if u.key in keys and not u.negated and u.value is not None]

    def last_state(self, key: str) -> bool | None:
        """True/False for the last ``--key``/``--no-key``, None when never given."""
        state: bool | None = None
        for use in self.uses:
            if use.key == key and not use.ambiguous:
                state = not use.negated
        return state

    def spelled(self, *keys: str) -> str:
        use = self.first(*keys)
        return use.spelled if use else ""

    def unknown(self) -> OptionUse | None:
        """The first option that is not on the command's allow-list."""
        return next((u for u in self.uses if u.unknown), None)


def parse_args(spec: CommandSpec, args: Sequence[str]) -> ParsedArgs:
    uses: list[OptionUse] = []
    positionals: list[str] = []
    dashdash: int | None = None
    end_of_options = False
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--" and dashdash is None:
            dashdash = len(positionals)
            end_of_options = True
            continue
        if end_of_options or arg == "-" or not arg.startswith("-"):
            positionals.append(arg)
            continue
        if arg == "--end-of-options":
            end_of_options = True
            continue
        if not arg.isascii():
            raise Refused("unicode-lookalike", f"option {arg!r} contains non-ASCII characters")
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            matches = spec.resolve_long(name)
            if not matches:
                uses.append(OptionUse("?" + name, arg, value if eq else None, unknown=True))
                continue
            if len(matches) > 1:
                for opt, negated in matches:
                    uses.append(
                        OptionUse(
                            opt.key,
                            arg,
                            value if eq else None,
                            negated,
                            ambiguous=True,
                            is_file=opt.is_file,
                            unknown=True,
                        )
                    )
                continue
            opt, negated = matches[0]
            # an abbreviation is refused: git prefers an exact name it knows and the gateway does
            # not list (``--no-text`` is not ``--no-textconv`` to git), so only full names pass
            exact = (name[3:] if negated else name) in opt.longs
            val: str | None = value if eq else None
            if opt.arity is Arity.REQUIRED and not eq and not negated and i < len(args):
                val = args[i]
                i += 1
            if negated and eq:
                uses.append(OptionUse(opt.key, arg, val, negated, unknown=True))
                continue
            banned = not exact or (not negated and not opt.allowed)
            uses.append(OptionUse(opt.key, arg, val, negated, is_file=opt.is_file, unknown=banned))
            continue
        i = _short_cluster(spec, args, i, arg, uses)
    return ParsedArgs(uses=tuple(uses), positionals=tuple(positionals), dashdash=dashdash)


def _short_cluster(spec: CommandSpec, args: Sequence[str], i: int, arg: str, uses: list[OptionUse]) -> int:
    j = 1
    while j < len(arg):
        char = arg[j]
        if spec.numeric and char.isdigit():
            uses.append(OptionUse("max-count", arg, arg[j:]))
            return i
        opt = spec.short(char)
        if opt is None:
            # whether git would read the rest as this option's value is unknowable: stop here
            uses.append(OptionUse("?" + char, arg, unknown=True))
            return i
        banned = not opt.allowed
        if opt.arity is Arity.NONE:
            uses.append(OptionUse(opt.key, arg, unknown=banned))
            j += 1
            continue
        rest = arg[j + 1 :]
        if rest:
            uses.append(OptionUse(opt.key, arg, rest, is_file=opt.is_file, unknown=banned))
        elif opt.arity is Arity.REQUIRED and i < len(args):
            uses.append(OptionUse(opt.key, arg, args[i], is_file=opt.is_file, unknown=banned))
            i += 1
        else:
            uses.append(OptionUse(opt.key, arg, None, is_file=opt.is_file, unknown=banned))
        return i
    return i


def option_keys(options: Iterable[Option]) -> set[str]:
    return {o.key for o in options}
