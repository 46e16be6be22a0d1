"""Rewrite one option of an already judged invocation, token by token, as git's parser reads them.

Used where the gateway hands git something safer than what the caller wrote: ``commit -a``
becomes ``commit --include -- :/ <exclusions>``, and ``-F <file>`` becomes ``-m <the text the
gateway read itself>``.  Short clusters are split (``-aqm x`` without ``-a`` is ``-qm x``);
values are never mistaken for options (``-m -a`` keeps its message).
"""

from __future__ import annotations

from collections.abc import Callable

from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.options import Arity, Option

__all__ = ["Edit", "edit_options", "subcommand_args_start"]

#: ``(option, value) -> replacement tokens``, or None to keep the option as written
Edit = Callable[[Option, str | None], list[str] | None]


def subcommand_args_start(inv: Invocation) -> int:
    """Index in ``inv.argv`` of the first word after the subcommand (and a written action)."""
    start = len(inv.argv) - 1
    for index, word in enumerate(inv.argv):
        if word == inv.command:
            start = index + 1
            break
    if inv.action is not None and start < len(inv.argv) and inv.argv[start] == inv.action:
        start += 1
    return start


def edit_options(inv: Invocation, edit: Edit) -> list[str]:
    """``inv.argv`` with each option ``edit`` replaces replaced; everything else as written."""
    argv = list(inv.argv)
    start = subcommand_args_start(inv)
    out = argv[:start]
    args = argv[start:]
    spec = inv.spec
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word in ("--", "--end-of-options") or not word.startswith("-") or word == "-":
            if word in ("--", "--end-of-options"):
                out += args[i - 1 :]
                break
            out.append(word)
            continue
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            matches = spec.resolve_long(name)
            opt: Option | None = matches[0][0] if len(matches) == 1 and not matches[0][1] else None
            takes = opt is not None and opt.arity is Arity.REQUIRED and not eq
            val: str | None = value if eq else None
            if takes and i < len(args):
                val = args[i]
                i += 1
            replacement = edit(opt, val) if opt is not None else None
            if replacement is None:
                out.append(word)
                if takes and val is not None:
                    out.append(val)
            else:
                out += replacement
            continue
        cluster = "-"
        j = 1
        while j < len(word):
            char = word[j]
            if spec.numeric and char.isdigit():
                cluster += word[j:]
                break
            short = spec.short(char)
            if short is None:
                cluster += word[j:]
                break
            value_here: str | None = None
            consumed_next = False
            if short.arity is not Arity.NONE:
                rest = word[j + 1 :]
                if rest:
                    value_here = rest
                elif short.arity is Arity.REQUIRED and i < len(args):
                    value_here = args[i]
                    consumed_next = True
            replacement = edit(short, value_here)
            if replacement is not None:
                if cluster != "-":
                    out.append(cluster)
                cluster = "-"
                out += replacement
                if consumed_next:
                    i += 1
                if short.arity is not Arity.NONE:
                    break
                j += 1
                continue
            cluster += char
            if short.arity is not Arity.NONE:
                cluster += word[j + 1 :]
                if consumed_next:
                    out.append(cluster)
                    cluster = "-"
                    out.append(args[i])
                    i += 1
                break
            j += 1
        if cluster != "-":
            out.append(cluster)
    return out
