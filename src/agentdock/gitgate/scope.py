"""Which protected zones a step reaches through its pathspecs, and how broad steps are narrowed.

Every step is judged against the zones of :class:`~agentdock.gitgate.facts.RepoFacts`:

* a **writer** (changes the index or the working tree: ``add``, ``rm``, ``mv``, ``commit``,
  ``checkout``, ``restore``, ``reset``, ``stash push``, ``clean``…) may not name anything inside a
  zone (outside the zone's holes);
* a **reader** (``log``, ``show``, ``diff``, ``grep``, ``blame``…) may not name anything inside a zone
  that is not *readable* (``.git``, ``.agentdock``, other agents' folders, submodules, ``--protect``);
  reading tracked content of ``QMS/`` and ``.claude/`` is fine;
* a step that reaches a zone only broadly — ``.``, ``:/``, a parent folder, a pattern, no pathspec
  where git then means "everything" (``add -A``, ``commit -a``, ``stash``, ``grep --untracked``,
  ``clean``) — is either **narrowed** (the gateway appends ``:(top,exclude,literal)<zone>`` for
  each zone reached, so git itself leaves the zones out) or, for steps where that cannot be done
  safely (``rm -r``, ``mv``, ``checkout``, ``restore``, ``reset``), refused.

``commit`` treats ``QMS/`` as committable: the QMS writes it, agents cannot (their containers mount
it read-only and every other git path into it is refused), so its tracked changes may be
committed; staging new QMS files stays the QMS's business.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from agentdock.gitgate.argvedit import edit_options
from agentdock.gitgate.facts import ProtectedPath, RepoFacts
from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.pathspec import Pathspec, Reach, reaches
from agentdock.gitgate.views import location, pathspecs

__all__ = ["Scope", "exclude_spec", "narrow", "scope_of"]

#: steps whose broad reach is narrowed with exclusions instead of refused
_NARROWED = frozenset({"add", "clean", "commit", "stash", "grep"})


def exclude_spec(zone: ProtectedPath) -> str:
    """The pathspec that makes git leave ``zone`` out, exactly as written, from the top."""
    return f":(top,exclude,literal){zone.path}"


@dataclass(frozen=True)
class Scope:
    refusal: str | None = None
    #: zones to exclude with :func:`exclude_spec`
    excludes: tuple[ProtectedPath, ...] = ()
    #: a positive pathspec to add when the step named none (git's "everything")
    implicit: str | None = None
    #: ``commit -a`` becomes ``commit --include -- :/ <excludes>``
    commit_all: bool = False


def _writes(inv: Invocation) -> bool:
    return inv.spec.writes


def _whole_tree(inv: Invocation) -> bool:
    """The step means "every path" when it names none."""
    if inv.command == "add":
        return inv.args.has("all", "update")
    if inv.command == "commit":
        return inv.args.has("all")
    if inv.command == "stash":
        return inv.action == "push"
    return inv.command in ("clean",) or (inv.command == "grep" and inv.args.has("untracked"))


def _zones(inv: Invocation, facts: RepoFacts, untracked: bool) -> tuple[ProtectedPath, ...]:
    zones = facts.protected
    if inv.command == "commit":
        return tuple(z for z in zones if z.kind != "qms")
    if _writes(inv) or untracked:
        return zones
    return tuple(z for z in zones if not z.readable)


def scope_of(inv: Invocation, facts: RepoFacts) -> Scope:
    """How the step's pathspecs meet the zones: a refusal, or the exclusions that narrow it."""
    untracked = inv.command == "grep" and inv.args.has("untracked")
    writer = _writes(inv) or untracked
    zones = _zones(inv, facts, untracked)
    specs = pathspecs(inv, facts)
    positive = [s for s in specs if not s.exclude]
    implicit: str | None = None
    if not positive and (_whole_tree(inv) or specs):
        # no pathspec where git means "everything", or only exclusions (git: "all but these")
        implicit = ":/"
        here = location(inv, facts).lexical or ""
        positive = [Pathspec(raw=":/", path=here, magic=frozenset({"top"}), wildcard=False, base=here)]
    found = reaches(positive, zones, ancestors=writer, fs_folds=facts.case_insensitive)
    inside = [r for r in found if r.how == "inside"]
    if inside:
        return Scope(refusal=inside[0].describe())
    if not found:
        return Scope()
    narrowed = (inv.command in _NARROWED and (inv.command != "stash" or inv.action == "push")) or (
        inv.command == "restore" and inv.args.has("staged") and not inv.args.has("worktree")
    )
    if not narrowed:
        return Scope(refusal=_broad(found[0]))
    if inv.command == "grep" and not untracked:
        return Scope()
    if (
        inv.command == "grep"
        and inv.args.dashdash is None
        and len(inv.args.positionals) > (0 if inv.args.has("e") else 1)
    ):
        return Scope(
            refusal="grep --untracked with paths needs '--' before them (so the gateway can add its own)"
        )
    if inv.command == "commit" and inv.args.has("all") and [s for s in specs if not s.exclude]:
        return Scope(refusal="commit -a with paths does not make sense to git either")
    seen: dict[str, ProtectedPath] = {}
    for reach in found:
        seen.setdefault(reach.zone.path, reach.zone)
    return Scope(
        excludes=tuple(seen.values()),
        implicit=implicit,
        commit_all=inv.command == "commit" and inv.args.has("all"),
    )


def _broad(reach: Reach) -> str:
    return f"{reach.describe()}; name the files outside it one by one"


def narrow(inv: Invocation, scope: Scope) -> Invocation:
    """The invocation git will run: the gateway's exclusions appended, exactly as git applies them."""
    if not scope.excludes:
        return inv
    if scope.commit_all:
        argv = edit_options(inv, lambda opt, _value: [] if opt.key == "all" else None)
        if inv.args.dashdash is not None and argv and argv[-1] == "--":
            argv.pop()  # "commit -a ... --" with nothing after it (paths with -a were refused)
        argv += ["--include", "--"]
    else:
        argv = list(inv.argv)
        if inv.args.dashdash is None:
            argv.append("--")
    if scope.implicit is not None:
        argv.append(scope.implicit)
    argv += [exclude_spec(zone) for zone in scope.excludes]
    return dataclasses.replace(inv, argv=tuple(argv))
