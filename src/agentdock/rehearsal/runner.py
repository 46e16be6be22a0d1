"""Running a scenario: real agent containers, a real ``claude -p`` per turn, the scripted model behind it.

`rehearse` sets up what ``./launch.sh`` would — through the launcher's API:
project, tokens, ``qms-mcp``/``git-mcp`` (loopback + Docker bridge gateway),
the image, one container per agent (mounts, masks, ``.mcp.json`` through the
proxy) — plus the scripted model on the same two addresses and the inbox
watcher.  Then each turn, in the scenario's order, is one
``docker exec … claude -p "<prompt> [rehearsal RUN turn N]"`` with
``ANTHROPIC_BASE_URL`` pointing at the model and ``ANTHROPIC_API_KEY`` set to
that agent's key for this run.  A turn whose steps did not all hold stops
the rehearsal (later turns depend on it).  Everything started is stopped and
removed on the way out, also on Ctrl-C.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from agentdock.defaults import child_env, data_dir
from agentdock.inbox import InboxWatcher, Task, WatcherConfig, format_announcement
from agentdock.launcher import (
    AgentContainerSpec,
    ImageSpec,
    LauncherError,
    LayoutSpec,
    agentdock_checkout,
    bridge_gateway,
    connect_docker,
    container_ids,
    ensure_image,
    ensure_servers,
    provision_token,
    remove_container,
    server_specs,
    start_agent_container,
    stop_servers,
    wait_until_ready,
)
from agentdock.launcher.ports import project_ports
from agentdock.launcher.project import container_project_dir, validate_agents
from agentdock.launcher.servers import servers_keep_root
from agentdock.rehearsal.audit import audit_problems
from agentdock.rehearsal.errors import RehearsalSetupError
from agentdock.rehearsal.model import ScriptedModel
from agentdock.rehearsal.options import RehearsalOptions
from agentdock.rehearsal.project import check_user_project, make_throwaway_project
from agentdock.rehearsal.records import StepRecord, TurnRecord
from agentdock.rehearsal.scenario import Scenario
from agentdock.rehearsal.server import create_app, serve_model
from agentdock.rehearsal.timeline import step_rows

__all__ = [
    "ALLOWED_TOOLS",
    "PERMISSION_MODE",
    "RehearsalOptions",
    "RehearsalResult",
    "claude_argv",
    "claude_env",
    "rehearse",
]

#: What ``claude -p`` may use: both MCP servers' tools and the file tools.  Claude Code treats every
#: path under ``.claude/`` as sensitive and asks before editing it even when a rule allows it; a
#: ``-p`` session cannot be asked, so turns run with ``bypassPermissions``.  The container is the
#: boundary, as for any agent: the project is read-only there, and only the agent's workspace and
#: ``.claude/sessions`` are writable.  (The script, not a model, decides every call.)
ALLOWED_TOOLS = "mcp__qms,mcp__git,Read,Edit,Write"
PERMISSION_MODE = "bypassPermissions"
LABEL = "io.agentdock.rehearsal"


@dataclass
class RehearsalResult:
    scenario: Scenario
    run_id: str
    root: Path
    steps: list[StepRecord]
    turns: list[TurnRecord]
    model: ScriptedModel
    announcements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    audit: list[str] = field(default_factory=list)  # duplicate or lost executions (servers' own records)

    @property
    def ok(self) -> bool:
        return (
            not self.audit
            and all(r.outcome == "ok" for r in self.steps)
            and all(t.exit_code == 0 and t.finished and not t.problems for t in self.turns)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "run_id": self.run_id,
            "project_root": str(self.root),
            "ok": self.ok,
            "steps": [r.to_json() for r in self.steps],
            "turns": [t.to_json() for t in self.turns],
            "requests": [r.to_json() for r in self.model.requests],
            "announcements": self.announcements,
            "audit": self.audit,
            "notes": self.notes,
        }


def claude_env(base_url: str, api_key: str) -> dict[str, str]:
    """The environment of one turn's ``claude -p``: the scripted model, MCP tools offered directly."""
    return {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "ENABLE_TOOL_SEARCH": "false",  # MCP tools in the request's tool list, not behind a search tool
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "MCP_CONNECTION_NONBLOCKING": "false",  # the first request waits until both servers are connected
        "CLAUDE_CODE_MCP_STARTUP_WAIT_MS": "60000",  # ... for up to a minute
    }


def claude_argv(
    docker_cli: str,
    container: str,
    workdir: str,
    env: dict[str, str],
    prompt: str,
    *,
    extra: Sequence[str] = (),
) -> list[str]:
    """``docker exec … claude -p PROMPT …`` for one turn; ``extra``: more ``claude`` flags."""
    argv = [docker_cli, "exec", "-w", workdir]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    return [
        *argv, container, "claude", "-p", prompt, "--output-format", "json",
        "--allowedTools", ALLOWED_TOOLS, "--permission-mode", PERMISSION_MODE, *extra,
    ]  # fmt: skip


def _check_bindable(address: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            raise RehearsalSetupError(f"cannot listen on the Docker bridge gateway {address}: {exc}") from exc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _result_text(output: str) -> str:
    """``claude -p --output-format json`` -> its ``result`` text (else the raw output's tail)."""
    for line in reversed(output.strip().splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "result" in data:
            return str(data.get("result"))
    return output.strip()[-500:]


class _Run:
    """One rehearsal's moving parts (set up in `rehearse`)."""

    def __init__(self, scenario: Scenario, options: RehearsalOptions, say: Callable[[str], None]) -> None:
        self.scenario = scenario
        self.options = options
        self.say = say
        self.run_id = secrets.token_hex(4)
        self.announcements: list[str] = []
        self.containers: dict[str, Any] = {}
        self.docker_cli = shutil.which("docker") or ""

    def _announce(self, task: Task) -> None:
        line = format_announcement(task)
        self.announcements.append(line)
        self.say(f"    inbox: {line}")

    def setup(
        self, client: Any, root: Path, stack: AsyncExitStack, throwaway: bool
    ) -> tuple[str, dict[str, int]]:
        """Tokens, servers, image (blocking; run in a worker thread).  Returns the gateway and ports."""
        if not self.docker_cli:
            raise RehearsalSetupError("the `docker` command is needed (each turn is a `docker exec`)")
        gateway = bridge_gateway(client)
        if not gateway:
            raise RehearsalSetupError("the Docker bridge network has no IPv4 gateway")
        _check_bindable(gateway)
        validate_agents(root, self.scenario.agents)
        self.tokens = {agent: provision_token(root, agent) for agent in self.scenario.agents}
        if throwaway:
            ports = {"qms": _free_port(), "git": _free_port()}
        else:
            chosen = project_ports(root, data_dir(), qms=self.options.qms_port, git=self.options.git_port)
            ports = {"qms": chosen.qms, "git": chosen.git}
        specs = server_specs(
            root, ["127.0.0.1", gateway], ports["qms"], ports["git"], allow_root=servers_keep_root(root)
        )
        self.say(f"servers: qms-mcp :{ports['qms']}, git-mcp :{ports['git']} on 127.0.0.1 and {gateway}")
        ensure_servers(specs, self.tokens[self.scenario.agents[0]], timeout_s=self.options.server_timeout_s)
        self.uid, self.gid = container_ids()
        image = ensure_image(
            client,
            ImageSpec(repo=agentdock_checkout(), tag=self.options.image, uid=self.uid, gid=self.gid),
            rebuild=self.options.rebuild,
        )
        self.image = str(client.images.get(image.tag).id)
        self.say(f"image {image.tag}: {'built, ' + image.reason if image.built else 'up to date'}")
        return gateway, ports

    def faults(
        self, root: Path, gateway: str, ports: dict[str, int]
    ) -> dict[str, Callable[[], Awaitable[None]]]:
        """What the scenario's ``fault`` steps do (`scenario.FAULTS`), on this run's servers."""
        specs = server_specs(
            root, ["127.0.0.1", gateway], ports["qms"], ports["git"], allow_root=servers_keep_root(root)
        )
        token = self.tokens[self.scenario.agents[0]]

        def restart(commands: tuple[str, ...]) -> Callable[[], Awaitable[None]]:
            def blocking() -> None:
                stopped = stop_servers(root, commands)
                ensure_servers(specs, token, timeout_s=self.options.server_timeout_s)
                self.say(f"    fault: restarted {', '.join(stopped) or 'nothing (none was running)'}")

            async def action() -> None:
                await anyio.to_thread.run_sync(blocking)

            return action

        return {"restart-qms": restart(("qms-mcp",)), "restart-servers": restart(("qms-mcp", "git-mcp"))}

    def start_container(self, client: Any, root: Path, agent: str, ports: dict[str, int]) -> Any:
        spec = AgentContainerSpec(
            layout=LayoutSpec(
                root=root, agent=agent, token=self.tokens[agent], qms_port=ports["qms"], git_port=ports["git"]
            ),
            image=self.image,
            uid=self.uid,
            gid=self.gid,
            name=f"agentdock-rehearsal-{self.run_id}-{agent.replace('_', '-')}",
            labels={LABEL: self.run_id},
        )
        container = start_agent_container(client, spec)
        self.containers[agent] = container
        wait_until_ready(container, self.options.ready_timeout_s)
        return container

    async def turn(
        self, model: ScriptedModel, index: int, base_url: str, keys: dict[str, str], workdir: str
    ) -> TurnRecord:
        turn = self.scenario.turns[index - 1]
        record = model.turns[index]
        prompt = f"{turn.prompt} {model.marker(index)}"
        env = claude_env(base_url, next(k for k, a in keys.items() if a == turn.agent))
        argv = claude_argv(self.docker_cli, self.containers[turn.agent].name, workdir, env, prompt)
        began = time.perf_counter()
        record.started_at = time.time()
        try:
            with anyio.fail_after(self.options.turn_timeout_s):
                done = await anyio.run_process(argv, check=False, env=child_env(), stderr=subprocess.STDOUT)
            record.exit_code = done.returncode
            output = done.stdout.decode("utf-8", "replace")
            record.output = _result_text(output)
            if done.returncode != 0:
                record.problems.append(f"claude -p exited {done.returncode}: {output.strip()[-500:]}")
        except TimeoutError:
            record.problems.append(f"claude -p did not finish within {self.options.turn_timeout_s:g} s")
        record.duration_ms = round((time.perf_counter() - began) * 1000.0, 1)
        for (t, _), step in model.steps.items():
            if t == index and step.outcome == "issued":
                step.fail("the tool_use was sent but no tool_result came back before the turn ended")
        if not record.finished and not record.problems:
            record.problems.append("the session ended before the model sent the turn's closing text")
        return record


async def rehearse(
    scenario: Scenario, options: RehearsalOptions, say: Callable[[str], None] = lambda _: None
) -> RehearsalResult:
    """Run ``scenario`` end to end; the result says whether every expectation held."""
    run = _Run(scenario, options, say)
    began = time.time()
    async with AsyncExitStack() as stack:
        throwaway = options.project_root is None
        if throwaway:
            if options.workdir is None:
                tmp = Path(tempfile.mkdtemp(prefix="agentdock-rehearsal-"))
                stack.callback(shutil.rmtree, tmp, True)
            else:
                tmp = options.workdir.expanduser().resolve()
                tmp.mkdir(parents=True, exist_ok=True)
            root = await anyio.to_thread.run_sync(
                lambda: make_throwaway_project(tmp, remote=scenario.git_remote)
            )
            say(
                f"project {root} (throw-away{', bare remote ' + str(tmp / 'remote.git') if scenario.git_remote else ''})"
            )
        else:
            assert options.project_root is not None
            root = check_user_project(options.project_root)
            if scenario.faults:
                raise RehearsalSetupError(
                    f"scenario {scenario.name} injects faults ({', '.join(sorted(scenario.faults))}): "
                    "it restarts servers, so it runs on a throw-away project only (no --project-root)"
                )
            if scenario.git_remote and not options.allow_push:
                raise RehearsalSetupError(
                    f"scenario {scenario.name} pushes to a remote; on your own project that is your real "
                    "remote. Run it on a throw-away project (no --project-root) or pass --allow-push"
                )
            say(f"project {root}")
        try:
            client = stack.enter_context(connect_docker())
        except LauncherError as exc:
            raise RehearsalSetupError(str(exc)) from exc
        if throwaway:

            async def stop() -> None:
                await anyio.to_thread.run_sync(stop_servers, root)

            stack.push_async_callback(stop)

        async def remove_all() -> None:
            with anyio.CancelScope(shield=True):
                for container in list(run.containers.values()):
                    await anyio.to_thread.run_sync(remove_container, container)

        stack.push_async_callback(remove_all)
        try:
            gateway, ports = await anyio.to_thread.run_sync(run.setup, client, root, stack, throwaway)
        except LauncherError as exc:
            raise RehearsalSetupError(f"{type(exc).__name__}: {exc}") from exc
        workdir = container_project_dir(root)
        model = ScriptedModel(
            scenario, run_id=run.run_id, project_dir=workdir, faults=run.faults(root, gateway, ports)
        )
        keys = {f"sk-rehearsal-{run.run_id}-{secrets.token_hex(16)}": agent for agent in scenario.agents}
        server = await stack.enter_async_context(serve_model(create_app(model, keys), ["127.0.0.1", gateway]))
        base_url = f"http://host.docker.internal:{server.port}"
        say(f"scripted model on 127.0.0.1:{server.port} and {gateway}:{server.port} (run {run.run_id})")
        watcher = InboxWatcher(WatcherConfig(root), run._announce)
        stack.enter_context(watcher)
        for agent in scenario.agents:
            try:
                await anyio.to_thread.run_sync(run.start_container, client, root, agent, ports)
            except LauncherError as exc:
                raise RehearsalSetupError(f"{agent}'s container: {type(exc).__name__}: {exc}") from exc
            say(f"container for {agent}: {run.containers[agent].name}")
        for index, turn in enumerate(scenario.turns, 1):
            say(f"turn {index}: {turn.agent} (claude -p, {len(turn.steps)} steps)")
            record = await run.turn(model, index, base_url, keys, workdir)
            for line in step_rows(r for (t, _), r in model.steps.items() if t == index):
                say(line)
            failed = record.problems or any(
                r.outcome != "ok" for (t, _), r in model.steps.items() if t == index
            )
            if failed:
                for problem in record.problems:
                    say(f"    ! {problem}")
                say(f"turn {index} failed; the rehearsal stops here (later turns depend on it)")
                break
        steps = list(model.steps.values())
        problems, notes = await anyio.to_thread.run_sync(audit_problems, root, steps, began)
        return RehearsalResult(
            scenario=scenario,
            run_id=run.run_id,
            root=root,
            steps=steps,
            turns=list(model.turns.values()),
            model=model,
            announcements=run.announcements,
            notes=notes,
            audit=problems,
        )
    raise AssertionError("unreachable")  # pragma: no cover
