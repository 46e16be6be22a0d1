"""The checks behind the policy's rules: each takes a parsed invocation and the repository facts
and returns why the invocation is refused, or None.

They are plain functions so the rule table in ``policy.py`` reads as data.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from agentdock.gitgate.facts import RepoFacts
from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.pathspec import within
from agentdock.gitgate.scope import scope_of
from agentdock.gitgate.views import (
    location,
    matches_branch,
    pathspecs,
    push_target,
    refspec,
    resolve_file,
    settled_realpath,
)

# --- global options -----------------------------------------------------------------------------

_ESCAPING_GLOBALS = (
    "--git-dir",
    "--work-tree",
    "--bare",
    "--namespace",
    "--super-prefix",
    "--shallow-file",
    "--attr-source",
    "--exec-path",
    "--list-cmds",
    "-p",
    "--paginate",
    "--html-path",
    "--man-path",
    "--info-path",
    "-h",
    "--help",
)


def global_option(inv: Invocation, facts: RepoFacts) -> str | None:
    for name, value in inv.globals:
        if name in _ESCAPING_GLOBALS:
            shown = f"{name}={value}" if value is not None else name
            return f"global option {shown} would change which repository or program git uses"
    return None


def config_override(inv: Invocation, facts: RepoFacts) -> str | None:
    for name, value in inv.globals:
        if name == "--config-env":
            return f"--config-env={value} sets configuration from the environment"
        if name == "-c":
            key = (value or "").partition("=")[0]
            return (
                f"-c {key} overrides the configuration agentdock gives git (identity, hooks, "
                "programs); no -c is accepted"
            )
    return None


def git_dir(inv: Invocation, facts: RepoFacts) -> str | None:
    loc = location(inv, facts)
    for spec in pathspecs(inv, facts):
        if spec.path is not None and (spec.path == ".git" or spec.path.startswith(".git/")):
            return f"pathspec {spec.raw!r} names the repository's .git directory"
    if loc.lexical is not None and (loc.lexical == ".git" or loc.lexical.startswith(".git/")):
        return "-C into the .git directory would make git treat it as the repository"
    real = loc.real
    git_dir = facts.root / ".git"
    if real == git_dir or git_dir in real.parents:
        return "-C into the .git directory would make git treat it as the repository"
    return None


def _inside(real: str, root: Path) -> bool:
    path = Path(real)
    return path == root or root in path.parents


def outside_project(inv: Invocation, facts: RepoFacts) -> str | None:
    loc = location(inv, facts)
    if loc.lexical is None or not (loc.real == facts.root or facts.root in loc.real.parents):
        return f"-C leads to {loc.real}, outside the project root"
    for spec in pathspecs(inv, facts):
        if spec.path is None:
            return f"pathspec {spec.raw!r} is outside the project root"
        if not spec.wildcard and not _inside(settled_realpath(facts.root / spec.path), facts.root):
            return f"pathspec {spec.raw!r} leads outside the project root through a symbolic link"
    for use in inv.args.uses:
        if (
            use.is_file
            and use.value not in (None, "-")
            and resolve_file(use.value or "", inv, facts).path is None
        ):
            return f"{use.spelled} names {use.value!r}, outside the project root"
    return None


def protected_path(inv: Invocation, facts: RepoFacts) -> str | None:
    loc = location(inv, facts)
    if loc.lexical is not None:
        for entry in facts.protected:
            fold = facts.case_insensitive
            if (
                loc.lexical
                and within(loc.lexical, entry.path, fold=fold)
                and not any(within(loc.lexical, h, fold=fold) for h in entry.holes)
            ):
                return f"-C leads into the {entry.describe()}"
    scope = scope_of(inv, facts)
    if scope.refusal is not None:
        return scope.refusal
    for use in inv.args.uses:
        if use.is_file and use.value not in (None, "-"):
            target = resolve_file(use.value or "", inv, facts)
            if target.path is None:
                continue
            for entry in facts.protected:
                if within(target.path, entry.path, fold=facts.case_insensitive) and not any(
                    within(target.path, h, fold=facts.case_insensitive) for h in entry.holes
                ):
                    return f"file {use.value!r} is inside the {entry.describe()}"
    return None


def pathspec_magic(inv: Invocation, facts: RepoFacts) -> str | None:
    """Parsing the pathspecs raises ``pathspec-magic`` for magic git would not accept."""
    pathspecs(inv, facts)
    return None


def pathspec_icase(inv: Invocation, facts: RepoFacts) -> str | None:
    """``icase`` magic would let git match a zone under a spelling the checks do not compare."""
    if not (inv.spec.writes or (inv.command == "grep" and inv.args.has("untracked"))):
        return None
    if inv.has_global("--icase-pathspecs"):
        return f"--icase-pathspecs with git {inv.command}, which changes the working tree or index"
    for spec in pathspecs(inv, facts):
        if spec.icase and not spec.exclude:
            return (
                f"pathspec {spec.raw!r} has icase magic; git {inv.command} changes the working tree or index"
            )
    return None


# --- remotes --------------------------------------------------------------------------------------


def force_push(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command != "push":
        return None
    use = inv.args.first("force", "force-with-lease", "force-if-includes", "mirror")
    if use is not None:
        return f"{use.spelled} is a force push (means --{use.key})"
    for raw in push_target(inv)[1]:
        if refspec(raw).force:
            return f"refspec {raw!r} starts with '+', which forces the update"
    return None


def remote_delete(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command != "push":
        return None
    if inv.args.has("prune"):
        return f"{inv.args.spelled('prune')} deletes remote branches that have no local counterpart"
    repos, refs = push_target(inv)
    deleting = inv.args.has("delete")
    if "." in repos and (deleting or any(refspec(r).deletes for r in refs)):
        return "deleting a local branch with push to '.' skips the merge check; use 'git branch -d'"
    for raw in refs:
        spec = refspec(raw)
        target = spec.src if deleting else (spec.dst if spec.deletes else None)
        if target and (pattern := matches_branch(target, facts)):
            return f"deleting the protected branch {target!r} (protected: {pattern})"
    return None


def remote_program(inv: Invocation, facts: RepoFacts) -> str | None:
    use = inv.args.first("receive-pack", "exec", "upload-pack")
    if use is not None and inv.command in ("push", "fetch", "pull", "ls-remote"):
        return f"{use.spelled} runs a program of the caller's choosing"
    return None


def remote_repository(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command not in ("push", "fetch", "pull", "ls-remote"):
        return None
    for repo in push_target(inv)[0]:
        if repo != "." and repo not in facts.remotes:
            known = ", ".join(sorted(facts.remotes)) or "none"
            return f"{repo!r} is not a configured remote (configured: {known}); URLs and paths are refused"
    return None


def force_fetch(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command not in ("fetch", "pull"):
        return None
    if inv.args.has("force"):
        return f"{inv.args.spelled('force')} lets fetch overwrite local branches"
    for raw in [*push_target(inv)[1], *inv.args.values("refmap")]:
        if refspec(raw).force:
            return f"refspec {raw!r} starts with '+', which overwrites a local branch"
    return None


# --- local history and working tree ---------------------------------------------------------------


def reset(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "reset" and (use := inv.args.first("hard", "merge")):
        return f"reset {use.spelled} discards uncommitted changes (use --soft, --mixed or --keep)"
    return None


def clean(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command != "clean":
        return None
    if inv.args.has("force", "interactive"):
        return f"clean {inv.args.spelled('force', 'interactive')} deletes untracked files"
    if inv.args.last_state("dry-run") is not True:
        return "clean deletes untracked files unless -n/--dry-run is given (repository config may allow it)"
    return None


def whole_tree(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command not in ("checkout", "restore"):
        return None
    if inv.args.has("pathspec-from-file"):
        return "--pathspec-from-file hides which paths would be overwritten"
    if inv.command == "restore" and inv.args.has("staged") and not inv.args.has("worktree"):
        return None
    if inv.command == "checkout" and (use := inv.args.first("force")):
        return f"checkout {use.spelled} throws away local changes"
    specs = pathspecs(inv, facts)
    if inv.command == "checkout" and inv.args.dashdash is not None:
        specs = specs[inv.args.dashdash :]
    if specs and all(spec.exclude for spec in specs):
        return (
            f"{inv.command} with only exclusions ({specs[0].raw!r}) means the whole tree except them; "
            "name files one by one"
        )
    for spec in specs:
        if spec.path is None:
            continue
        if spec.wildcard or spec.path == "" or (facts.root / spec.path).is_dir():
            what = "a pattern" if spec.wildcard else "a whole directory tree"
            return (
                f"{inv.command} of {spec.raw!r} ({what}) would overwrite uncommitted work; "
                "name files one by one (use 'git switch' to change branches)"
            )
    return None


def switch_force(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "switch" and (use := inv.args.first("force", "discard-changes")):
        return f"switch {use.spelled} throws away local changes"
    return None


def branch_force(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "branch":
        if use := inv.args.first("D", "M", "C"):
            return f"branch {use.spelled} deletes or overwrites a branch regardless of merge state"
        if use := inv.args.first("force"):
            return f"branch {use.spelled} moves or deletes a branch regardless of its state"
    if inv.command == "checkout" and (use := inv.args.first("B")):
        return f"checkout {use.spelled} resets an existing branch"
    if inv.command == "switch" and (use := inv.args.first("force-create")):
        return f"switch {use.spelled} resets an existing branch"
    return None


def tag_force(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "tag" and (use := inv.args.first("force")):
        return f"tag {use.spelled} replaces an existing tag"
    return None


def ref_rewrite(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command != "symbolic-ref":
        return None
    if use := inv.args.first("delete", "m"):
        return f"symbolic-ref {use.spelled} changes or deletes a symbolic reference"
    if len(inv.args.positionals) > 1:
        return "symbolic-ref with a target points a reference somewhere else; only reading is run"
    return None


def reflog_expire(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "reflog" and not inv.action_listed:
        return f"reflog {inv.action} is not run (only 'reflog show'): it can destroy the safety net"
    return None


def gc_prune(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "gc":
        for use in inv.args.uses:
            if use.key == "prune" and not use.negated and use.value is not None:
                return f"gc {use.spelled} deletes unreachable objects early (plain 'git gc' keeps two weeks)"
    return None


_CONFIG_READS = ("get", "get-all", "get-regexp", "get-urlmatch", "list", "get-color", "get-colorbool")
_CONFIG_WRITES = ("replace-all", "add", "unset", "unset-all", "rename-section", "remove-section", "edit")


def config_write(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command != "config":
        return None
    if use := inv.args.first(*_CONFIG_WRITES):
        return f"config {use.spelled} changes configuration"
    words = inv.args.positionals
    if words and words[0] in ("set", "unset", "rename-section", "remove-section", "edit"):
        return f"config {words[0]} changes configuration"
    if inv.args.has(*_CONFIG_READS) or (words and words[0] in ("get", "list")) or len(words) <= 1:
        return None
    return "config with a name and a value writes configuration"


_REMOTE_WRITES = ("add", "rename", "remove", "rm", "set-head", "set-branches", "set-url")


def remote_write(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "remote" and not inv.action_listed:
        verb = "changes the configured remotes" if inv.action in _REMOTE_WRITES else "is not run"
        return f"remote {inv.action} {verb} (allowed: remote [-v], remote show, remote get-url)"
    return None


def submodule(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "submodule" and not inv.action_listed:
        return f"submodule {inv.action} changes submodules (only 'submodule status' is run)"
    for use in inv.args.uses:
        value = (use.value or "").lower()
        if (
            use.key == "recurse-submodules"
            and not use.negated
            and value not in ("no", "false", "off", "check")
        ):
            return f"{use.spelled} acts inside submodules"
    return None


def worktree(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "worktree" and not inv.action_listed:
        return "worktree commands other than 'worktree list' create or remove checkouts"
    return None


_BUILTIN_STRATEGIES = ("ort", "recursive", "resolve", "octopus", "ours", "subtree")


def runs_program(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "rebase" and (use := inv.args.first("exec")):
        return f"rebase {use.spelled} runs shell commands"
    if inv.command == "grep" and (use := inv.args.first("open-files-in-pager")):
        return f"grep {use.spelled} runs a pager program"
    for value in inv.args.values("strategy"):
        if value not in _BUILTIN_STRATEGIES:
            return f"merge strategy {value!r} is not built in; git would run git-merge-{value}"
    return None


def output_file(inv: Invocation, facts: RepoFacts) -> str | None:
    if use := inv.args.first("output"):
        return f"{use.spelled} writes a file"
    return None


def no_index(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command in ("diff", "grep") and (use := inv.args.first("no-index")):
        return f"{inv.command} {use.spelled} reads files outside the repository"
    return None


def pathspec_file(inv: Invocation, facts: RepoFacts) -> str | None:
    if use := inv.args.first("pathspec-from-file"):
        return f"{use.spelled} hides the pathspecs from the policy; name paths on the command line"
    return None


_STASH_REF = re.compile(r"^(stash@\{[0-9]+\}|[0-9]+)$")
_STASH_WHY = {
    "clear": "stash clear drops every stash",
    "drop": "stash drop throws a stash away (repeated, it is stash clear); 'stash pop' applies and drops",
    "save": "stash save cannot be limited to paths; use 'stash push'",
    "store": "stash store records any commit as a stash",
    "create": "stash create is plumbing; use 'stash push'",
    "branch": "stash branch is not run; use 'switch -c' and 'stash pop'",
}


def stash(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command != "stash":
        return None
    if not inv.action_listed:
        return _STASH_WHY.get(inv.action or "", f"stash {inv.action} is not a stash action the gateway runs")
    if use := inv.args.first("all"):
        return f"stash {use.spelled} also stashes (removes) ignored files such as private state"
    if inv.action in ("pop", "apply", "show"):
        for word in inv.args.positionals:
            if not _STASH_REF.match(word):
                return f"stash {inv.action} takes a stash (stash@{{N}} or N), not {word!r}"
    return None


def overwrite(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command in ("rm", "mv") and (use := inv.args.first("force")):
        what = (
            "removes files with uncommitted changes" if inv.command == "rm" else "overwrites the destination"
        )
        return f"{inv.command} {use.spelled} {what}"
    return None


def help_viewer(inv: Invocation, facts: RepoFacts) -> str | None:
    if use := inv.args.first("help"):
        return f"{use.spelled} opens a manual viewer or browser on the host; use -h"
    return None


_DASHES = {"\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\ufe58", "\ufe63", "\uff0d"}
_PLUSES = {"\ufb29", "\ufe62", "\uff0b", "\u2795"}


def _lookalike(word: str) -> bool:
    if word.isascii():
        return False
    if word[0] in _DASHES or word[0] in _PLUSES:
        return True
    if any(unicodedata.category(c) in ("Cf", "Zs", "Zl", "Zp") for c in word):
        return True
    normal = unicodedata.normalize("NFKC", word)
    return normal != word and normal[:1] in ("-", "+", ":", "^")


def unicode_lookalike(inv: Invocation, facts: RepoFacts) -> str | None:
    for use in inv.args.uses:
        if not use.spelled.isascii():
            return f"option {use.spelled!r} contains non-ASCII characters"
    for word in inv.args.positionals:
        if _lookalike(word):
            return f"argument {word!r} uses invisible or look-alike characters (of '-', '+', ':')"
    return None


# --- the allow-list itself (last, so a more specific rule names an attack first) ---------------


def change_directory(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.has_global("-C"):
        return "-C is not accepted: git runs at the project root; name paths from there"
    return None


def unknown_action(inv: Invocation, facts: RepoFacts) -> str | None:
    if not inv.action_listed:
        return f"'git {inv.command} {inv.action}' is not an action the gateway runs"
    return None


def unknown_option(inv: Invocation, facts: RepoFacts) -> str | None:
    use = inv.args.unknown()
    if use is None:
        return None
    name = inv.command if inv.action is None or not inv.action_listed else f"{inv.command} {inv.action}"
    return (
        f"{use.spelled!r} is not on the allow-list of 'git {name}' "
        "(git-mcp --explain-policy lists the options each command accepts)"
    )
