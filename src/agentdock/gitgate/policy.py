"""The gateway's policy: a table of named rules over parsed git invocations.

Each :class:`Rule` has a name (quoted in every refusal), a one-line summary,
the check (``None`` for rules the parser enforces while reading the command)
and examples it must refuse and allow.  The unit tests run every example
against a real repository, so the table documents itself truthfully;
``git-mcp --explain-policy`` prints it.

Examples assume the test repository: a submodule at ``vendor/lib``, a remote
``origin``, a directory ``src/`` with ``src/app.py``, a file ``README.md``,
protected branches ``main`` and ``master``.

:func:`judge` parses a whole command and evaluates every step before anything
runs: one refused step refuses the command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentdock.gitgate import checks
from agentdock.gitgate.commands import ACTIONS, COMMANDS, REFUSED_COMMANDS
from agentdock.gitgate.errors import Refused
from agentdock.gitgate.facts import RepoFacts
from agentdock.gitgate.invocation import Invocation, parse_invocation
from agentdock.gitgate.lexer import split_chain
from agentdock.gitgate.options import Arity, CommandSpec
from agentdock.gitgate.scope import narrow, scope_of

__all__ = ["RULES", "Rule", "allow_lists", "check_invocation", "explain", "judge"]

Check = Callable[[Invocation, RepoFacts], str | None]


@dataclass(frozen=True)
class Rule:
    name: str
    summary: str
    check: Check | None
    refuses: tuple[str, ...]
    allows: tuple[str, ...] = ()
    #: "parse" rules are enforced while reading the command; "policy" rules on the parsed invocation
    stage: str = "policy"


# --- the table ------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        "syntax",
        "the command must be well-formed: balanced quotes, no empty steps, within size limits",
        None,
        ("commit -m 'unbalanced", "status && && log", "&& status"),
        ("status",),
        stage="parse",
    ),
    Rule(
        "shell-syntax",
        "only '&&' joins steps; pipes, ';', '||', '&', redirections, substitutions, "
        "globs, braces, '~' and comments outside quotes are refused",
        None,
        (
            "status; rm -rf /",
            "log | head",
            "status || true",
            "status > out",
            "log $(whoami)",
            "add *.py",
            "status &",
        ),
        ("add '*.py'", "commit -m 'a; b | c && d'"),
        stage="parse",
    ),
    Rule(
        "control-character",
        "no control characters (NUL, escape, bidirectional overrides)",
        None,
        ("status\x1b[2J", "commit -m 'a\u202eb'"),
        ("commit -m 'tab\there'",),
        stage="parse",
    ),
    Rule(
        "environment",
        "no leading VAR=value assignments: git runs with a fixed environment",
        None,
        ("GIT_DIR=/tmp git status", "GIT_SSH_COMMAND=sh git push"),
        ("status",),
        stage="parse",
    ),
    Rule(
        "global-option",
        "git global options that pick another repository, program or pager are refused",
        checks.global_option,
        (
            "--git-dir=/tmp/x status",
            "--work-tree=/ status",
            "--exec-path=/tmp log",
            "--namespace=x push origin main",
            "-p log",
            "--bare status",
        ),
        ("--no-pager log -1", "-P log -1", "--literal-pathspecs status"),
    ),
    Rule(
        "config-override",
        "no -c or --config-env: git runs with the configuration (and the identity) agentdock gives it",
        checks.config_override,
        (
            "-c core.hooksPath=/tmp status",
            "-c alias.status=!sh status",
            "-c core.sshCommand=sh push origin main",
            "--config-env=core.pager=HOME log",
            "-c user.name=claude commit -m x",
            "-c color.ui=never log -1",
        ),
        ("log -1",),
    ),
    Rule(
        "pathspec-magic",
        "pathspec magic is parsed as git parses it; magic git does not know (or 'prefix:') is refused",
        checks.pathspec_magic,
        ("add ':(prefix:0)x'", "log -- ':(nosuch)x'", "add ':-x'"),
        ("add ':(top)src/app.py'", "log -- ':!docs' ':/src'", "add ':(glob)src/*.py'"),
    ),
    Rule(
        "unknown-subcommand",
        "only subcommands the gateway knows run: no aliases, no external git-<name>",
        None,
        ("st", "foo", "ext::sh", "env GIT_DIR=x git status"),
        ("status",),
        stage="parse",
    ),
    Rule(
        "unicode-lookalike",
        "no look-alike or invisible characters in git names, options or refspecs",
        checks.unicode_lookalike,
        ("pu\u0455h origin main", "push origin \u2010\u2010force", "push origin \uff0bmain"),
        ("commit -m 'r\u00e9sum\u00e9 \u2014 done'",),
    ),
    Rule(
        "discard-changes",
        "no checkout/restore of '.', directories or patterns; no checkout -f",
        checks.whole_tree,
        (
            "checkout .",
            "checkout -- .",
            "checkout HEAD -- src",
            "restore .",
            "restore ':/'",
            "restore --source=HEAD~3 -- '*.py'",
            "checkout -f main",
            "restore -W --staged src",
        ),
        ("checkout -- src/app.py", "restore src/app.py", "restore --staged .", "checkout -b feature"),
    ),
    Rule(
        "git-dir",
        "no -C into .git and no pathspec naming .git",
        checks.git_dir,
        ("-C .git status", "add .git/config"),
        ("status",),
    ),
    Rule(
        "outside-project",
        "-C, pathspecs and files named by options stay inside the project root",
        checks.outside_project,
        (
            "-C .. status",
            "-C /tmp status",
            "diff /etc/passwd README.md",
            "commit -F /etc/passwd",
            "log -- ../..",
        ),
        ("status", "log -- src"),
    ),
    Rule(
        "protected-path",
        "no pathspec or file naming a protected zone: .git, .agentdock, QMS, .claude (except the "
        "caller's workspace and its .claude/sessions/<caller>), other agents' folders, submodules, --protect; "
        "readers may name QMS and .claude; broad writers (add ., add -A, commit -a, stash, "
        "grep --untracked, clean -n) get ':(top,exclude,literal)<zone>' appended, others are refused",
        checks.protected_path,
        (
            "-C vendor/lib status",
            "add vendor/lib",
            "checkout -- vendor/lib/x.c",
            "rm -r vendor",
            "add ':(top)vendor/lib'",
            "rm 'vendor/*'",
            "add -f .agentdock/tokens.json",
            "add QMS/SOP-001.md",
            "checkout -- QMS/.audit/log",
            "restore QMS/SOP-001.md",
            "rm --cached .claude/agents/qa.md",
            "mv src/app.py QMS/app.py",
            "add .claude/users/claude/inbox/task.md",
            "rm -r .",
            "log -- .agentdock",
            "grep -e token -- .claude/users/qa",
            "add .claude/sessions/qa/notes.md",
        ),
        (
            "add src/app.py",
            "add .",
            "add 'src/*.py'",
            "add -A -- . ':!vendor/lib'",
            "add -A",
            "commit -a -m x",
            "stash -u",
            "grep --untracked -e x",
            "commit -m x -- QMS",
            "log -p -- QMS",
            "add .claude/sessions/claude/notes.md",
            "add .claude/users/claude/workspace/x",
        ),
    ),
    Rule(
        "pathspec-icase",
        "no icase pathspec magic (or --icase-pathspecs) for steps that change the working tree or index",
        checks.pathspec_icase,
        ("--icase-pathspecs add src/APP.py", "restore ':(icase)SRC/app.py'"),
        ("log -- ':(icase)SRC'",),
    ),
    Rule(
        "force-push",
        "no force pushes in any spelling",
        checks.force_push,
        (
            "push -f origin main",
            "push --force",
            "push --forc origin main",
            "push origin +main",
            "push --force-with-lease",
            "push --force-if-includes",
            "push --mirror origin",
            "push -uf origin x",
        ),
        ("push origin main", "push -u origin HEAD", "push --no-force-with-lease origin main"),
    ),
    Rule(
        "remote-delete",
        "no deleting protected branches on a remote, no push --prune",
        checks.remote_delete,
        (
            "push origin :main",
            "push origin --delete main",
            "push -d origin refs/heads/master",
            "push --prune origin",
        ),
        ("push origin --delete feature", "push origin :feature"),
    ),
    Rule(
        "remote-program",
        "no --receive-pack/--exec/--upload-pack",
        checks.remote_program,
        ("push --receive-pack=/tmp/x origin main", "fetch --upload-pack=touch origin"),
        ("fetch origin",),
    ),
    Rule(
        "remote-repository",
        "push/fetch/pull/ls-remote only name configured remotes",
        checks.remote_repository,
        (
            "push /tmp/evil main",
            "fetch ext::sh",
            "pull https://example.invalid/x main",
            "push --repo=../x main",
        ),
        ("push origin main", "pull --rebase origin main", "fetch"),
    ),
    Rule(
        "force-fetch",
        "fetch/pull may not overwrite local branches",
        checks.force_fetch,
        ("fetch -f origin main:main", "fetch origin +main:main", "pull --force origin main"),
        ("fetch origin main", "fetch --prune origin"),
    ),
    Rule(
        "reset-destructive",
        "reset --hard and --merge discard uncommitted work",
        checks.reset,
        ("reset --hard", "reset --hard HEAD~1", "reset --har", "reset --merge"),
        ("reset HEAD~1", "reset --soft HEAD~1", "reset --keep HEAD~1", "reset -- src/app.py"),
    ),
    Rule(
        "clean-force",
        "clean runs only as a dry run",
        checks.clean,
        (
            "clean -f",
            "clean -fdx",
            "clean -d -f",
            "clean --forc",
            "clean -xdff",
            "clean -d",
            "clean -n --no-dry-run",
        ),
        ("clean -n", "clean --dry-run -d"),
    ),
    Rule(
        "switch-force",
        "no switch --force / --discard-changes",
        checks.switch_force,
        ("switch -f main", "switch --discard-changes main"),
        ("switch main", "switch -c feature"),
    ),
    Rule(
        "branch-force",
        "no branch -D/-M/-C/--force, checkout -B, switch -C",
        checks.branch_force,
        (
            "branch -D feature",
            "branch -d -f feature",
            "branch --delete --force feature",
            "branch -df x",
            "branch -f main HEAD~1",
            "branch -M main",
            "checkout -B main",
            "switch -C main",
        ),
        ("branch feature", "branch -d feature", "branch -m old new", "branch -a"),
    ),
    Rule(
        "tag-force",
        "no tag --force",
        checks.tag_force,
        ("tag -f v1", "tag --force v1 HEAD~1"),
        ("tag v1", "tag -d v1", "tag -l"),
    ),
    Rule(
        "history-rewrite",
        "no filter-branch / filter-repo",
        None,
        ("filter-branch --tree-filter 'rm x' HEAD", "filter-repo --force"),
        (),
        stage="parse",
    ),
    Rule(
        "ref-rewrite",
        "no update-ref at all; symbolic-ref only reads",
        checks.ref_rewrite,
        (
            "update-ref -d refs/heads/x",
            "update-ref refs/agentdock/mark HEAD",
            "symbolic-ref -d HEAD",
            "symbolic-ref refs/heads/main refs/heads/feature",
            "symbolic-ref -m x HEAD refs/heads/feature",
        ),
        ("symbolic-ref HEAD", "symbolic-ref --short HEAD"),
    ),
    Rule(
        "reflog-expire",
        "only 'reflog [show]': no reflog expire / delete",
        checks.reflog_expire,
        ("reflog expire --expire=now --all", "reflog delete HEAD@{1}"),
        ("reflog", "reflog show -5", "reflog HEAD"),
    ),
    Rule(
        "gc-prune",
        "no gc --prune=<date>",
        checks.gc_prune,
        ("gc --prune=now", "gc --prune=all", "gc --pru=now"),
        ("gc", "gc --auto"),
    ),
    Rule(
        "config-write",
        "config may only read",
        checks.config_write,
        (
            "config user.name x",
            "config --unset user.name",
            "config --add a.b c",
            "config -e",
            "config --global core.editor vim",
        ),
        ("config --get user.name", "config -l", "config user.name"),
    ),
    Rule(
        "remote-write",
        "no remote add/rename/remove/set-*",
        checks.remote_write,
        ("remote add evil /tmp/x", "remote set-url origin /tmp/x", "remote rm origin", "remote prune origin"),
        ("remote -v", "remote show origin", "remote get-url origin"),
    ),
    Rule(
        "submodule",
        "no submodule operations (only 'submodule status'); no --recurse-submodules",
        checks.submodule,
        (
            "submodule update --init",
            "submodule foreach 'rm -rf .'",
            "submodule deinit -f .",
            "checkout --recurse-submodules main",
            "push --recurse-submodules=on-demand origin main",
        ),
        ("submodule status", "submodule", "push --recurse-submodules=check origin main"),
    ),
    Rule(
        "worktree",
        "only 'worktree list'",
        checks.worktree,
        ("worktree add /tmp/x", "worktree remove x"),
        ("worktree list",),
    ),
    Rule(
        "runs-program",
        "no options that run programs: rebase --exec, grep -O, non-builtin merge strategies",
        checks.runs_program,
        ("rebase --exec 'sh' HEAD~2", "rebase -x make HEAD~1", "grep -Ovim x", "merge -s evil feature"),
        ("rebase origin/main", "merge -s ort feature"),
    ),
    Rule(
        "output-file",
        "no --output (diff/log write files)",
        checks.output_file,
        ("diff --output=out.txt", "log --outp=x.txt -p"),
        ("diff --stat",),
    ),
    Rule(
        "no-index",
        "no diff/grep --no-index (reads files outside the repository)",
        checks.no_index,
        ("diff --no-index a b", "grep --no-index x"),
        ("grep -n main -- src",),
    ),
    Rule(
        "pathspec-from-file",
        "pathspecs must be on the command line",
        checks.pathspec_file,
        ("add --pathspec-from-file=list.txt", "commit --pathspec-from-file=- -m x"),
        (),
    ),
    Rule(
        "stash-destructive",
        "only stash push/list/show/pop/apply: no clear, drop (repeated, it is clear), save, store, "
        "create, branch; no --all; pop/apply/show take only stash@{N}",
        checks.stash,
        (
            "stash clear",
            "stash drop",
            "stash drop stash@{0}",
            "stash -a",
            "stash push --all",
            "stash save x",
            "stash apply HEAD~1",
            "stash store HEAD",
        ),
        ("stash", "stash pop", "stash -u", "stash list", "stash show -p stash@{0}", "stash apply 0"),
    ),
    Rule(
        "overwrite",
        "no rm --force / mv --force",
        checks.overwrite,
        ("rm -f src/app.py", "mv -f a b"),
        ("rm --cached src/app.py", "mv src/app.py src/main.py"),
    ),
    Rule(
        "help-viewer",
        "no --help (it starts a manual viewer or browser on the host)",
        checks.help_viewer,
        ("log --help", "commit --he"),
        ("log -h",),
    ),
    Rule(
        "change-directory",
        "no -C: git runs at the project root (a folder an agent can swap cannot move it elsewhere)",
        checks.change_directory,
        ("-C src status", "-C src log -1 -- app.py"),
        ("log -1 -- src/app.py",),
    ),
    Rule(
        "unknown-action",
        "a sub-command (stash, remote, submodule, worktree, reflog) not on its allow-list",
        checks.unknown_action,
        (),
        ("stash list", "remote -v", "submodule status", "worktree list"),
    ),
    Rule(
        "unknown-option",
        "default-deny: an option not on the subcommand's allow-list (git-mcp --explain-policy) is refused",
        checks.unknown_option,
        (
            "push --frobnicate origin main",
            "commit -Q -m x",
            "shortlog --output=x HEAD",
            "blame --output=x README.md",
            "grep --no-exclude-standard -e x",
            "log --ext-diff -p",
            "blame --contents README.md README.md",
            "commit --author='claude <c@x>' -m x",
            "status --no-show-stash",
        ),
        ("push -u origin HEAD", "log --oneline --no-merges", "commit --no-edit --amend"),
    ),
    Rule(
        "symlink",
        "at execution: every path git will open is walked with lstat; a link below the root refuses the step",
        None,
        (),
        (),
        stage="exec",
    ),
    Rule(
        "option-file",
        "at execution: a file named by -F is read by the gateway (O_NOFOLLOW, regular, one link, "
        "bounded) and handed to git as -m",
        None,
        (),
        (),
        stage="exec",
    ),
    Rule(
        "agent-writable",
        "at execution: no mv or rm (without --cached) in folders agents write from their containers",
        None,
        (),
        (),
        stage="exec",
    ),
)

_BY_NAME = {rule.name: rule for rule in RULES}


def check_invocation(inv: Invocation, facts: RepoFacts) -> None:
    """Raise :class:`Refused` naming the first rule the invocation breaks."""
    for rule in RULES:
        if rule.check is None:
            continue
        reason = rule.check(inv, facts)
        if reason is not None:
            raise Refused(rule.name, reason)


def judge(command: str, facts: RepoFacts) -> list[Invocation]:
    """Parse ``command`` and check every step; the invocations to run (narrowed), or Refused.

    The returned invocations carry the gateway's own exclusions (:func:`~agentdock.gitgate.scope.narrow`);
    the paths they name are walked again right before each runs (:mod:`agentdock.gitgate.guard`).
    """
    steps = split_chain(command)
    invocations: list[Invocation] = []
    for number, words in enumerate(steps, 1):
        try:
            inv = parse_invocation(words)
            check_invocation(inv, facts)
            scope = scope_of(inv, facts)
            if scope.excludes and inv.has_global("--literal-pathspecs"):
                raise Refused(
                    "protected-path",
                    "--literal-pathspecs would make git read the gateway's exclusions as file names",
                )
            inv = narrow(inv, scope)
        except Refused as exc:
            raise Refused(exc.rule, exc.reason, step=number if len(steps) > 1 else None) from None
        invocations.append(inv)
    return invocations


def explain(rules: Sequence[Rule] = RULES) -> str:
    """The rule table and the allow-lists as text (``git-mcp --explain-policy``)."""
    lines = ["git-mcp policy: every command is parsed, then each step is checked against these rules.", ""]
    for rule in rules:
        lines.append(f"{rule.name}  [{rule.stage}]")
        lines.append(f"    {rule.summary}")
        for example in rule.refuses:
            lines.append(f"    refuses:  {example!r}")
        for example in rule.allows:
            lines.append(f"    allows:   {example!r}")
        lines.append("")
    lines += allow_lists()
    return "\n".join(lines)


def _spelled(spec: CommandSpec) -> str:
    names: list[str] = []
    for opt in spec.options:
        if not opt.allowed:
            continue
        value = {Arity.NONE: "", Arity.REQUIRED: "=<v>", Arity.OPTIONAL: "[=<v>]"}[opt.arity]
        if not opt.longs:
            value = {Arity.NONE: "", Arity.REQUIRED: " <v>", Arity.OPTIONAL: "[<v>]"}[opt.arity]
        first = f"--{'[no-]' if opt.negatable else ''}{opt.longs[0]}" if opt.longs else f"-{opt.shorts[0]}"
        short = "".join(f"-{s}|" for s in opt.shorts) if opt.longs else ""
        names.append(short + first + value)
    return " ".join(names) or "(no options)"


def allow_lists() -> list[str]:
    """Every subcommand (and sub-action) the gateway runs, with the options it lets through."""
    lines = [
        "allow-lists: a subcommand, action or option not listed here is refused "
        "(abbreviations too: spell options in full).",
        "",
    ]
    for name, spec in sorted(COMMANDS.items()):
        table = ACTIONS.get(name)
        if table is None:
            lines.append(f"git {name}: {_spelled(spec)}")
            continue
        for action, sub in table.allowed.items():
            shown = "" if action == table.default and name in ("remote",) else f" {action}"
            lines.append(f"git {name}{shown}: {_spelled(sub)}")
    lines.append("")
    lines.append(
        "refused outright: " + ", ".join(f"git {n} [{r}]" for n, (r, _) in sorted(REFUSED_COMMANDS.items()))
    )
    return lines
