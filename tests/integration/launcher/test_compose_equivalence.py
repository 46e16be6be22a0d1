"""The compose path gives an agent the same container as ./launch.sh — proven on a real engine.

For one real project and agent (qa): ``agentdock launch qa --print-compose`` (what
``./launch.sh qa --print-compose`` runs) writes the compose file and starts the servers; the
launcher's `start_agent_container` starts one container; pytest-docker's compose executor brings up
the other from the printed file.  Then both are compared through ``docker inspect`` (every
HostConfig field, the environment, user, labels, mounts as the engine sees them) and from inside
(the same script's output: read-only project, writable paths, masks, uid, capabilities,
no-new-privileges, cgroup limits, where the agent's token is visible), and ``claude mcp list``
must show qms and git Connected in both.

Where the two must differ, `EXPECTED_DIFFERENCES` names the field and why.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_docker.plugin import get_docker_services

from agentdock import paths
from agentdock.launcher import (
    agentdock_checkout,
    container_ids,
    remove_container,
    start_agent_container,
    stop_servers,
    wait_until_ready,
)
from agentdock.launcher.project import init_demo_project
from agentdock.launcher.session import LaunchOptions, Servers, Shared, agent_spec, passthrough_env

pytestmark = [pytest.mark.docker, pytest.mark.slow]

AGENT = "qa"
FAKE_GH_TOKEN = "ghp_NotARealToken0123456789"

#: Fields allowed to differ between the launcher's container and compose's, and why.
EXPECTED_DIFFERENCES = {
    "Name": "two containers of one agent exist at once only in this test; the launcher's gets a "
    "suffix (./launch.sh itself refuses a second container for an agent)",
    "Config.Labels": "compose adds its own com.docker.compose.* labels; the io.agentdock.* labels are equal",
    "HostConfig.Mounts": "the same mounts in another order (compose sorts them): compared as sets",
}

#: Runs in both containers; its output must be the same, line by line.
PROBE = r"""
exec 2>&1  # one stream, in order: error lines are part of what must be equal
p=$AGENTDOCK_PROJECT_DIR
echo "user $(id -u):$(id -g) groups $(id -G)"
touch "$p/QMS/x" 2>/dev/null && echo "project writable" || echo "project read-only"
touch "$p/newfile" 2>/dev/null && echo "root of project writable" || echo "root of project read-only"
for d in "$p/.claude/users/$AGENTDOCK_AGENT/workspace" "$p/.claude/sessions/$AGENTDOCK_AGENT" /projects \
         "$HOME/.claude" /tmp "$HOME" /run/agentdock "$p/.claude/users/$AGENTDOCK_AGENT/inbox" /etc /usr; do
  f="$d/.probe-$HOSTNAME-$$"; touch "$f" 2>/dev/null && { echo "writable $d"; rm -f "$f"; } || echo "read-only $d"
done
echo "users mask: $(ls -A "$p/.claude/users" | tr '\n' ' ')"
echo "state mask: $(ls -A "$p/.agentdock" | tr '\n' ' ')"
grep -E '^(CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max 2>/dev/null \
  || cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes \
         /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null
echo "token visible under the project in: $(grep -rlF "$TOKEN" "$p" 2>/dev/null | sort | tr '\n' ' ')"
echo "setuid files: $(find / -xdev -perm /6000 -type f 2>/dev/null | wc -l)"
mount | grep -E ' on (/tmp|/home/agent|/run/agentdock|'"$p"'/\.claude/users|'"$p"'/\.agentdock) ' \
  | sed 's/^[^ ]* //' | sort
"""


def compose_command() -> str | None:
    """``docker compose`` (v2 plugin) when the CLI has it, else ``docker-compose`` (v1), else None."""
    docker = shutil.which("docker")
    if docker is not None:
        done = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if done.returncode == 0:
            return "docker compose"
    return "docker-compose" if shutil.which("docker-compose") else None


@pytest.fixture(scope="module")
def docker_compose_command() -> str:
    """pytest-docker's compose command, found on this machine (.ci/run installs one)."""
    from agentdock.launcher.engine import in_ci

    command = compose_command()
    if command is None:
        message = (
            "no compose command (docker compose / docker-compose); .ci/run installs Debian's docker-compose"
        )
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Pair:
    """The launcher's container and compose's, for one project and agent."""

    def __init__(self, root: Path, launcher: Any, composed: Any, compose_file: Path) -> None:
        self.root, self.launcher, self.composed, self.compose_file = root, launcher, composed, compose_file


@pytest.fixture(scope="module")
def pair(
    docker_client: Any,
    agent_image: str,
    docker_compose_command: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("compose") / "acme"
    init_demo_project(root)
    qms_port, git_port = _free_port(), _free_port()
    volume = f"agentdock-test-compose-{os.getpid()}"
    # what a launch passes on from the host (here a fake GH_TOKEN): by value to the launcher's
    # container, by name in the compose file, by value from the environment compose runs in
    environ = {**os.environ, "GH_TOKEN": FAKE_GH_TOKEN}
    passed = passthrough_env(agentdock_checkout() / "docker" / ".env", environ)
    argv = [sys.executable, "-m", "agentdock", "launch", AGENT, "--print-compose", "--project-root", str(root),
            "--qms-port", str(qms_port), "--git-port", str(git_port), "--image", agent_image,
            "--projects", volume]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, env=environ)
        assert done.returncode == 0, done.stderr
        compose_file = root.parent / "agents-compose.yml"
        compose_file.write_text(done.stdout, encoding="utf-8")
        # the launcher's own container, from the spec ./launch.sh builds (session.agent_spec), renamed
        uid, gid = container_ids()
        token = paths.agent_token_file(root, AGENT).read_text(encoding="utf-8").strip()
        name = yaml.safe_load(done.stdout)["services"][AGENT]["container_name"]
        options = LaunchOptions(agent=AGENT, project_root=root, image=agent_image, projects=volume)
        spec = agent_spec(
            root, AGENT, token, options=options, servers=Servers(qms_port, git_port),
            shared=Shared(agentdock_checkout(), uid, gid), environment=passed,
        )  # fmt: skip
        spec = replace(spec, name=f"{name}-launcher")
        launcher = start_agent_container(docker_client, spec)
        try:
            with pytest.MonkeyPatch.context() as patch:
                for key, value in passed.items():
                    patch.setenv(key, value)
                with get_docker_services(
                    docker_compose_command,
                    str(compose_file),
                    f"agentdocktest{os.getpid()}",
                    ["up -d"],
                    ["down"],
                ):
                    composed = docker_client.containers.get(name)
                    for container in (launcher, composed):
                        wait_until_ready(container, 90)
                        container.reload()
                    yield Pair(root, launcher, composed, compose_file)
        finally:
            remove_container(launcher)
            try:
                docker_client.volumes.get(f"{volume}-{AGENT}").remove(force=True)
            except Exception as exc:  # already gone is fine; anything else is shown
                print(f"volume {volume}: {exc}")
    finally:
        stop_servers(root, orphans=True)


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(f"{prefix}.{key}" if prefix else key, item))
        return flat
    return {prefix: None if value in ([], {}, "") else value}  # unset, empty: the same setting


def _differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    fa, fb = _flatten("", a), _flatten("", b)
    return {k: (fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)}


def _mount_spec(mount: dict[str, Any]) -> tuple[str, str, str, bool]:
    return (mount["Type"], mount["Source"], mount["Target"], bool(mount.get("ReadOnly")))


def _allowed(field: str) -> bool:
    return any(field == name or field.startswith(name + ".") for name in EXPECTED_DIFFERENCES)


def test_compose_and_launcher_containers_have_the_same_host_config(pair: Pair) -> None:
    a, b = pair.launcher.attrs, pair.composed.attrs
    mounts = [sorted(_mount_spec(m) for m in c["HostConfig"]["Mounts"]) for c in (a, b)]
    assert mounts[0] == mounts[1]  # HostConfig.Mounts: equal as sets
    unexplained = {k: v for k, v in _differences(a["HostConfig"], b["HostConfig"]).items()
                   if not _allowed(f"HostConfig.{k}")}  # fmt: skip
    assert not unexplained, f"launcher vs compose HostConfig differs where nothing explains it: {unexplained}"
    host = a["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"] and not host["Privileged"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"] and host["ReadonlyRootfs"] is True
    assert host["Memory"] == host["MemorySwap"] > 0 and host["PidsLimit"] > 0 and host["NanoCpus"] > 0
    assert b["HostConfig"]["Init"] is True
    networks = [set(c.attrs["NetworkSettings"]["Networks"]) for c in (pair.launcher, pair.composed)]
    assert networks[0] == networks[1] == {"agentdock-agents"}


def test_compose_and_launcher_containers_have_the_same_mounts_environment_user_and_labels(pair: Pair) -> None:
    def mounts(container: Any) -> set[tuple[str, str, str, bool]]:
        return {
            (m["Type"], m.get("Name") or m["Source"], m["Destination"], m["RW"])
            for m in container.attrs["Mounts"]
        }

    assert mounts(pair.launcher) == mounts(pair.composed)
    assert len(pair.composed.attrs["Mounts"]) == len(pair.launcher.attrs["Mounts"]) >= 7
    a, b = pair.launcher.attrs["Config"], pair.composed.attrs["Config"]
    assert sorted(a["Env"]) == sorted(b["Env"])
    unexplained = {
        k: v
        for k, v in _differences({**a, "Env": None}, {**b, "Env": None}).items()
        if not _allowed(f"Config.{k}")
    }
    assert not unexplained, f"launcher vs compose Config differs where nothing explains it: {unexplained}"
    ours = {k: v for k, v in b["Labels"].items() if not k.startswith("com.docker.compose.")}
    assert ours == a["Labels"]
    assert ours["io.agentdock.agent"] == AGENT


def _probe(container: Any, token: str, user: str = "") -> str:
    result = container.exec_run(["bash", "-c", PROBE], user=user, environment={"TOKEN": token})
    return str(result.output.decode("utf-8", "replace"))


def test_inside_both_containers_the_agent_sees_the_same_filesystem_identity_and_limits(pair: Pair) -> None:
    token = paths.agent_token_file(pair.root, AGENT).read_text(encoding="utf-8").strip()
    outputs = [_probe(c, token) for c in (pair.launcher, pair.composed)]
    assert outputs[0] == outputs[1], f"launcher:\n{outputs[0]}\ncompose:\n{outputs[1]}"
    lines = outputs[0].splitlines()
    assert "project read-only" in lines and "root of project read-only" in lines
    proj = pair.launcher.attrs["Config"]["WorkingDir"]
    for writable in (f"{proj}/.claude/users/{AGENT}/workspace", "/projects", "/tmp"):
        assert f"writable {writable}" in lines, outputs[0]
    assert f"read-only {proj}/.claude/users/{AGENT}/inbox" in lines and "read-only /etc" in lines
    assert f"users mask: {AGENT} " in lines and "state mask: " in lines
    caps = {line.split(":")[0]: line.split()[1] for line in lines if line.startswith("Cap")}
    assert set(caps.values()) == {"0000000000000000"}, caps
    assert "NoNewPrivs:\t1" in lines and "setuid files: 0" in lines
    assert not lines[0].startswith("user 0:")
    # the agent's own token is visible under the project only in its .mcp.json overlay (by design)
    assert f"token visible under the project in: {proj}/.mcp.json " in lines
    # and root inside either container finds the same masks
    as_root = [_probe(c, token, user="0") for c in (pair.launcher, pair.composed)]
    assert as_root[0] == as_root[1]


def test_no_secret_lies_in_the_compose_file_and_pass_through_still_reaches_the_container(pair: Pair) -> None:
    token = paths.agent_token_file(pair.root, AGENT).read_text(encoding="utf-8").strip()
    # nor anywhere under the project root on the host: tokens and overlays live in the data dir
    holders = [p for p in pair.root.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert holders == [], holders
    text = pair.compose_file.read_text(encoding="utf-8")
    assert token and token not in text
    assert FAKE_GH_TOKEN not in text and "GH_TOKEN" in text  # named; compose took the value from its env
    assert f"GH_TOKEN={FAKE_GH_TOKEN}" in pair.composed.attrs["Config"]["Env"]


def test_claude_code_connects_to_both_servers_from_both_containers(pair: Pair) -> None:
    def mcp_list(container: Any) -> str:
        result = container.exec_run(["bash", "-c", "timeout 180 claude mcp list"])
        return f"exit {result.exit_code}\n" + result.output.decode("utf-8", "replace")

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(mcp_list, (pair.launcher, pair.composed)))
    for out in outputs:
        assert out.startswith("exit 0\n"), out
        lines = {line.split(":", 1)[0]: line for line in out.splitlines() if ":" in line}
        for server in ("qms", "git"):
            assert "/proxy/mcp_proxy.py" in lines[server] and "Connected" in lines[server], out
