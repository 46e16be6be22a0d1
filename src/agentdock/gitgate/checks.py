"""The checks behind the policy's rules: each takes a parsed invocation and the repository facts
and returns why the invocation is refused, or None.

They are plain functions so the rule table in ``policy.py`` reads as data.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from agentdock.gitgate.facts import RepoFacts
from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.pathspec import Pathspec, reaches_protected
from agentdock.gitgate.views import location, matches_branch, pathspecs, push_target, refspec, resolve_file

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
_SAFE_CONFIG_KEYS = (
    "user.name",
    "user.email",
    "core.quotepath",
    "pull.rebase",
    "pull.ff",
    "push.default",
    "merge.conflictstyle",
    "diff.renames",
    "log.decorate",
    "init.defaultbranch",
    "commit.gpgsign",
    "status.short",
    "status.branch",
)
_SAFE_CONFIG_SECTIONS = ("color.", "advice.")


def global_option(inv: Invocation, facts: RepoFacts) -> str | None:
    for name, value in inv.globals:
        if name in _ESCAPING_GLOBALS:
            shown = f"{name}={value}" if value is not None else name
            return f"global option {shown} would change which repository or program git uses"
    return None


def _config_key(assignment: str) -> str:
    key = assignment.partition("=")[0]
    section, dot, rest = key.partition(".")
    if not dot:
        return key.lower()
    sub, dot2, name = rest.rpartition(".")
    return f"{section.lower()}.{sub}.{name.lower()}" if dot2 else f"{section.lower()}.{rest.lower()}"


def config_override(inv: Invocation, facts: RepoFacts) -> str | None:
    for name, value in inv.globals:
        if name == "--config-env":
            return f"--config-env={value} sets configuration from the environment"
        if name == "-c" and value is not None:
            key = _config_key(value)
            if key not in _SAFE_CONFIG_KEYS and not key.startswith(_SAFE_CONFIG_SECTIONS):
                return f"-c {key} may change what git runs or where it writes; allowed -c keys: " + ", ".join(
                    (*_SAFE_CONFIG_KEYS, *(s + "*" for s in _SAFE_CONFIG_SECTIONS))
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
        if not spec.wildcard and not _inside(os.path.realpath(facts.root / spec.path), facts.root):
            return f"pathspec {spec.raw!r} leads outside the project root through a symbolic link"
    for use in inv.args.uses:
        if (
            use.is_file
            and use.value not in (None, "-")
            and resolve_file(use.value or "", inv, facts).path is None
        ):
            return f"{use.spelled} names {use.value!r}, outside the project root"
    return None


_RECURSIVE = {"rm", "mv", "clean"}


def protected_path(inv: Invocation, facts: RepoFacts) -> str | None:
    loc = location(inv, facts)
    if loc.lexical is not None:
        here = resolve_file(".", inv, facts)
        for entry in facts.protected:
            for path in {loc.lexical, here.path or ""}:
                if path and (path == entry.path or path.startswith(entry.path + "/")):
                    return f"-C leads into the {entry.describe()}"
    add_force = inv.command == "add" and inv.args.has("force")
    ancestors = inv.command in _RECURSIVE or add_force
    specs = pathspecs(inv, facts)
    if add_force and not specs and inv.args.has("all"):
        cwd = loc.lexical or ""
        specs = [Pathspec(raw="(all)", path=cwd, magic=frozenset(), wildcard=False, base=cwd)]
    hit = reaches_protected(specs, facts.protected, ancestors=ancestors)
    if hit is not None:
        spec, entry = hit
        how = "contains" if ancestors and entry.path.startswith((spec.path or "") + "/") else "reaches"
        return f"pathspec {spec.raw!r} {how} the {entry.describe()}"
    files = [
        resolve_file(u.value, inv, facts)
        for u in inv.args.uses
        if u.is_file and u.value not in (None, "-")
        if u.value is not None
    ]
    hit = reaches_protected(files, facts.protected)
    if hit is not None:
        return f"file {hit[0].raw!r} is inside the {hit[1].describe()}"
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


def history_rewrite(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command in ("filter-branch", "filter-repo"):
        return f"git {inv.command} rewrites the whole history"
    return None


def ref_rewrite(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command in ("update-ref", "symbolic-ref") and (use := inv.args.first("delete", "stdin")):
        return f"{inv.command} {use.spelled} can delete references"
    if inv.command == "update-ref" and inv.args.positionals:
        ref = inv.args.positionals[0]
        if ref.startswith(("refs/heads/", "refs/tags/", "refs/remotes/")) or ref in ("HEAD", "@"):
            return f"update-ref {ref!r} moves a branch or tag regardless of its history; use branch/tag/merge"
    return None


def reflog_expire(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "reflog":
        for word in inv.args.positionals:
            if word in ("expire", "delete"):
                return f"reflog {word} destroys the safety net for recovering lost commits"
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
    if inv.command == "remote":
        for word in inv.args.positionals:
            if word in _REMOTE_WRITES:
                return f"remote {word} changes the configured remotes"
    return None


def submodule(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command == "submodule":
        words = inv.args.positionals
        if words and words[0] != "status":
            return f"submodule {words[0]} changes submodules (only 'submodule status' is run)"
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
    if inv.command == "worktree":
        words = inv.args.positionals
        if not words or words[0] != "list":
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


def stash(inv: Invocation, facts: RepoFacts) -> str | None:
    if inv.command != "stash":
        return None
    if inv.action == "clear":
        return "stash clear drops every stash"
    if use := inv.args.first("all"):
        return f"stash {use.spelled} also stashes (removes) ignored files such as private state"
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
