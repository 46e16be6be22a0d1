"""Property-based: command lines generated from the gateway's own grammar, plus random options, paths
and pathspec magic, run through the real gateway against the hostile world.

After every command the gateway lets run, the invariants hold:

* no untracked protected zone changed (``.agentdock``, other agents' folders, the caller's container,
  ``.git/config``/``hooks``/``info``), nothing outside the project root changed, the remote's
  configuration and hooks did not change;
* the tracked zones (``QMS/``, ``.claude/agents``) have no change in the working tree or index
  relative to ``HEAD``: git only ever moves them between committed states;
* no planted credential appears in any output, in the index, in any commit or on the remote.

Example counts are small and fixed (``AGENTDOCK_HYPOTHESIS_EXAMPLES``, default 80) and the run is
derandomized, so CI sees the same examples every time and the module stays well under a minute.
"""

from __future__ import annotations

import os
import shlex

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentdock.gitgate.commands import ACTIONS, COMMANDS
from agentdock.gitgate.options import Arity, Option

from .conftest import SECRETS, World, leaked, snapshot
from .test_symlinks import LINKS, WS

EXAMPLES = int(os.environ.get("AGENTDOCK_HYPOTHESIS_EXAMPLES", "80"))
#: (command, ran?) of every example, so the last test can show the property was not vacuous
SEEN: list[tuple[str, bool]] = []

#: every (command words, spec) the gateway can run
TARGETS = [((name,), spec) for name, spec in COMMANDS.items() if name not in ACTIONS] + [
    ((parent, action), spec) for parent, table in ACTIONS.items() for action, spec in table.allowed.items()
]
UNLISTED = [
    "--output=x.txt",
    "--no-index",
    "--ext-diff",
    "--textconv",
    "--contents=README.md",
    "--exec=sh",
    "--upload-pack=sh",
    "--no-exclude-standard",
    "--recurse-submodules",
    "--open-files-in-pager",
    "--ignored",
    "--force",
    "-f",
    "--all",
    "--git-path=config",
    "--file=.git/config",
    "--template=x",
    "--pathspec-from-file=x",
    "--author=claude <c@x>",
    "--no-verify",
    "--hard",
]
PATHS = [
    "README.md",
    "src/app.py",
    "src",
    ".",
    "docs",
    "QMS",
    "QMS/SOP-001.md",
    "QMS/.audit/trail.jsonl",
    "QMS/.meta",
    "QMS/.archive/SOP-001/v1.md",
    "qms",
    ".claude",
    ".claude/agents/qa.md",
    ".claude/sessions/claude/notes.md",
    ".claude/sessions/claude",
    ".claude/users/qa",
    ".claude/users/qa/workspace/work.txt",
    ".claude/users/claude/container/.agentdock-token",
    ".agentdock",
    ".agentdock/overlays/qa/mcp.json",
    ".git",
    ".git/config",
    ".git/hooks/pre-commit",
    "vendor/lib",
    "vendor",
    "../outside/host-secret.txt",
    "*",
    "*.md",
    "Q*",
    ".claude/*",
    "HEAD",
    "HEAD~1",
    "main",
    "feature",
    "stash@{0}",
    *(f"{WS}/{name}" for name in LINKS),
    f"{WS}/{'g'}/config",
    f"{WS}/note.md",
]
MAGIC = ["", "", "", ":(top)", ":/", ":!", ":^", ":(icase)", ":(glob)", ":(literal)", ":(exclude,icase)"]
VALUES = ["x", "HEAD", "1", "README.md", "main", f"{WS}/note.md", f"{WS}/tok", "QMS/SOP-001.md"]
GLOBALS = ["", "", "", "--no-pager", "--literal-pathspecs", "--icase-pathspecs", "--glob-pathspecs"]


def _render(option: Option, value: str, short: bool) -> list[str]:
    if short and option.shorts:
        flag = f"-{option.shorts[0]}"
        if option.arity is Arity.NONE:
            return [flag]
        return [flag + value] if option.arity is Arity.OPTIONAL else [flag, value]
    name = f"--{option.longs[0]}" if option.longs else f"-{option.shorts[0]}"
    if option.arity is Arity.NONE:
        return [name]
    return [f"{name}={value}"]


@st.composite
def command_lines(draw: st.DrawFn) -> str:
    words, spec = draw(st.sampled_from(TARGETS))
    argv: list[str] = []
    glob = draw(st.sampled_from(GLOBALS))
    if glob:
        argv.append(glob)
    argv += list(words)
    listed = [o for o in spec.options if o.allowed]
    for option in draw(st.lists(st.sampled_from(listed), max_size=2)) if listed else []:
        argv += _render(option, draw(st.sampled_from(VALUES)), draw(st.booleans()))
    if draw(st.integers(0, 4)) == 0:
        argv.append(draw(st.sampled_from(UNLISTED)))
    paths = [
        draw(st.sampled_from(MAGIC)) + (p.upper() if draw(st.integers(0, 6)) == 0 else p)
        for p in draw(st.lists(st.sampled_from(PATHS), max_size=3))
    ]
    if paths and draw(st.booleans()):
        argv.append("--")
    argv += paths
    return " ".join(shlex.quote(w) for w in argv)


def _plant_links(world: World) -> None:
    for name, target in LINKS.items():
        if not os.path.lexists(world.workspace / name):
            os.symlink(target, world.workspace / name)
    (world.workspace / "note.md").write_text("an ordinary note\n")


def _tracked_zone_changes(world: World) -> str:
    return world.repo.git("status", "--porcelain", "--ignored", "--", "QMS", ".claude/agents")


def _secrets_anywhere(world: World) -> list[str]:
    text = world.repo.git("log", "-p", "--all") + world.repo.git("diff", "--cached")
    text += world.repo.git("log", "-p", "--all", cwd=world.repo.remote)
    return [s for s in SECRETS if s in text]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=command_lines())
def test_allowed_generated_commands_keep_every_invariant(world: World, command: str) -> None:
    _plant_links(world)
    gateway = world.gateway()
    before = snapshot(world, remote_refs=False)
    before.pop("index/zones")
    before.pop("head/zones")
    outcome = anyio.run(gateway.execute, command, "claude")
    SEEN.append((command, outcome.refused is None))
    assert not leaked(outcome), (command, leaked(outcome))
    if outcome.refused is not None:
        after = snapshot(world, remote_refs=False)
        after.pop("index/zones")
        after.pop("head/zones")
        assert after == before, command
        return
    after = snapshot(world, remote_refs=False)
    after.pop("index/zones")
    after.pop("head/zones")
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    # tracked zones may move between committed states (switch, reset, revert…): compared to HEAD below
    changed = [k for k in changed if not k.startswith(("QMS", ".claude/agents"))]
    assert not changed, (command, changed)
    assert _tracked_zone_changes(world) == "", (command, _tracked_zone_changes(world))
    assert not _secrets_anywhere(world), command


def test_the_generator_produces_both_allowed_and_refused_commands(world: World) -> None:
    """The property above is not vacuous: the same strategy yields commands that run."""
    ran = refused = 0
    gateway = world.gateway()
    for command in ("log --oneline -- QMS", "add -A", "grep --untracked -e x -- .", "status -- .agentdock"):
        outcome = anyio.run(gateway.execute, command, "claude")
        ran += outcome.refused is None
        refused += outcome.refused is not None
    assert ran == 3 and refused == 1


def test_the_property_ran_a_fair_share_of_allowed_commands() -> None:
    ran = [c for c, ok in SEEN if ok]
    assert len(SEEN) >= EXAMPLES // 2
    assert len(ran) >= len(SEEN) // 5, (len(ran), len(SEEN), ran)
