"""The kernel's line: a git step the policy wrongly admitted still cannot reach a protected zone.

Every attack here is handed to the executor directly (``_admitted``: the policy never sees it),
as if the allow-list had missed an option.  Each asserts that the attack failed *and* that
nothing changed on disk, and a positive control shows the same write lands where the caller
may write — so a sandbox that stopped binding anything would fail these tests.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from agentdock.gitgate.executor import ChainResult, ExecLimits, build_env, run_chain
from agentdock.gitgate.facts import load_facts
from agentdock.gitgate.gateway import GateConfig, GitGateway
from agentdock.gitgate.hardening import subcommand_index
from agentdock.gitgate.invocation import Invocation, parse_invocation
from agentdock.gitgate.runtime import GitRuntime, probe_sandbox, run_as_for
from agentdock.gitgate.scratch import ScratchRepo, scratch_repository

TOKEN_QA = "adk_qa-secret-token-in-its-container"
TOKEN_OWN = "adk_claude-own-token-in-its-container"
TOKEN_DATA = "adk_per-user-data-dir-token"
TOKEN_STORE = "adk_hashes-in-agentdock-state"


def _sandbox_or_skip(env: dict[str, str]) -> None:
    problem = probe_sandbox(shutil.which("bwrap"), run_as_for(Path("/")), env)
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the git sandbox: {problem}")
        pytest.skip(f"no working git sandbox here: {problem}")


def _admitted(*words: str) -> Invocation:
    """An invocation as if the policy had admitted it: parsed for its subcommand only."""
    return dataclasses.replace(parse_invocation([words[subcommand_index(words)]]), argv=tuple(words))


@dataclasses.dataclass(frozen=True)
class Planted:
    repo: ScratchRepo
    data_token: Path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    with scratch_repository(tmp_path_factory.mktemp("sandbox")) as repo:
        _sandbox_or_skip(repo.env)
        root = repo.root
        (root / ".claude/users/qa/container/.agentdock-token").write_text(TOKEN_QA + "\n")
        (root / ".claude/users/qa/inbox").mkdir(parents=True)
        (root / ".claude/users/claude/container/.agentdock-token").write_text(TOKEN_OWN + "\n")
        (root / ".agentdock").mkdir()
        (root / ".agentdock/tokens.json").write_text(f'{{"qa": "{TOKEN_STORE}"}}\n')
        (root / "QMS").mkdir()
        (root / "QMS/SOP-001.md").write_text("controlled\n")
        data = Path(repo.env["HOME"]) / ".local/share/agentdock/tokens"
        data.mkdir(parents=True)
        (data / "qa").write_text(TOKEN_DATA + "\n")
        yield Planted(repo, data / "qa")


@pytest.fixture
def runtime(planted: Planted) -> Iterator[GitRuntime]:
    root = planted.repo.root.resolve()
    rt = GitRuntime.start(root, root / ".git", build_env(planted.repo.env, root), mode="bwrap")
    try:
        yield rt
    finally:
        rt.close()


def _snapshot(repo: ScratchRepo) -> dict[str, str]:
    """Every file under the project (including .git/config and hooks) and the data dir, with content."""
    seen: dict[str, str] = {}
    for base in (repo.root, Path(repo.env["HOME"])):
        for path in sorted(base.rglob("*")):
            rel = str(path)
            if path.is_symlink():
                seen[rel] = "-> " + os.readlink(path)
            elif path.is_file() and "/.git/objects/" not in rel and not rel.endswith("/.git/index"):
                seen[rel] = path.read_bytes().hex()
            elif path.is_dir():
                seen[rel] = "dir"
    return seen


async def _run(runtime: GitRuntime, *words: str, agent: str = "claude") -> ChainResult:
    with anyio.fail_after(60):
        return await run_chain([_admitted(*words)], runtime, agent, ExecLimits(timeout_s=30))


def _output(result: ChainResult) -> str:
    return "".join(s.stdout + s.stderr for s in result.steps)


WRITES = [
    ".git/hooks/pre-commit",
    ".git/config",
    ".git/info/exclude",
    "QMS/SOP-001.md",
    "QMS/SOP-002.md",
    ".claude/agents/claude.md",
    ".claude/agents/admin.md",
    ".claude/users/qa/inbox/task-forged.md",
    ".claude/users/claude/container/settings.json",
    ".agentdock/tokens.json",
]


@pytest.mark.anyio
@pytest.mark.parametrize("target", WRITES)
async def test_an_admitted_output_option_cannot_write_a_protected_zone(
    planted: Planted, runtime: GitRuntime, target: str
) -> None:
    before = _snapshot(planted.repo)
    result = await _run(runtime, "shortlog", f"--output={target}", "HEAD")
    assert not result.ok, _output(result)
    assert _snapshot(planted.repo) == before


@pytest.mark.anyio
async def test_the_same_write_lands_in_the_callers_own_workspace(
    planted: Planted, runtime: GitRuntime
) -> None:
    """Positive control: the attack above is real, only the zones stop it."""
    target = planted.repo.root / ".claude/users/claude/workspace/shortlog.txt"
    result = await _run(runtime, "shortlog", f"--output={target.relative_to(planted.repo.root)}", "HEAD")
    assert result.ok, _output(result)
    assert "initial" in target.read_text()
    target.unlink()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "words",
    [
        ("config", "core.hooksPath", "/tmp"),
        ("config", "core.fsmonitor", "touch /tmp/pwned"),
        ("config", "--file", ".git/config", "alias.st", "!touch /tmp/pwned"),
        ("remote", "set-url", "origin", "/tmp/elsewhere.git"),
    ],
)
async def test_an_admitted_config_write_leaves_git_config_untouched(
    planted: Planted, runtime: GitRuntime, words: tuple[str, ...]
) -> None:
    config = planted.repo.root / ".git/config"
    before = config.read_bytes()
    result = await _run(runtime, *words)
    assert not result.ok, _output(result)
    assert config.read_bytes() == before
    assert not list((planted.repo.root / ".git").glob("config.lock"))


@pytest.mark.anyio
async def test_a_path_outside_the_project_is_not_there_to_write(
    planted: Planted, runtime: GitRuntime, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    result = await _run(runtime, "shortlog", f"--output={outside}", "HEAD")
    assert not result.ok and not outside.exists()
    result = await _run(runtime, "shortlog", "--output=/tmp/agentdock-sandbox-probe.txt", "HEAD")
    assert result.ok, _output(result)  # the sandbox's own /tmp: private, gone with the step
    assert not Path("/tmp/agentdock-sandbox-probe.txt").exists()


def _reads(planted: Planted) -> list[tuple[str, ...]]:
    root = planted.repo.root
    files = [
        ".claude/users/qa/container/.agentdock-token",
        ".claude/users/claude/container/.agentdock-token",
        ".agentdock/tokens.json",
        str(planted.data_token),
        str(root / ".claude/users/qa/container/.agentdock-token"),
    ]
    attacks: list[tuple[str, ...]] = []
    for path in files:
        attacks.append(("diff", "--no-index", "--", "/dev/null", path))
        attacks.append(("grep", "--no-index", "-e", "adk_", "--", path))
        attacks.append(("blame", f"--contents={path}", "--", "README.md"))
    attacks.append(("grep", "--no-index", "-r", "-e", "adk_", "--", "."))
    attacks.append(("grep", "--untracked", "--no-exclude-standard", "-e", "adk_"))
    attacks.append(("grep", "--no-index", "-r", "-e", "adk_", "--", str(planted.data_token.parents[3])))
    return attacks


@pytest.mark.anyio
async def test_no_admitted_read_reaches_a_token(planted: Planted, runtime: GitRuntime) -> None:
    leaked: list[str] = []
    for words in _reads(planted):
        text = _output(await _run(runtime, *words))
        for token in (TOKEN_QA, TOKEN_OWN, TOKEN_DATA, TOKEN_STORE):
            if token in text:
                leaked.append(f"{' '.join(words)} -> {token}")
    assert not leaked, "\n".join(leaked)


@pytest.mark.anyio
async def test_the_same_read_works_on_an_ordinary_file(planted: Planted, runtime: GitRuntime) -> None:
    """Positive control for the reads above."""
    result = await _run(runtime, "grep", "--no-index", "-e", "scratch", "--", "README.md")
    assert result.ok and "# scratch" in _output(result)


@pytest.mark.anyio
async def test_a_planted_hook_and_a_repository_fsmonitor_never_run(planted: Planted, tmp_path: Path) -> None:
    repo = planted.repo
    marker = repo.root / ".claude/users/claude/workspace/ran"
    hook = repo.root / ".git/hooks/pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    config = repo.root / ".git/config"
    before = config.read_text()
    config.write_text(before + f"[core]\n\tfsmonitor = touch {marker}\n")
    gateway = GitGateway(GateConfig(root=repo.root, env=build_env(repo.env, repo.root), sandbox="bwrap"))
    try:
        status = await gateway.execute("status", "claude")
        commit = await gateway.execute("commit --allow-empty -m 'no hook ran'", "claude")
        assert status.ok and commit.ok, (status, commit)
        assert not marker.exists()
        assert repo.git("log", "-1", "--format=%s").strip() == "no hook ran"
    finally:
        gateway.close()
        hook.unlink()
        config.write_text(before)


@pytest.mark.anyio
async def test_a_step_without_a_remote_has_no_network(planted: Planted, runtime: GitRuntime) -> None:
    bash = shutil.which("bash")
    if bash is None or not bash.startswith("/usr/"):
        pytest.skip("needs bash under /usr to open a TCP connection from inside the sandbox")
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0)
        port = server.getsockname()[1]
        probe = f"{bash} -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' && echo CONNECTED"
        offline = await _run(
            runtime, "-c", f"diff.external={probe}; :", "diff", "--ext-diff", "HEAD~1", "HEAD"
        )
        assert "CONNECTED" not in _output(offline)
        with pytest.raises(BlockingIOError):
            server.accept()
        online = await _run(runtime, "fetch", f"--upload-pack={probe} >&2; false", "origin")
        assert "CONNECTED" in _output(online), _output(online)  # control: a fetch does share the network
        server.accept()[0].close()


@pytest.mark.anyio
async def test_as_root_git_runs_as_the_owner_of_the_project(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only a server running as root switches to the project owner")
    base = Path(tempfile.mkdtemp(prefix="agentdock-owner-", dir="/tmp"))
    try:
        base.chmod(0o755)
        with scratch_repository(base) as repo:
            _sandbox_or_skip(repo.env)
            owner = 4242
            for path in [repo.root, *repo.root.rglob("*")]:
                os.lchown(path, owner, owner)
            spy = repo.root / ".claude/users/claude/workspace/uid"
            os.lchown(spy.parent, owner, owner)
            root = repo.root.resolve()
            rt = GitRuntime.start(root, root / ".git", build_env(repo.env, root), mode="bwrap")
            try:
                assert (rt.run_as.uid, rt.run_as.gid) == (owner, owner)
                probe = f"id -u > {spy}; :"
                result = await run_chain(
                    [
                        _admitted("-c", f"diff.external={probe}", "diff", "--ext-diff", "HEAD~1", "HEAD"),
                        _admitted("commit", "--allow-empty", "-m", "as the owner"),
                    ],
                    rt,
                    "claude",
                    ExecLimits(timeout_s=30),
                )
            finally:
                rt.close()
            assert result.ok, result
            assert spy.read_text().strip() == str(owner) and spy.stat().st_uid == owner
            # the gateway's own reads (as root, hardened) still see the owner's repository
            facts = load_facts(root, build_env(repo.env, root), caller="claude")
            assert facts.remotes == {"origin"} and any(p.path == "vendor/lib" for p in facts.protected)
            head = repo.git("-c", "safe.directory=*", "rev-parse", "HEAD").strip()
            obj = repo.root / ".git/objects" / head[:2] / head[2:]
            assert obj.stat().st_uid == owner  # the new commit object belongs to the owner, not root
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "control", [".git/commondir", ".git/objects/info/alternates", ".git/config.worktree"]
)
async def test_a_repository_control_file_an_admitted_step_creates_is_removed(
    planted: Planted, runtime: GitRuntime, control: str
) -> None:
    """``commondir`` and friends would point every later git (the person's too) at another config."""
    target = planted.repo.root / control
    result = await _run(runtime, "shortlog", f"--output={control}", "HEAD")
    assert not target.exists()
    assert "removed" in result.steps[0].stderr and control in result.steps[0].stderr


@pytest.mark.anyio
async def test_a_link_planted_where_a_zone_should_be_brings_no_host_path_in(
    planted: Planted, runtime: GitRuntime, tmp_path: Path
) -> None:
    """bwrap follows links in what it binds: a link in place of an agent folder must stay unbound."""
    secret = tmp_path / "host-secrets"
    secret.mkdir()
    (secret / "token").write_text(TOKEN_DATA + "\n")
    link = planted.repo.root / ".claude/users/evil"
    link.symlink_to(secret, target_is_directory=True)
    try:
        for words in (
            ("grep", "--no-index", "-r", "-e", "adk_", "--", ".claude/users/evil/"),
            ("diff", "--no-index", "--", "/dev/null", f"{secret}/token"),
        ):
            result = await _run(runtime, *words)
            assert TOKEN_DATA not in _output(result), words
            assert "bwrap:" not in _output(result)  # the step ran; the link just led nowhere
        result = await _run(runtime, "shortlog", "--output=.claude/users/evil/planted", "HEAD")
        assert not result.ok and not (secret / "planted").exists()
    finally:
        link.unlink()
