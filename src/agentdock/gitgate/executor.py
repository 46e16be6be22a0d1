"""Run approved git invocations: argument lists, no shell, fixed environment, timeout, output cap.

Each step is turned into a :class:`~agentdock.gitgate.runtime.Launch` by the
:class:`~agentdock.gitgate.runtime.GitRuntime` (hardened settings, the sandbox, the uid) and
runs with ``cwd`` = the project root, stdin from ``/dev/null``, in its own session (no
controlling terminal: nothing can prompt) and an environment built from an allow-list plus
fixed values (``GIT_TERMINAL_PROMPT=0``, ``GIT_PAGER=cat``, ``GIT_EDITOR=true``…).  Read-only
steps get a short timeout, the others a longer one; a step that outlives it is killed with its
whole process group (the sandbox dies with it).  A chain stops at the first step that fails;
every step that ran is reported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream

from agentdock.gitgate.errors import ExecutionError
from agentdock.gitgate.hardening import config_env
from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.runtime import GitRuntime, Launch
from agentdock.gitgate.stepkind import StepKind

__all__ = ["ENV_ALLOWLIST", "ChainResult", "ExecLimits", "StepResult", "build_env", "run_chain", "run_step"]

#: Variables copied from the server's own environment when present.
ENV_ALLOWLIST: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TMPDIR",
    "XDG_CONFIG_HOME",
    "SSH_AUTH_SOCK",
)
_FIXED_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "GIT_EDITOR": "true",
    "GIT_SEQUENCE_EDITOR": "true",
    "GIT_OPTIONAL_LOCKS": "0",
    "SSH_ASKPASS_REQUIRE": "never",
}


@dataclass(frozen=True)
class ExecLimits:
    #: steps that write or use the network
    timeout_s: float = 120.0
    #: steps that only read (never longer than ``timeout_s``)
    read_timeout_s: float = 30.0
    #: per stream (stdout, stderr) of each step; the rest is read and dropped
    max_output_bytes: int = 256 * 1024

    def timeout_for(self, kind: StepKind) -> float:
        return min(self.read_timeout_s, self.timeout_s) if kind is StepKind.READ else self.timeout_s


@dataclass(frozen=True)
class StepResult:
    command: str
    exit_code: int | None  #: None when the step was killed for exceeding the timeout
    stdout: str
    stderr: str
    truncated: bool = False
    timed_out: bool = False
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class ChainResult:
    steps: tuple[StepResult, ...]
    planned: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return len(self.steps) == len(self.planned) and all(s.ok for s in self.steps)

    @property
    def not_run(self) -> tuple[str, ...]:
        return self.planned[len(self.steps) :]


def build_env(source: Mapping[str, str], root: Path, git_dir: Path | None = None) -> dict[str, str]:
    """The environment every git step gets: allow-listed variables plus fixed settings.

    ``GIT_DIR`` and ``GIT_WORK_TREE`` pin the project's repository, so ``-C`` only moves
    the working directory: a repository nested in a writable folder (with its own
    config, hooks or fsmonitor) is never discovered and never used.
    """
    root = root.resolve()
    env = {name: source[name] for name in ENV_ALLOWLIST if name in source}
    env.setdefault("PATH", os.defpath)
    env.update(_FIXED_ENV)
    env["GIT_DIR"] = str(git_dir if git_dir is not None else root / ".git")
    env["GIT_WORK_TREE"] = str(root)
    env["GIT_CEILING_DIRECTORIES"] = str(root.parent)
    # hardened even before the runtime adds the caller's identity (the gateway's own reads use this)
    env.update(config_env(os.devnull, os.devnull, (str(root), env["GIT_DIR"])))
    return env


class _Capped:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    async def drain(self, stream: ByteReceiveStream) -> None:
        async for chunk in stream:
            room = self.limit - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > max(room, 0):
                self.truncated = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run_step(launch: Launch, limits: ExecLimits) -> StepResult:
    started = time.monotonic()
    timeout_s = limits.timeout_for(launch.kind)
    switch = launch.run_as.uid is not None
    try:
        proc = await anyio.open_process(
            list(launch.argv),
            cwd=launch.cwd,
            env=dict(launch.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            user=launch.run_as.uid,
            group=launch.run_as.gid,
            extra_groups=[] if switch else None,
        )
    except OSError as exc:
        raise ExecutionError(f"cannot start git in {launch.cwd}: {exc}") from exc
    out, err = _Capped(limits.max_output_bytes), _Capped(limits.max_output_bytes)
    timed_out = False
    try:
        with anyio.move_on_after(timeout_s) as scope:
            async with anyio.create_task_group() as tg:
                assert proc.stdout is not None and proc.stderr is not None
                tg.start_soon(out.drain, proc.stdout)
                tg.start_soon(err.drain, proc.stderr)
                await proc.wait()
        timed_out = scope.cancelled_caught
    finally:
        if proc.returncode is None:
            _kill_group(proc.pid)
        with anyio.CancelScope(shield=True):
            await proc.aclose()
    return StepResult(
        command=launch.display,
        exit_code=None if timed_out else proc.returncode,
        stdout=out.text(),
        stderr=err.text() + (f"\n[killed after {timeout_s:g}s timeout]" if timed_out else ""),
        truncated=out.truncated or err.truncated,
        timed_out=timed_out,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


async def run_chain(
    invocations: Sequence[Invocation], runtime: GitRuntime, agent: str | None, limits: ExecLimits
) -> ChainResult:
    """Run the steps in order, each prepared at the moment it starts; stop at the first failure."""
    results: list[StepResult] = []
    for inv in invocations:
        launch = await anyio.to_thread.run_sync(runtime.launch, inv, agent)
        result = await run_step(launch, limits)
        notes = await anyio.to_thread.run_sync(
            runtime.after_step, launch, inv, result.ok, result.stdout, result.stderr
        )
        if notes:
            result = dataclasses.replace(result, stderr=result.stderr + "\n".join(notes) + "\n")
        results.append(result)
        if not result.ok:
            break
    return ChainResult(steps=tuple(results), planned=tuple(i.display for i in invocations))
