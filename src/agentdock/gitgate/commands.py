"""The git subcommands the gateway knows, with their options (git 2.3x), as data.

A subcommand missing from :data:`COMMANDS` is refused (rule
``unknown-subcommand``): that is how aliases, external ``git-<name>``
programs and look-alike names are kept out.  Commands that change the
repository are ``strict``: an option missing from their table is refused
rather than guessed at.  Read-only commands pass undeclared options through,
but declare the ones that take a value (so values are never mistaken for
pathspecs) and the ones the policy refuses (``--output``, ``--no-index``,
``--open-files-in-pager``).
"""

from __future__ import annotations

from agentdock.gitgate.options import CommandSpec, opts

__all__ = ["COMMANDS", "STASH_ACTIONS", "command_spec"]

# fmt: off
_DIFF = opts(
    "output=@", "no-index", "O=@", "U|unified=", "inter-hunk-context=", "stat=?", "diff-filter=",
    "relative=?", "src-prefix=", "dst-prefix=", "line-prefix=", "word-diff=?", "word-diff-regex=",
    "color=?", "color-moved=?", "color-moved-ws=", "anchored=", "I|ignore-matching-lines=", "G=", "S=",
    "find-object=", "submodule=?", "ws-error-highlight=", "abbrev=?", "M|find-renames=?",
    "C|find-copies=?", "B|break-rewrites=?", "l=", "skip-to=", "rotate-to=", "diff-algorithm=",
    "dirstat=?", "X=?", "ignore-submodules=?", "ext-diff", "textconv", "output-indicator-new=",
    "output-indicator-old=", "output-indicator-context=", "stat-width=", "stat-name-width=", "stat-count=",
    "stat-graph-width=", "pickaxe-regex", "R", "a|text", "p|patch", "u", "s|no-patch", "z", "name-only",
    "name-status", "cached", "staged", "merge-base",
)
_REVS = opts(
    "n|max-count=", "skip=", "since=", "after=", "until=", "before=", "author=", "committer=", "grep=",
    "grep-reflog=", "min-parents=", "max-parents=", "format=", "pretty=?", "date=", "encoding=", "L=",
    "decorate=?", "decorate-refs=", "decorate-refs-exclude=", "notes=?", "branches=?", "tags=?",
    "remotes=?", "glob=", "exclude=", "since-as-filter=", "expand-tabs=?", "show-linear-break=?", "graph",
    "oneline", "all", "follow", "first-parent", "reverse",
)
_LOG = CommandSpec("log", (*_DIFF, *_REVS), strict=False, paths="revs-paths", numeric=True)

_PUSH = opts(
    "v|verbose", "q|quiet", "repo=", "all", "branches", "mirror", "d|delete", "tags", "n|dry-run",
    "porcelain", "f|force", "force-with-lease=?", "force-if-includes", "recurse-submodules=", "thin",
    "receive-pack=", "exec=", "u|set-upstream", "progress", "prune", "verify", "no-verify", "follow-tags",
    "signed=?", "atomic", "o|push-option=", "4|ipv4", "6|ipv6",
)
_FETCH_COMMON = (
    "all", "a|append", "atomic", "upload-pack=", "f|force", "t|tags", "p|prune", "P|prune-tags",
    "recurse-submodules=?", "dry-run", "k|keep", "u|update-head-ok", "progress", "depth=",
    "shallow-since=", "shallow-exclude=", "deepen=", "unshallow", "update-shallow", "refmap=", "4|ipv4",
    "6|ipv6", "negotiation-tip=", "show-forced-updates", "o|server-option=", "set-upstream", "q|quiet",
    "v|verbose", "filter=",
)
_FETCH = opts(
    *_FETCH_COMMON,
    "m|multiple", "n", "j|jobs=", "prefetch", "write-fetch-head", "negotiate-only", "auto-maintenance",
    "auto-gc", "stdin", "recurse-submodules-default=", "submodule-prefix=", "write-commit-graph",
    "porcelain",
)
_MERGE_COMMON = (
    "commit", "e|edit", "cleanup=", "ff", "ff-only", "S|gpg-sign=?", "log=?", "signoff", "stat", "n",
    "summary", "squash", "s|strategy=", "X|strategy-option=", "verify-signatures", "autostash",
    "allow-unrelated-histories", "verify", "no-verify", "rerere-autoupdate",
)
_PULL = opts(*_FETCH_COMMON, *_MERGE_COMMON, "r|rebase=?", "j|jobs=?")
_MERGE = opts(
    *_MERGE_COMMON,
    "q|quiet", "v|verbose", "progress", "m=", "F|file=@", "into-name=", "overwrite-ignore", "abort",
    "quit", "continue",
)
_REBASE = opts(
    "onto=", "keep-base", "continue", "abort", "quit", "skip", "edit-todo", "show-current-patch", "apply",
    "empty=", "keep-empty", "allow-empty-message", "m|merge", "s|strategy=", "X|strategy-option=",
    "rerere-autoupdate", "S|gpg-sign=?", "q|quiet", "v|verbose", "stat", "n|no-stat", "verify",
    "no-verify", "C=", "ignore-whitespace", "whitespace=", "committer-date-is-author-date", "ignore-date",
    "reset-author-date", "signoff", "i|interactive", "r|rebase-merges=?", "fork-point", "x|exec=", "root",
    "autosquash", "autostash", "reschedule-failed-exec", "update-refs", "f|force-rebase", "ff",
)
_PICK = (
    "quit", "continue", "abort", "skip", "cleanup=", "n|no-commit", "e|edit", "s|signoff", "m|mainline=",
    "rerere-autoupdate", "strategy=", "X|strategy-option=", "S|gpg-sign=?", "allow-empty",
    "allow-empty-message", "keep-redundant-commits", "commit",
)
_COMMIT = opts(
    "q|quiet", "v|verbose", "F|file=@", "author=", "date=", "m|message=", "c|reedit-message=",
    "C|reuse-message=", "fixup=", "squash=", "reset-author", "trailer=", "s|signoff", "t|template=@",
    "e|edit", "cleanup=", "status", "S|gpg-sign=?", "a|all", "i|include", "interactive", "p|patch",
    "o|only", "n|no-verify", "verify", "dry-run", "short", "branch", "ahead-behind", "porcelain", "long",
    "z|null", "amend", "no-post-rewrite", "u|untracked-files=?", "pathspec-from-file=@",
    "pathspec-file-nul", "allow-empty", "allow-empty-message",
)
_PATHSPEC_FILE = ("pathspec-from-file=@", "pathspec-file-nul")

COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        # --- read-only -----------------------------------------------------------------
        CommandSpec(
            "status",
            opts(
                "s|short", "b|branch", "porcelain=?", "long", "v|verbose", "u|untracked-files=?",
                "ignore-submodules=?", "ignored=?", "z", "column=?", "ahead-behind", "renames",
                "find-renames=?", "show-stash",
            ),
            strict=False,
            paths="paths",
            summary="show the working tree status",
        ),
        _LOG,
        CommandSpec("show", _LOG.options, strict=False, paths="revs-paths", numeric=True),
        CommandSpec("whatchanged", _LOG.options, strict=False, paths="revs-paths", numeric=True),
        CommandSpec("diff", _DIFF, strict=False, paths="revs-paths"),
        CommandSpec("diff-tree", (*_DIFF, *_REVS), strict=False, paths="revs-paths"),
        CommandSpec("diff-index", _DIFF, strict=False, paths="revs-paths"),
        CommandSpec("diff-files", _DIFF, strict=False, paths="paths"),
        CommandSpec(
            "shortlog",
            (*_REVS, *opts("w=?", "group=", "c|committer", "s|summary", "e|email")),
            strict=False,
            paths="revs-paths",
            numeric=True,
        ),
        CommandSpec("rev-list", _LOG.options, strict=False, paths="revs-paths", numeric=True),
        CommandSpec(
            "blame",
            opts(
                "contents=@", "S=@", "ignore-revs-file=@", "L=", "ignore-rev=", "date=", "abbrev=?", "M=?",
                "C=?", "encoding=", "since=", "reverse=", "color-lines", "color-by-age",
            ),
            strict=False,
            paths="revs-paths",
        ),
        CommandSpec(
            "grep",
            opts(
                "no-index", "O|open-files-in-pager=?", "e=", "f=@", "A|after-context=",
                "B|before-context=", "C|context=", "m|max-count=", "max-depth=", "threads=", "and", "or",
                "not", "untracked", "exclude-standard", "recurse-submodules", "cached", "color=?",
                "parent-basename",
            ),
            strict=False,
            paths="pattern-revs-paths",
        ),
        CommandSpec(
            "ls-files",
            opts(
                "x|exclude=", "X|exclude-from=@", "exclude-per-directory=", "abbrev=?", "format=",
                "with-tree=", "recurse-submodules",
            ),
            strict=False,
            paths="paths",
        ),
        CommandSpec("ls-tree", opts("abbrev=?", "format="), strict=False, paths="revs-paths"),
        CommandSpec("cat-file", opts("path=", "batch=?", "batch-check=?", "batch-command=?"), strict=False),
        CommandSpec(
            "rev-parse",
            opts(
                "default=", "prefix=", "short=?", "abbrev-ref=?", "git-path=", "resolve-git-dir=",
                "since=", "until=", "after=", "before=", "show-object-format=?", "disambiguate=",
                "exclude=",
            ),
            strict=False,
        ),
        CommandSpec(
            "describe",
            opts("abbrev=?", "candidates=", "match=", "exclude=", "dirty=?", "broken=?"),
            strict=False,
        ),
        CommandSpec("show-ref", opts("s|hash=?", "abbrev=?", "exclude-existing=?"), strict=False),
        CommandSpec(
            "for-each-ref",
            opts(
                "count=", "sort=", "format=", "points-at=", "merged=?", "no-merged=?", "contains=?",
                "no-contains=?", "exclude=",
            ),
            strict=False,
        ),
        CommandSpec("name-rev", opts("refs=", "exclude="), strict=False),
        CommandSpec("merge-base", opts(), strict=False),
        CommandSpec("cherry", opts("abbrev=?"), strict=False),
        CommandSpec("range-diff", (*_DIFF, *opts("creation-factor=", "notes=?")), strict=False),
        CommandSpec("show-branch", opts("more=?", "reflog=?", "color=?"), strict=False),
        CommandSpec("count-objects", opts(), strict=False),
        CommandSpec(
            "check-ignore",
            opts("stdin", "z", "n|non-matching", "v|verbose", "q|quiet", "no-index"),
            strict=False,
            paths="paths",
        ),
        CommandSpec("check-ref-format", opts(), strict=False),
        CommandSpec("verify-commit", opts(), strict=False),
        CommandSpec("verify-tag", opts("format="), strict=False),
        CommandSpec("version", opts(), strict=False),
        CommandSpec(
            "ls-remote",
            opts(
                "upload-pack=", "exec=", "sort=", "o|server-option=", "h|heads", "t|tags", "refs",
                "q|quiet", "get-url", "symref", "exit-code",
            ),
            strict=True,
        ),
        # --- changing things: strict ----------------------------------------------------
        CommandSpec(
            "add",
            opts(
                "n|dry-run", "v|verbose", "i|interactive", "p|patch", "e|edit", "f|force", "u|update",
                "renormalize", "N|intent-to-add", "A|all", "ignore-removal", "refresh", "ignore-errors",
                "ignore-missing", "sparse", "chmod=",
                *_PATHSPEC_FILE,
            ),
            strict=True,
            paths="paths",
        ),
        CommandSpec(
            "rm",
            opts(
                "f|force", "n|dry-run", "r", "cached", "ignore-unmatch", "sparse", "q|quiet", *_PATHSPEC_FILE
            ),
            strict=True,
            paths="paths",
        ),
        CommandSpec(
            "mv", opts("v|verbose", "n|dry-run", "f|force", "k", "sparse"), strict=True, paths="paths"
        ),
        CommandSpec("commit", _COMMIT, strict=True, paths="paths"),
        CommandSpec("push", _PUSH, strict=True),
        CommandSpec("fetch", _FETCH, strict=True),
        CommandSpec("pull", _PULL, strict=True),
        CommandSpec("merge", _MERGE, strict=True),
        CommandSpec("rebase", _REBASE, strict=True),
        CommandSpec("cherry-pick", opts(*_PICK, "x", "ff"), strict=True),
        CommandSpec("revert", opts(*_PICK, "reference"), strict=True),
        CommandSpec(
            "reset",
            opts(
                "q|quiet", "refresh", "mixed", "soft", "hard", "merge", "keep", "recurse-submodules=?",
                "p|patch", "N|intent-to-add",
                *_PATHSPEC_FILE,
            ),
            strict=True,
            paths="revs-paths",
        ),
        CommandSpec(
            "clean",
            opts("q|quiet", "n|dry-run", "f|force", "i|interactive", "d", "e|exclude=", "x", "X"),
            strict=True,
            paths="paths",
        ),
        CommandSpec(
            "checkout",
            opts(
                "q|quiet", "progress", "b=", "B=", "l", "guess", "overlay", "detach", "t|track=?",
                "orphan=", "2|ours", "3|theirs", "f|force", "m|merge", "overwrite-ignore", "conflict=",
                "p|patch", "ignore-skip-worktree-bits", "ignore-other-worktrees", "recurse-submodules=?",
                *_PATHSPEC_FILE,
            ),
            strict=True,
            paths="revs-paths",
        ),
        CommandSpec(
            "restore",
            opts(
                "s|source=", "S|staged", "W|worktree", "ignore-unmerged", "overlay", "q|quiet", "progress",
                "recurse-submodules=?", "2|ours", "3|theirs", "m|merge", "conflict=", "p|patch",
                "ignore-skip-worktree-bits",
                *_PATHSPEC_FILE,
            ),
            strict=True,
            paths="paths",
        ),
        CommandSpec(
            "switch",
            opts(
                "c|create=", "C|force-create=", "d|detach", "guess", "f|force", "discard-changes",
                "m|merge", "conflict=", "q|quiet", "progress", "t|track=?", "orphan=",
                "ignore-other-worktrees", "recurse-submodules=?", "overwrite-ignore",
            ),
            strict=True,
        ),
        CommandSpec(
            "branch",
            opts(
                "v|verbose", "q|quiet", "t|track=?", "u|set-upstream-to=", "unset-upstream", "color=?",
                "r|remotes", "contains=?", "no-contains=?", "merged=?", "no-merged=?", "abbrev=?", "a|all",
                "d|delete", "D", "m|move", "M", "c|copy", "C", "l|list", "show-current", "create-reflog",
                "edit-description", "f|force", "sort=", "points-at=", "i|ignore-case", "format=",
                "column=?", "recurse-submodules", "omit-empty",
            ),
            strict=True,
        ),
        CommandSpec(
            "tag",
            opts(
                "a|annotate", "s|sign", "u|local-user=", "f|force", "d|delete", "v|verify", "n=?",
                "l|list", "sort=", "contains=?", "no-contains=?", "merged=?", "no-merged=?", "points-at=?",
                "m|message=", "F|file=@", "e|edit", "cleanup=", "create-reflog", "i|ignore-case",
                "column=?", "format=", "color=?", "omit-empty",
            ),
            strict=True,
        ),
        CommandSpec("stash", opts(), strict=True, summary="see STASH_ACTIONS"),
        CommandSpec(
            "gc",
            opts("aggressive", "auto", "q|quiet", "prune=?", "force", "keep-largest-pack", "cruft", "detach"),
            strict=True,
        ),
        CommandSpec("reflog", _LOG.options, strict=False, numeric=True),
        CommandSpec(
            "update-ref", opts("m=", "d|delete", "no-deref", "z", "stdin", "create-reflog"), strict=True
        ),
        CommandSpec("symbolic-ref", opts("q|quiet", "d|delete", "short", "recurse", "m="), strict=True),
        CommandSpec(
            "config",
            opts(
                "global", "system", "local", "worktree", "f|file=@", "blob=", "get", "get-all",
                "get-regexp", "get-urlmatch", "replace-all", "add", "unset", "unset-all", "rename-section",
                "remove-section", "l|list", "fixed-value", "e|edit", "get-color", "get-colorbool",
                "t|type=", "bool", "int", "bool-or-int", "bool-or-str", "path", "expiry-date", "z|null",
                "name-only", "includes", "show-origin", "show-scope", "default=",
            ),
            strict=True,
        ),
        CommandSpec(
            "remote",
            opts(
                "v|verbose", "n", "push", "all", "p|prune", "t=", "m=", "f", "tags", "mirror=?", "a|auto",
                "d|delete", "add",
            ),
            strict=True,
        ),
        CommandSpec("submodule", opts("q|quiet", "cached", "recursive"), strict=False, paths="paths"),
        CommandSpec("worktree", opts("v|verbose", "porcelain", "z", "expire="), strict=False),
        CommandSpec("filter-branch", opts(), strict=False),
        CommandSpec("filter-repo", opts(), strict=False),
    )
}

#: ``git stash <action>``: the options each action accepts.
STASH_ACTIONS: dict[str, CommandSpec] = {
    spec.name.split(" ", 1)[1]: spec
    for spec in (
        CommandSpec(
            "stash push",
            opts(
                "p|patch", "S|staged", "k|keep-index", "q|quiet", "u|include-untracked", "a|all",
                "m|message=",
                *_PATHSPEC_FILE,
            ),
            strict=True,
            paths="paths",
        ),
        CommandSpec(
            "stash save",
            opts("p|patch", "S|staged", "k|keep-index", "q|quiet", "u|include-untracked", "a|all"),
            strict=True,
        ),
        CommandSpec("stash list", _LOG.options, strict=False),
        CommandSpec("stash show", (*_DIFF, *opts("u|include-untracked", "only-untracked")), strict=False),
        CommandSpec("stash drop", opts("q|quiet"), strict=True),
        CommandSpec("stash pop", opts("index", "q|quiet"), strict=True),
        CommandSpec("stash apply", opts("index", "q|quiet"), strict=True),
        CommandSpec("stash branch", opts(), strict=True),
        CommandSpec("stash clear", opts(), strict=True),
        CommandSpec("stash create", opts(), strict=True),
        CommandSpec("stash store", opts("m|message=", "q|quiet"), strict=True),
    )
}

# fmt: on


def command_spec(name: str) -> CommandSpec | None:
    return COMMANDS.get(name)
