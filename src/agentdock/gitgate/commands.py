"""The git subcommands the gateway runs, each with the allow-list of its options (git 2.3x), as data.

Default-deny, by construction:

* a subcommand missing from :data:`COMMANDS` is refused (rule ``unknown-subcommand``): aliases,
  external ``git-<name>`` programs, look-alike names, and every git command nobody listed
  (``notes``, ``replace``, ``archive``, ``format-patch``, ``am``, ``apply``, ``bundle``…);
* :data:`REFUSED_COMMANDS` are known and refused outright, each by its own rule;
* an option missing from a command's table, declared with ``!`` (known, parsed with the right
  arity, never allowed), or negated without ``[no-]`` is refused (rule ``unknown-option``);
* commands with sub-commands (``stash``, ``remote``, ``submodule``, ``worktree``, ``reflog``) list
  the actions they allow in :data:`ACTIONS`; any other action is refused by the parent's rule.

No option that makes git write a file the caller names (``--output``, ``-o``,
``--output-directory``…) is on any list; options naming a file git would *read* are either
refused or marked ``=@`` (the gateway reads the file itself, see :mod:`agentdock.gitgate.guard`).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentdock.gitgate.options import CommandSpec, opts

__all__ = [
    "ACTIONS",
    "COMMANDS",
    "REFUSED_COMMANDS",
    "STASH_ACTIONS",
    "ActionTable",
    "command_spec",
]

# fmt: off
_DIFF = opts(
    "!output=@", "!no-index", "!O=@", "!ext-diff", "!textconv", "no-ext-diff", "no-textconv",
    "U|unified=", "inter-hunk-context=", "stat=?", "diff-filter=", "relative=?", "no-relative",
    "src-prefix=", "dst-prefix=", "no-prefix", "default-prefix", "line-prefix=", "word-diff=?",
    "word-diff-regex=", "color-words=?", "[no-]color=?", "[no-]color-moved=?", "color-moved-ws=",
    "anchored=", "I|ignore-matching-lines=", "G=", "S=", "find-object=", "pickaxe-all", "pickaxe-regex",
    "submodule=?", "ws-error-highlight=", "[no-]abbrev=?", "M|find-renames=?", "C|find-copies=?",
    "find-copies-harder", "B|break-rewrites=?", "D|irreversible-delete", "l=", "skip-to=", "rotate-to=",
    "diff-algorithm=", "minimal", "patience", "histogram", "[no-]indent-heuristic", "dirstat=?", "X=?",
    "dirstat-by-file=?", "cumulative", "ignore-submodules=?", "output-indicator-new=",
    "output-indicator-old=", "output-indicator-context=", "stat-width=", "stat-name-width=",
    "stat-count=", "stat-graph-width=", "R", "a|text", "p|patch", "u", "s|no-patch", "z", "name-only",
    "name-status", "raw", "patch-with-raw", "patch-with-stat", "numstat", "shortstat", "summary",
    "check", "compact-summary", "binary", "full-index", "[no-]renames", "[no-]rename-empty",
    "ignore-cr-at-eol", "ignore-space-at-eol", "b|ignore-space-change", "w|ignore-all-space",
    "ignore-blank-lines", "W|function-context", "exit-code", "quiet", "cached", "staged",
    "merge-base", "1|base", "2|ours", "3|theirs", "0",
)
_REVS = opts(
    "n|max-count=", "skip=", "since=", "after=", "until=", "before=", "author=", "committer=", "grep=",
    "grep-reflog=", "i|regexp-ignore-case", "E|extended-regexp", "F|fixed-strings", "P|perl-regexp",
    "all-match", "invert-grep", "merges", "no-merges", "min-parents=", "max-parents=", "no-min-parents",
    "no-max-parents", "first-parent", "exclude-first-parent-only", "not", "all", "branches=?",
    "tags=?", "remotes=?", "glob=", "exclude=", "reflog", "single-worktree", "ignore-missing",
    "cherry-mark", "cherry-pick", "left-only", "right-only", "cherry", "g|walk-reflogs", "merge",
    "boundary", "simplify-by-decoration", "full-history", "dense", "sparse", "simplify-merges",
    "ancestry-path=?", "show-pulls", "date-order", "author-date-order", "topo-order", "reverse",
    "no-walk=?", "do-walk", "format=", "pretty=?", "oneline", "[no-]abbrev-commit", "encoding=",
    "[no-]expand-tabs=?", "[no-]notes=?", "relative-date", "date=", "parents", "children",
    "left-right", "graph", "show-linear-break=?", "count", "[no-]decorate=?", "decorate-refs=",
    "decorate-refs-exclude=", "clear-decorations", "source", "[no-]use-mailmap", "[no-]mailmap",
    "full-diff", "log-size", "L=", "since-as-filter=", "follow", "root", "c", "cc", "m",
    "diff-merges=", "no-diff-merges", "remerge-diff", "combined-all-paths", "t", "r", "objects",
    "objects-edge", "q|quiet", "!show-signature", "!stdin",
)
_LOG = CommandSpec("log", (*_DIFF, *_REVS), paths="revs-paths", numeric=True)

_MSG_FILE = "F|file=@"
_PUSH = opts(
    "v|verbose", "q|quiet", "repo=", "all", "!mirror", "d|delete", "tags", "n|dry-run",
    "porcelain", "!f|force", "![no-]force-with-lease=?", "!force-if-includes", "recurse-submodules=",
    "[no-]thin", "!receive-pack=", "!exec=", "u|set-upstream", "progress", "!prune", "verify",
    "no-verify", "[no-]follow-tags", "!signed=?", "atomic", "o|push-option=", "4|ipv4", "6|ipv6",
)
_FETCH_COMMON = (
    "all", "a|append", "atomic", "!upload-pack=", "!f|force", "t|tags", "p|prune", "P|prune-tags",
    "recurse-submodules=?", "dry-run", "!k|keep", "!u|update-head-ok", "progress", "depth=",
    "shallow-since=", "shallow-exclude=", "deepen=", "unshallow", "update-shallow", "refmap=", "4|ipv4",
    "6|ipv6", "negotiation-tip=", "show-forced-updates", "o|server-option=", "set-upstream", "q|quiet",
    "v|verbose", "filter=",
)
_FETCH = opts(
    *_FETCH_COMMON,
    "n|no-tags", "m|multiple", "j|jobs=", "prefetch", "[no-]write-fetch-head", "!negotiate-only",
    "[no-]auto-maintenance", "[no-]auto-gc", "!stdin", "!recurse-submodules-default=",
    "!submodule-prefix=", "write-commit-graph",
)
_MERGE_COMMON = (
    "[no-]commit", "[no-]e|edit", "cleanup=", "[no-]ff", "ff-only", "![no-]S|gpg-sign=?", "[no-]log=?",
    "[no-]signoff", "[no-]stat", "n", "summary", "[no-]squash", "s|strategy=", "X|strategy-option=",
    "!verify-signatures", "[no-]autostash", "allow-unrelated-histories", "[no-]verify",
    "rerere-autoupdate",
)
_PULL = opts(
    *(o for o in _FETCH_COMMON if o not in ("atomic", "P|prune-tags", "filter=")),
    *(o for o in _MERGE_COMMON if o != "rerere-autoupdate"),
    "[no-]r|rebase=?", "j|jobs=?",
)
_MERGE = opts(
    *_MERGE_COMMON,
    "q|quiet", "v|verbose", "progress", "m=", _MSG_FILE, "into-name=", "!overwrite-ignore", "abort",
    "quit", "continue",
)
_REBASE = opts(
    "onto=", "keep-base", "continue", "abort", "quit", "skip", "!edit-todo", "show-current-patch",
    "apply", "empty=", "keep-empty", "allow-empty-message", "m|merge", "s|strategy=",
    "X|strategy-option=", "rerere-autoupdate", "![no-]S|gpg-sign=?", "q|quiet", "v|verbose", "stat",
    "n|no-stat", "[no-]verify", "!C=", "ignore-whitespace", "whitespace=",
    "committer-date-is-author-date", "ignore-date", "reset-author-date", "signoff", "!i|interactive",
    "r|rebase-merges=?", "[no-]fork-point", "!x|exec=", "root", "[no-]autosquash", "[no-]autostash",
    "!reschedule-failed-exec", "!update-refs", "f|force-rebase",
)
_PICK = (
    "quit", "continue", "abort", "skip", "cleanup=", "n|no-commit", "[no-]e|edit", "s|signoff",
    "m|mainline=", "rerere-autoupdate", "strategy=", "X|strategy-option=", "![no-]S|gpg-sign=?",
)
_COMMIT = opts(
    "q|quiet", "v|verbose", _MSG_FILE, "!author=", "date=", "m|message=", "c|reedit-message=",
    "C|reuse-message=", "fixup=", "squash=", "reset-author", "trailer=", "[no-]s|signoff",
    "!t|template=@", "[no-]e|edit", "cleanup=", "[no-]status", "![no-]S|gpg-sign=?", "a|all",
    "i|include", "!interactive", "!p|patch", "o|only", "n|no-verify", "verify", "dry-run", "short",
    "branch", "ahead-behind", "porcelain", "long", "z|null", "amend", "no-post-rewrite",
    "u|untracked-files=?", "!pathspec-from-file=@", "!pathspec-file-nul", "allow-empty",
    "allow-empty-message",
)
_PATHSPEC_FILE = ("!pathspec-from-file=@", "!pathspec-file-nul")


def _read(name: str, options: tuple[str, ...], paths: str = "other", numeric: bool = False) -> CommandSpec:
    return CommandSpec(name, opts(*options), paths=paths, numeric=numeric)


def _write(name: str, options: tuple[str, ...], paths: str = "other") -> CommandSpec:
    return CommandSpec(name, opts(*options), paths=paths, writes=True)


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        # --- read-only -----------------------------------------------------------------
        _read(
            "status",
            (
                "s|short", "b|branch", "porcelain=?", "long", "v|verbose", "u|untracked-files=?",
                "ignore-submodules=?", "ignored=?", "z|null", "[no-]column=?", "[no-]ahead-behind",
                "[no-]renames", "find-renames=?", "show-stash",
            ),
            paths="paths",
        ),
        _LOG,
        CommandSpec("show", _LOG.options, paths="revs-paths", numeric=True),
        CommandSpec("whatchanged", _LOG.options, paths="revs-paths", numeric=True),
        CommandSpec("diff", _DIFF, paths="revs-paths"),
        CommandSpec("diff-tree", (*_DIFF, *_REVS), paths="revs-paths"),
        CommandSpec("diff-index", _DIFF, paths="revs-paths"),
        CommandSpec("diff-files", _DIFF, paths="paths"),
        CommandSpec(
            "shortlog",
            (*_REVS, *opts("w=?", "group=", "c|committer", "s|summary", "e|email", "n|numbered")),
            paths="revs-paths",
            numeric=True,
        ),
        CommandSpec("rev-list", _LOG.options, paths="revs-paths", numeric=True),
        _read(
            "blame",
            (
                "!contents=@", "!S=@", "!ignore-revs-file=@", "L=", "ignore-rev=", "date=", "[no-]abbrev=?",
                "M=?", "C=?", "encoding=", "since=", "reverse", "[no-]color-lines", "[no-]color-by-age",
                "root", "show-stats", "p|porcelain", "line-porcelain", "incremental", "l", "t", "s",
                "e|show-email", "f|show-name", "n|show-number", "c", "w", "b", "minimal", "score-debug",
                "progress",
            ),
            paths="revs-paths",
        ),
        _read(
            "grep",
            (
                "!no-index", "!O|open-files-in-pager=?", "e=", "!f=@", "A|after-context=",
                "B|before-context=", "C|context=", "m|max-count=", "max-depth=", "threads=", "and", "or",
                "not", "untracked", "exclude-standard", "!recurse-submodules", "cached", "[no-]color=?",
                "!textconv", "no-textconv", "v|invert-match", "i|ignore-case", "w|word-regexp", "a|text",
                "I", "r|recursive", "E|extended-regexp", "G|basic-regexp", "F|fixed-strings",
                "P|perl-regexp", "n|line-number", "column", "h", "H", "full-name", "l|files-with-matches",
                "name-only", "L|files-without-match", "o|only-matching", "c|count", "break", "heading",
                "p|show-function", "W|function-context", "q|quiet", "all-match", "z|null",
            ),
            paths="pattern-revs-paths",
        ),
        _read(
            "ls-files",
            (
                "c|cached", "d|deleted", "m|modified", "o|others", "s|stage", "u|unmerged", "k|killed",
                "t", "v", "f", "z", "directory", "no-empty-directory", "exclude-standard",
                "error-unmatch", "full-name", "[no-]abbrev=?", "eol", "deduplicate", "sparse", "format=",
                "x|exclude=", "!X|exclude-from=@", "!exclude-per-directory=", "!i|ignored",
                "with-tree=", "!recurse-submodules",
            ),
            paths="paths",
        ),
        _read(
            "ls-tree",
            (
                "d", "r", "t", "l|long", "z", "name-only", "name-status", "object-only", "full-name",
                "full-tree", "[no-]abbrev=?", "format=",
            ),
            paths="revs-paths",
        ),
        _read(
            "cat-file",
            (
                "t", "s", "e", "p", "batch=?", "batch-check=?", "batch-all-objects", "buffer", "unordered",
                "allow-unknown-type", "z", "Z", "[no-]use-mailmap", "[no-]mailmap", "!path=", "!textconv",
                "!filters", "!follow-symlinks", "!batch-command=?",
            ),
        ),
        _read(
            "rev-parse",
            (
                "verify", "q|quiet", "short=?", "abbrev-ref=?", "symbolic", "symbolic-full-name",
                "show-toplevel", "show-prefix", "show-cdup", "git-dir", "absolute-git-dir",
                "git-common-dir", "is-inside-work-tree", "is-inside-git-dir", "is-bare-repository",
                "is-shallow-repository", "all", "branches=?", "tags=?", "remotes=?", "glob=", "exclude=",
                "default=", "sq", "not", "revs-only", "no-revs", "flags", "no-flags", "since=", "until=",
                "after=", "before=", "show-object-format=?", "disambiguate=", "!prefix=", "!git-path=",
                "!resolve-git-dir=", "!parseopt", "!sq-quote", "!local-env-vars", "!shared-index-path",
            ),
        ),
        _read(
            "describe",
            (
                "[no-]abbrev=?", "candidates=", "match=", "exclude=", "dirty=?", "broken=?", "all", "tags",
                "contains", "long", "always", "first-parent", "exact-match", "debug",
            ),
        ),
        _read(
            "show-ref",
            (
                "head", "heads", "tags", "branches", "d|dereference", "s|hash=?", "verify", "[no-]abbrev=?",
                "q|quiet", "!exclude-existing=?",
            ),
        ),
        _read(
            "for-each-ref",
            (
                "count=", "sort=", "format=", "points-at=", "merged=?", "no-merged=?", "contains=?",
                "no-contains=?", "s|shell", "p|perl", "python", "tcl", "ignore-case",
                "[no-]color=?", "!stdin",
            ),
        ),
        _read("name-rev", ("tags", "refs=", "exclude=", "all", "name-only", "no-undefined", "always")),
        _read("merge-base", ("a|all", "octopus", "independent", "is-ancestor", "fork-point")),
        _read("cherry", ("v", "[no-]abbrev=?")),
        CommandSpec("range-diff", (*_DIFF, *opts("creation-factor=", "no-dual-color", "[no-]notes=?"))),
        _read(
            "show-branch",
            (
                "a|all", "r|remotes", "topo-order", "date-order", "current", "[no-]color=?", "more=?",
                "list", "merge-base", "independent", "no-name", "sha1-name", "sparse", "g|reflog=?",
            ),
        ),
        _read("count-objects", ("v|verbose", "H|human-readable")),
        _read("check-ignore", ("q|quiet", "v|verbose", "n|non-matching", "z", "!stdin", "!no-index"), paths="paths"),
        _read("check-ref-format", ("[no-]allow-onelevel", "refspec-pattern", "normalize", "branch")),
        _read("version", ("build-options",)),
        _read(
            "ls-remote",
            (
                "!upload-pack=", "!exec=", "sort=", "o|server-option=", "h|heads", "t|tags", "refs",
                "q|quiet", "get-url", "symref", "exit-code",
            ),
        ),
        _read("symbolic-ref", ("q|quiet", "!d|delete", "short", "[no-]recurse", "!m=")),
        _read(
            "config",
            (
                "get", "get-all", "get-regexp", "l|list", "z|null", "name-only", "show-origin",
                "show-scope", "t|type=", "bool", "int", "bool-or-int", "bool-or-str", "path",
                "expiry-date", "default=", "[no-]includes", "local", "fixed-value", "get-color",
                "get-colorbool", "!global", "!system", "!worktree", "!f|file=@", "!blob=",
                "!get-urlmatch", "!replace-all", "!add", "!unset", "!unset-all", "!rename-section",
                "!remove-section", "!e|edit",
            ),
        ),
        # --- changing things ------------------------------------------------------------
        _write(
            "add",
            (
                "n|dry-run", "v|verbose", "!i|interactive", "!p|patch", "!e|edit", "f|force", "u|update",
                "renormalize", "N|intent-to-add", "[no-]A|all", "ignore-removal", "refresh",
                "ignore-errors", "ignore-missing", "sparse", "chmod=",
                *_PATHSPEC_FILE,
            ),
            paths="paths",
        ),
        _write(
            "rm",
            ("!f|force", "n|dry-run", "r", "cached", "ignore-unmatch", "sparse", "q|quiet", *_PATHSPEC_FILE),
            paths="paths",
        ),
        _write("mv", ("v|verbose", "n|dry-run", "!f|force", "k", "sparse"), paths="paths"),
        CommandSpec("commit", _COMMIT, paths="paths", writes=True),
        CommandSpec("push", _PUSH),
        CommandSpec("fetch", _FETCH),
        CommandSpec("pull", _PULL, writes=True),
        CommandSpec("merge", _MERGE, writes=True),
        CommandSpec("rebase", _REBASE, writes=True),
        _write(
            "cherry-pick", (*_PICK, "x", "[no-]ff", "allow-empty", "allow-empty-message", "keep-redundant-commits")
        ),
        _write("revert", (*_PICK, "reference")),
        _write(
            "reset",
            (
                "q|quiet", "[no-]refresh", "mixed", "soft", "!hard", "!merge", "keep",
                "recurse-submodules=?", "!p|patch", "N|intent-to-add",
                *_PATHSPEC_FILE,
            ),
            paths="revs-paths",
        ),
        _write(
            "clean",
            ("q|quiet", "[no-]n|dry-run", "!f|force", "!i|interactive", "d", "e|exclude=", "x", "X"),
            paths="paths",
        ),
        _write(
            "checkout",
            (
                "q|quiet", "progress", "b=", "!B=", "l", "[no-]guess", "[no-]overlay", "detach",
                "[no-]t|track=?", "!orphan=", "2|ours", "3|theirs", "!f|force", "m|merge",
                "!overwrite-ignore", "conflict=", "!p|patch", "ignore-skip-worktree-bits",
                "!ignore-other-worktrees", "recurse-submodules=?",
                *_PATHSPEC_FILE,
            ),
            paths="revs-paths",
        ),
        _write(
            "restore",
            (
                "s|source=", "S|staged", "W|worktree", "ignore-unmerged", "[no-]overlay", "q|quiet",
                "progress", "recurse-submodules=?", "2|ours", "3|theirs", "m|merge", "conflict=",
                "!p|patch", "ignore-skip-worktree-bits",
                *_PATHSPEC_FILE,
            ),
            paths="paths",
        ),
        _write(
            "switch",
            (
                "c|create=", "!C|force-create=", "d|detach", "[no-]guess", "!f|force", "!discard-changes",
                "m|merge", "conflict=", "q|quiet", "progress", "[no-]t|track=?", "!orphan=",
                "!ignore-other-worktrees", "recurse-submodules=?", "!overwrite-ignore",
            ),
        ),
        _read(
            "branch",
            (
                "v|verbose", "q|quiet", "[no-]t|track=?", "u|set-upstream-to=", "unset-upstream",
                "[no-]color=?", "r|remotes", "contains=?", "no-contains=?", "merged=?", "no-merged=?",
                "[no-]abbrev=?", "a|all", "d|delete", "!D", "m|move", "!M", "c|copy", "!C", "l|list",
                "show-current", "create-reflog", "!edit-description", "!f|force", "sort=", "points-at=",
                "i|ignore-case", "format=", "[no-]column=?", "!recurse-submodules",
            ),
        ),
        _read(
            "tag",
            (
                "a|annotate", "!s|sign", "!u|local-user=", "!f|force", "d|delete", "!v|verify", "n=?",
                "l|list", "sort=", "contains=?", "no-contains=?", "merged=?", "no-merged=?",
                "points-at=?", "m|message=", _MSG_FILE, "!e|edit", "cleanup=", "create-reflog",
                "i|ignore-case", "[no-]column=?", "format=", "[no-]color=?",
            ),
        ),
        _read("gc", ("aggressive", "auto", "q|quiet", "[no-]prune=?", "!force", "keep-largest-pack", "cruft")),
        # commands with actions: the parent's spec parses an action nobody listed
        CommandSpec("stash", opts(), writes=True, summary="see ACTIONS['stash']"),
        CommandSpec("remote", opts(), summary="see ACTIONS['remote']"),
        CommandSpec("submodule", opts(), paths="paths", summary="see ACTIONS['submodule']"),
        CommandSpec("worktree", opts(), summary="see ACTIONS['worktree']"),
        CommandSpec("reflog", opts(), summary="see ACTIONS['reflog']"),
    )
}

#: Known git commands refused outright: (rule, reason).
REFUSED_COMMANDS: dict[str, tuple[str, str]] = {
    "filter-branch": ("history-rewrite", "git filter-branch rewrites the whole history"),
    "filter-repo": ("history-rewrite", "git filter-repo rewrites the whole history"),
    "update-ref": ("ref-rewrite", "update-ref moves or deletes any reference regardless of its history"),
}


@dataclass(frozen=True)
class ActionTable:
    """The actions a command with sub-commands allows.

    ``default``: the action when the first argument is an option or there is none.
    ``implicit``: when the first word is not one of ``known`` (every action git has), git runs
    ``default`` with that word as an argument (``git reflog HEAD`` is ``git reflog show HEAD``).
    ``rule``: the rule that refuses an action missing from ``allowed``.
    """

    allowed: dict[str, CommandSpec]
    default: str
    known: frozenset[str]
    rule: str
    implicit: bool = False


def _actions(parent: str, *specs: CommandSpec) -> dict[str, CommandSpec]:
    return {spec.name.removeprefix(parent + " "): spec for spec in specs}


ACTIONS: dict[str, ActionTable] = {
    "stash": ActionTable(
        _actions(
            "stash",
            CommandSpec(
                "stash push",
                opts(
                    "!p|patch", "S|staged", "[no-]k|keep-index", "q|quiet", "u|include-untracked", "!a|all",
                    "m|message=",
                    *_PATHSPEC_FILE,
                ),
                paths="paths",
                writes=True,
            ),
            CommandSpec("stash list", _REVS),
            CommandSpec("stash show", (*_DIFF, *opts("u|include-untracked", "only-untracked"))),
            CommandSpec("stash pop", opts("index", "q|quiet"), writes=True),
            CommandSpec("stash apply", opts("index", "q|quiet"), writes=True),
        ),
        default="push",
        known=frozenset({"push", "save", "list", "show", "drop", "pop", "apply", "branch", "clear", "create", "store"}),
        rule="stash-destructive",
    ),
    "remote": ActionTable(
        _actions(
            "remote",
            CommandSpec("remote list", opts("v|verbose")),
            CommandSpec("remote show", opts("n")),
            CommandSpec("remote get-url", opts("push", "all")),
        ),
        default="list",
        known=frozenset(
            {"add", "rename", "remove", "rm", "set-head", "set-branches", "get-url", "set-url", "show",
             "prune", "update"}
        ),
        rule="remote-write",
    ),
    "submodule": ActionTable(
        _actions("submodule", CommandSpec("submodule status", opts("q|quiet", "cached", "recursive"), paths="paths")),
        default="status",
        known=frozenset(
            {"add", "status", "init", "deinit", "update", "set-branch", "set-url", "summary", "foreach",
             "sync", "absorbgitdirs"}
        ),
        rule="submodule",
    ),
    "worktree": ActionTable(
        _actions("worktree", CommandSpec("worktree list", opts("v|verbose", "porcelain", "z", "expire="))),
        default="list",
        known=frozenset({"add", "list", "lock", "move", "prune", "remove", "repair", "unlock"}),
        rule="worktree",
    ),
    "reflog": ActionTable(
        _actions("reflog", CommandSpec("reflog show", _LOG.options, numeric=True)),
        default="show",
        known=frozenset({"show", "expire", "delete", "exists"}),
        rule="reflog-expire",
        implicit=True,
    ),
}
# fmt: on

#: kept for callers of the earlier API
STASH_ACTIONS: dict[str, CommandSpec] = ACTIONS["stash"].allowed


def command_spec(name: str) -> CommandSpec | None:
    return COMMANDS.get(name)
