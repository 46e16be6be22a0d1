"""The gateway: judge a command for a caller, run it, record who ran what, render the answer.

Chains are scheduled fairly (:mod:`agentdock.gitgate.scheduler`: one at a time per agent,
agents concurrently, chains that write the working tree one at a time) and each step is launched
by the :class:`~agentdock.gitgate.runtime.GitRuntime` (hardened, sandboxed).  Transport-free: the MCP server (``server.py``) calls :meth:`GitGateway.execute`
with the command and the caller's identity (from the bearer token over HTTP),
and turns the :class:`Outcome` into a tool result.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from agentdock.gitgate.errors import Refused
from agentdock.gitgate.executor import ChainResult, ExecLimits, StepResult, run_chain
from agentdock.gitgate.facts import DEFAULT_PROTECTED_BRANCHES, RepoFacts, load_facts, read_git
from agentdock.gitgate.guard import confine
from agentdock.gitgate.invocation import Invocation
from agentdock.gitgate.policy import judge
from agentdock.gitgate.runtime import GitRuntime
from agentdock.gitgate.scheduler import DEFAULT_MAX_QUEUED, Scheduler
from agentdock.gitgate.stepkind import classify

__all__ = ["GateConfig", "GitGateway", "Outcome", "render"]

log = logging.getLogger("agentdock.gitgate")
audit_log = logging.getLogger("agentdock.gitgate.audit")


@dataclass(frozen=True)
class GateConfig:
    root: Path
    env: Mapping[str, str]
    protect: tuple[str, ...] = ()
    protected_branches: tuple[str, ...] = DEFAULT_PROTECTED_BRANCHES
    limits: ExecLimits = field(default_factory=ExecLimits)
    #: JSON-lines record of every request (agent, command, outcome); None keeps only the log
    audit_file: Path | None = None
    #: "auto" (bubblewrap on Linux, required there), "bwrap" or "off" (see runtime.SANDBOX_MODES)
    sandbox: str = "auto"
    #: chains per agent running or waiting; one more is refused (rule ``queue-full``)
    max_queued_per_agent: int = DEFAULT_MAX_QUEUED


@dataclass(frozen=True)
class Outcome:
    agent: str
    command: str
    refused: Refused | None = None
    result: ChainResult | None = None

    @property
    def ok(self) -> bool:
        return self.refused is None and self.result is not None and self.result.ok


FactsLoader = Callable[[GateConfig, str | None], RepoFacts]


def _default_facts(config: GateConfig, caller: str | None) -> RepoFacts:
    return load_facts(
        config.root,
        config.env,
        caller=caller,
        extra_protected=config.protect,
        protected_branches=config.protected_branches,
    )


class GitGateway:
    def __init__(
        self,
        config: GateConfig,
        *,
        facts_loader: FactsLoader = _default_facts,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        runtime: GitRuntime | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self.config = config
        self._facts = facts_loader
        self._clock = clock
        self._audit_lock = threading.Lock()
        self.runtime = runtime or GitRuntime.start(
            config.root.resolve(),
            Path(config.env.get("GIT_DIR", config.root.resolve() / ".git")),
            config.env,
            mode=config.sandbox,
        )
        self.scheduler = scheduler or Scheduler(config.max_queued_per_agent)

    def close(self) -> None:
        self.runtime.close()

    async def execute(self, command: str, agent: str) -> Outcome:
        facts = await anyio.to_thread.run_sync(self._facts, self.config, agent)
        try:
            invocations = judge(command, facts)
        except Refused as refused:
            outcome = Outcome(agent=agent, command=command, refused=refused)
        else:
            try:
                async with self.scheduler.slot(agent, [classify(inv) for inv in invocations]):
                    outcome = await self._run_confined(command, agent, invocations, facts)
            except Refused as refused:
                outcome = Outcome(agent=agent, command=command, refused=refused)
        self._record(outcome)
        return outcome

    async def _run_confined(
        self, command: str, agent: str, invocations: list[Invocation], facts: RepoFacts
    ) -> Outcome:
        """--- gitpolicy hook: each step's paths are walked (guard.confine) right before it runs ---

        A step refused here stops the chain: the steps before it ran (their results are kept in
        the audit record), the refused one and the rest did not.
        """
        steps: list[StepResult] = []
        planned = tuple(inv.display for inv in invocations)
        for number, inv in enumerate(invocations, 1):
            try:
                confined = await anyio.to_thread.run_sync(confine, inv, facts, self._read_git)
            except Refused as exc:
                step = number if len(invocations) > 1 else None
                refused = Refused(exc.rule, exc.reason, step=step)
                if steps:
                    log.info("agent=%s step %d refused after %d ran: %s", agent, number, len(steps), refused)
                ran = ChainResult(steps=tuple(steps), planned=planned) if steps else None
                return Outcome(agent=agent, command=command, refused=refused, result=ran)
            chain = await run_chain([confined], self.runtime, agent, self.config.limits)
            steps += chain.steps
            if not chain.ok:
                break
        return Outcome(agent=agent, command=command, result=ChainResult(steps=tuple(steps), planned=planned))

    def _read_git(self, args: Sequence[str]) -> str:
        """A read-only query for the guard (``rev-list``, ``diff-tree``), with the gateway's environment."""
        return read_git(self.config.root, self.config.env, *args)

    def _record(self, outcome: Outcome) -> None:
        entry: dict[str, Any] = {
            "time": self._clock().isoformat(),
            "agent": outcome.agent,
            "command": outcome.command,
        }
        if outcome.refused is not None:
            entry |= {"outcome": "refused", "rule": outcome.refused.rule, "reason": outcome.refused.reason}
            audit_log.info(
                "agent=%s refused rule=%s command=%r", outcome.agent, outcome.refused.rule, outcome.command
            )
        elif outcome.result is not None:
            entry |= {
                "outcome": "ok" if outcome.ok else "failed",
                "steps": [{"command": s.command, "exit_code": s.exit_code} for s in outcome.result.steps],
            }
            audit_log.info(
                "agent=%s ran %s command=%r exit=%s",
                outcome.agent,
                entry["outcome"],
                outcome.command,
                [s.exit_code for s in outcome.result.steps],
            )
        if self.config.audit_file is not None:
            line = json.dumps(entry, ensure_ascii=False) + "\n"
            try:
                self.config.audit_file.parent.mkdir(parents=True, exist_ok=True)
                with self._audit_lock, self.config.audit_file.open("a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError as exc:
                log.error("cannot append to audit file %s: %s", self.config.audit_file, exc)


def render(outcome: Outcome) -> tuple[str, dict[str, Any]]:
    """(text for the agent, structured content) of an outcome."""
    if outcome.refused is not None:
        refused = outcome.refused
        structured: dict[str, Any] = {
            "ok": False,
            "refused": {"rule": refused.rule, "reason": refused.reason, "step": refused.step},
            "steps": [],
        }
        if outcome.result is None or not outcome.result.steps:
            return f"{refused}\nNothing was run. (git-mcp --explain-policy lists every rule.)", structured
        ran_text, ran = render(Outcome(agent=outcome.agent, command=outcome.command, result=outcome.result))
        count = len(outcome.result.steps)
        text = (
            f"{ran_text}\n{refused}\nThe {count} step(s) above ran; the refused step and the rest did not. "
            "(git-mcp --explain-policy lists every rule.)"
        )
        return text, structured | {"steps": ran["steps"]}
    assert outcome.result is not None
    result = outcome.result
    parts: list[str] = []
    steps: list[dict[str, Any]] = []
    for number, step in enumerate(result.steps, 1):
        status = "killed (timeout)" if step.timed_out else f"exit {step.exit_code}"
        parts.append(f"$ {step.command}\n[step {number}/{len(result.planned)}: {status}]")
        if step.stdout:
            parts.append(step.stdout.rstrip("\n"))
        if step.stderr:
            parts.append(step.stderr.rstrip("\n"))
        if step.truncated:
            parts.append("[output truncated]")
        steps.append(
            {
                "command": step.command,
                "exit_code": step.exit_code,
                "stdout": step.stdout,
                "stderr": step.stderr,
                "truncated": step.truncated,
                "timed_out": step.timed_out,
            }
        )
    if result.not_run:
        parts.append(
            f"[stopped after step {len(result.steps)} failed; not run: " + "; ".join(result.not_run) + "]"
        )
    return "\n".join(parts), {
        "ok": result.ok,
        "refused": None,
        "steps": steps,
        "not_run": list(result.not_run),
    }
