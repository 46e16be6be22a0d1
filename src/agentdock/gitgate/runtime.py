"""How a judged git step is launched: as whom, with which settings, inside which sandbox.

:class:`GitRuntime` is built once by the server (:meth:`GitRuntime.start`) and turns each
:class:`~agentdock.gitgate.invocation.Invocation` into a :class:`Launch` — the argv, environment
and credentials the executor hands to the kernel:

* **as whom**: a server running as root runs git as the owner of the project root (``user=``,
  ``group=``, ``extra_groups=[]``); a root-owned project keeps uid 0 outside but gets an
  unprivileged uid and no capabilities inside the sandbox;
* **settings**: :mod:`agentdock.gitgate.hardening` (no system/global config but agentdock's
  identity file, hooks off, fsmonitor off, ext protocol off, no signing);
* **sandbox**: :mod:`agentdock.gitgate.sandbox` (``mode="bwrap"``), or none (``mode="off"``,
  only with ``--no-sandbox`` or on a platform without bubblewrap; logged at start and reported
  by ``git-mcp --check``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agentdock.gitgate.errors import ConfigError, ExecutionError
from agentdock.gitgate.facts import run_git
from agentdock.gitgate.hardening import GitHome, hardened_argv
from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.sandbox import NOBODY, base_args, bwrap_argv, plan_mounts
from agentdock.gitgate.stepkind import StepKind, classify
from agentdock.gitgate.upstream import apply_upstreams, requested_upstreams

__all__ = ["SANDBOX_MODES", "GitRuntime", "Launch", "RunAs", "SandboxStatus", "probe_sandbox", "run_as_for"]

log = logging.getLogger("agentdock.gitgate")

#: ``auto``: bubblewrap on Linux (the server refuses to start when it does not work), none elsewhere
SANDBOX_MODES = ("auto", "bwrap", "off")


@dataclass(frozen=True)
class RunAs:
    """Credentials for the child process; ``None`` fields mean "as the server itself"."""

    uid: int | None = None
    gid: int | None = None

    def describe(self) -> str:
        return "the server's own user" if self.uid is None else f"uid {self.uid} gid {self.gid}"


def run_as_for(root: Path, euid: int | None = None) -> RunAs:
    """As root: the owner of the project root; otherwise: the server's own user."""
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        return RunAs()
    st = os.stat(root)
    if st.st_uid == 0:
        return RunAs()  # root's own project: uid 0 outside, unprivileged inside the sandbox
    return RunAs(uid=st.st_uid, gid=st.st_gid)


#: files in a git directory that redirect or configure the repository; one a step creates is removed
GUARDED = (
    "commondir",
    "gitdir",
    "config.worktree",
    "modules",
    "remotes",
    "branches",
    "objects/info/alternates",
)


@dataclass(frozen=True)
class Launch:
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    run_as: RunAs
    kind: StepKind
    display: str
    #: guarded control files that did not exist when the step was prepared
    absent: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SandboxStatus:
    mode: str  #: "bwrap" or "off"
    detail: str  #: what was checked, or why there is no sandbox

    @property
    def sandboxed(self) -> bool:
        return self.mode == "bwrap"


def _child_creds(run_as: RunAs) -> dict[str, object]:
    if run_as.uid is None:
        return {}
    return {"user": run_as.uid, "group": run_as.gid, "extra_groups": []}


def probe_sandbox(bwrap: str | None, run_as: RunAs, env: Mapping[str, str]) -> str | None:
    """None when ``bwrap`` can run git as ``run_as`` here; else what went wrong."""
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt install bubblewrap)"
    uid, gid = _inside_ids(run_as)
    argv = [*base_args(bwrap, uid=uid, gid=gid, network=False), "--", "git", "--version"]
    try:
        done = subprocess.run(  # type: ignore[call-overload]
            argv,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
            **_child_creds(run_as),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{bwrap} could not be started: {exc}"
    if done.returncode != 0 or not done.stdout.startswith("git version"):
        return f"{bwrap} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
    return None


def _inside_ids(run_as: RunAs) -> tuple[int, int]:
    if run_as.uid is not None and run_as.gid is not None:
        return run_as.uid, run_as.gid
    uid, gid = os.geteuid(), os.getegid()
    return (NOBODY, NOBODY) if uid == 0 else (uid, gid)


class GitRuntime:
    """Builds the :class:`Launch` of each step.  ``close()`` removes the gateway's own directory."""

    def __init__(
        self,
        root: Path,
        git_dir: Path,
        env: Mapping[str, str],
        *,
        status: SandboxStatus,
        run_as: RunAs,
        bwrap: str | None = None,
        home_base: Path | None = None,
    ) -> None:
        self.root = root
        self.git_dir = git_dir
        self.env = dict(env)
        self.status = status
        self.run_as = run_as
        self._bwrap = bwrap
        self.home = GitHome((root, git_dir), base=home_base)
        self._tracked_cache: tuple[tuple[int, ...], list[str]] | None = None

    @classmethod
    def start(
        cls, root: Path, git_dir: Path, env: Mapping[str, str], *, mode: str = "auto", euid: int | None = None
    ) -> GitRuntime:
        """Decide the sandbox once, check it works, log the decision; ConfigError when it cannot."""
        if mode not in SANDBOX_MODES:
            raise ConfigError(f"--sandbox must be one of {', '.join(SANDBOX_MODES)}, not {mode!r}")
        run_as = run_as_for(root, euid)
        bwrap = shutil.which("bwrap", path=env.get("PATH", os.defpath))
        if mode == "off":
            status = SandboxStatus(
                "off", "disabled with --no-sandbox: git runs with the policy as its only line"
            )
        elif mode == "auto" and not sys.platform.startswith("linux"):
            status = SandboxStatus(
                "off", f"no bubblewrap on {sys.platform}: git runs with the policy as its only line"
            )
        else:
            problem = probe_sandbox(bwrap, run_as, env)
            if problem is not None:
                raise ConfigError(
                    f"the git sandbox does not work here: {problem}. Fix it, or start with --no-sandbox "
                    "to run git without the kernel's second line (see docs/security/git-sandbox.md)"
                )
            uid, gid = _inside_ids(run_as)
            status = SandboxStatus(
                "bwrap",
                f"bubblewrap at {bwrap}, git as {run_as.describe()} (uid {uid} gid {gid} inside, no capabilities)",
            )
        runtime = cls(root, git_dir, env, status=status, run_as=run_as, bwrap=bwrap)
        level = logging.INFO if status.sandboxed else logging.WARNING
        log.log(level, "git sandbox: %s (%s)", status.mode, status.detail)
        return runtime

    def close(self) -> None:
        self.home.close()

    def launch(self, inv: Invocation, agent: str | None) -> Launch:
        kind = classify(inv)
        try:
            env = {**self.env, **self.home.env_for(agent)}
        except ValueError as exc:
            raise ExecutionError(str(exc)) from exc
        remotes = self._local_remotes(env) if kind.network else []
        # local remotes need the file transport; every other step (and submodule URLs) never gets it
        extra = [("protocol.file.allow", "always")] if remotes else []
        argv = ["git", *hardened_argv(inv.argv, str(self.home.hooks), extra)]
        if self.status.sandboxed:
            assert self._bwrap is not None
            argv = [*self._sandbox_prefix(kind, agent, env, remotes), *argv]
        absent = tuple(p for p in self._guarded() if not os.path.lexists(p))
        return Launch(
            argv=tuple(argv),
            env=env,
            cwd=self.root,
            run_as=self.run_as,
            kind=kind,
            display=inv.display,
            absent=absent,
        )

    def _guarded(self) -> list[Path]:
        """Control files of the repository (and of its common directory, for a linked worktree)."""
        dirs = dict.fromkeys((self.git_dir, _common_dir(self.git_dir)))
        return [directory / name for directory in dirs for name in GUARDED]

    def _sandbox_prefix(
        self, kind: StepKind, agent: str | None, env: Mapping[str, str], remotes: list[Path]
    ) -> list[str]:
        assert self._bwrap is not None
        tracked = self._tracked_in_zones(env)
        home: Path | None = None
        sockets: list[Path] = []
        if kind.network:
            home = Path(env["HOME"]) if env.get("HOME") else None
            if env.get("SSH_AUTH_SOCK"):
                sockets.append(Path(env["SSH_AUTH_SOCK"]))
        plan = plan_mounts(
            self.root, self.git_dir, agent, tracked, network=kind.network, local_remotes=remotes, home=home
        )
        uid, gid = _inside_ids(self.run_as)
        return bwrap_argv(self._bwrap, plan, uid=uid, gid=gid, readable=(self.home.path,), sockets=sockets)

    def after_step(self, launch: Launch, inv: Invocation, ok: bool, stdout: str, stderr: str) -> list[str]:
        """Undo what no step may leave behind; do what the sandbox kept git from doing (upstreams)."""
        notes = [_remove(path, self.git_dir) for path in launch.absent if os.path.lexists(path)]
        if notes:
            log.warning("a git step created repository control files; removed: %s", "; ".join(notes))
        if not self.status.sandboxed or not ok:
            return notes
        remotes = self._git_lines(self.env, "remote")
        requests = requested_upstreams(inv.command, stdout, stderr, remotes)
        if not requests:
            return notes
        return notes + apply_upstreams(requests, lambda *args: self._git(self.env, *args))

    def _tracked_in_zones(self, env: Mapping[str, str]) -> list[str]:
        """Tracked files under the zones, re-read whenever the index file changed (stat of it)."""
        try:
            st = os.stat(self.git_dir / "index")
            key: tuple[int, ...] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except OSError:
            key = ()
        if key and self._tracked_cache is not None and self._tracked_cache[0] == key:
            return self._tracked_cache[1]
        tracked = self._git_lines(env, "ls-files", "-z", "--", ".agentdock", ".claude/users", sep="\0")
        self._tracked_cache = (key, tracked) if key else None
        return tracked

    def _git_lines(self, env: Mapping[str, str], *args: str, sep: str = "\n") -> list[str]:
        code, out = self._git(env, *args)
        if code not in (0, 1):
            raise ExecutionError(f"git {' '.join(args)} failed in {self.root}")
        return [line for line in out.split(sep) if line]

    def _git(self, env: Mapping[str, str], *args: str) -> tuple[int, str]:
        """The gateway's own git (hardened, as the project owner, outside the sandbox): (exit code, stdout)."""
        return run_git(self.root, env, ["--literal-pathspecs", *args], _child_creds(self.run_as))

    def _local_remotes(self, env: Mapping[str, str]) -> list[Path]:
        """Configured remotes that are paths on this machine (the sandbox binds them for the step)."""
        found: list[Path] = []
        for line in self._git_lines(env, "config", "--get-regexp", r"^remote\..*\.(url|pushurl)$"):
            _, _, url = line.partition(" ")
            local = _local_path(url.strip(), self.root)
            if local is None or not local.is_dir() or local in found:
                continue
            if local == self.root or self.root in local.parents or local in self.root.parents:
                log.warning("remote %s overlaps the project root; not bound into the sandbox", local)
                continue
            found.append(local)
        return found


def _common_dir(git_dir: Path) -> Path:
    pointer = git_dir / "commondir"
    try:
        return (git_dir / pointer.read_text(encoding="utf-8").strip()).resolve()
    except OSError:
        return git_dir


def _remove(path: Path, git_dir: Path) -> str:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        return f"[gateway: {path.name} appeared in {git_dir} and could not be removed: {exc}]"
    return f"[gateway: removed {path.relative_to(git_dir.parent) if git_dir.parent in path.parents else path}, which this step created]"


def _local_path(url: str, root: Path) -> Path | None:
    if url.startswith("file://"):
        return Path(url[len("file://") :]).resolve()
    if "://" in url or (":" in url.split("/", 1)[0] and not url.startswith("/")):
        return None  # https://…, ssh://…, host:path (scp syntax)
    path = Path(url)
    return (path if path.is_absolute() else root / path).resolve()
