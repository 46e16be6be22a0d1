"""``./launch.sh doctor``: check each piece a launch needs and say what to fix.

Checks, in order (later ones are skipped when what they need is missing):
engine, docker CLI, project and agents, image (present, inputs unchanged),
tokens, servers (MCP ``initialize``; a warning when one runs as root), an MCP round
trip through the proxy from inside a throwaway container — the path an agent's Claude
Code uses — and, for each running agent container of the project, its limits,
capability bounding set, no-new-privileges, read-only root, network and policy
(with the strict policy's iptables rules checked when root can read them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import docker.errors
import httpx

from agentdock import paths
from agentdock.defaults import GIT_PORT, QMS_PORT
from agentdock.launcher.errors import LauncherError
from agentdock.launcher.hostcerts import host_ca_certificates
from agentdock.launcher.image import LABEL_INPUTS, ImageSpec, agentdock_checkout, container_ids, inputs_hash
from agentdock.launcher.inspect import container_posture, process_uid
from agentdock.launcher.layout import PROXY_PATH
from agentdock.launcher.netpolicy import LABEL_POLICY, project_tag, strict_state
from agentdock.launcher.ports import Ports, registered_projects
from agentdock.launcher.project import agent_names, is_git_work_tree, resolve_project_root
from agentdock.launcher.servers import PROTOCOL_VERSION, Probe, mcp_initialize, server_specs
from agentdock.launcher.session import connect_docker

__all__ = ["Check", "proxy_round_trip", "run_doctor"]

_ROUND_TRIP = r"""
coproc PROXY { exec python3 "$PROXY" "$URL" --retries 1 --timeout 10000 --header "Authorization=Bearer $TOKEN"; }
printf '%s\n' "$REQUEST" >&"${PROXY[1]}"
if IFS= read -r -t "$WAIT" line <&"${PROXY[0]}"; then printf '%s\n' "$line"; status=0; else status=1; fi
kill "$PROXY_PID" 2>/dev/null
exit "$status"
"""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False  # ok, but worth a look (printed as [warn], not counted as a failure)


def proxy_round_trip(client: Any, image: str, url: str, token: str, *, wait_s: int = 30) -> Probe:
    """Run the image's proxy against ``url`` in a throwaway container; one ``initialize`` through it."""
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "agentdock-doctor", "version": "1"},
        },
    }
    container = None
    try:
        container = client.containers.run(
            image,
            ["bash", "-c", _ROUND_TRIP],
            entrypoint=[],
            detach=True,
            environment={
                "PROXY": PROXY_PATH,
                "URL": url,
                "TOKEN": token,
                "REQUEST": json.dumps(request),
                "WAIT": str(wait_s),
            },
            extra_hosts={"host.docker.internal": "host-gateway"},
            labels={"io.agentdock.role": "doctor"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            pids_limit=64,
        )
        result = container.wait(timeout=wait_s + 15)
        out = bytes(container.logs(stdout=True, stderr=False)).decode("utf-8", "replace").strip()
        err = bytes(container.logs(stdout=False, stderr=True)).decode("utf-8", "replace").strip()
    except (docker.errors.DockerException, httpx.HTTPError, OSError) as exc:
        return Probe(False, f"round trip container failed: {exc}")
    except Exception as exc:  # requests' ReadTimeout from container.wait
        return Probe(False, f"round trip timed out: {type(exc).__name__}: {exc}")
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)
    if result.get("StatusCode") != 0 or not out:
        return Probe(False, f"no answer through the proxy (exit {result.get('StatusCode')}): {err[-400:]}")
    try:
        info = json.loads(out.splitlines()[-1])["result"]["serverInfo"]
    except (ValueError, KeyError, TypeError):
        return Probe(False, f"unexpected answer through the proxy: {out[:300]}")
    return Probe(True, f"{info.get('name', '?')} {info.get('version', '')}".strip(), 200)


def _host_certs_check() -> Check:
    """What the image build will trust beyond the public roots (TLS-intercepting proxies)."""
    found = host_ca_certificates(os.environ)
    if found:
        return Check(
            "host certificates", True, f"{len(found)} locally added CA certificate(s) go into image builds"
        )
    return Check(
        "host certificates",
        True,
        "none locally added (fine without a TLS-intercepting proxy; behind one, add its CA to the "
        "host's trust store or set SSL_CERT_FILE)",
    )


def _checks(
    project_root: Path | None, data_dir: Path, image: str, qms_port: int | None, git_port: int | None
) -> list[Check]:
    checks: list[Check] = [_host_certs_check()]
    try:
        with connect_docker() as client:
            checks.append(Check("engine", True, f"Docker {client.version().get('Version', '?')} answers"))
            checks.extend(
                _with_engine(
                    client,
                    project_root=project_root,
                    data_dir=data_dir,
                    image=image,
                    qms_port=qms_port,
                    git_port=git_port,
                )
            )
    except LauncherError as exc:
        checks.append(Check("engine", False, str(exc), "start the Docker engine"))
    return checks


def _git_sandbox(root: Path) -> Check:
    """``git-mcp --check``: whether git steps will run in the sandbox here (docs/security/git-sandbox.md)."""
    import subprocess

    from agentdock.defaults import child_env
    from agentdock.launcher.project import find_console_script

    try:
        done = subprocess.run(
            [*find_console_script("git-mcp"), "--check", "--project-root", str(root)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=child_env(),
        )
    except (OSError, subprocess.SubprocessError, LauncherError) as exc:
        return Check("git sandbox", False, f"git-mcp --check could not run: {exc}")
    text = (done.stdout + done.stderr).strip().splitlines()
    detail = next((line for line in text if "sandbox" in line), text[-1] if text else "no output")
    fix = "" if done.returncode == 0 else "install bubblewrap (apt install bubblewrap), or see git-sandbox.md"
    return Check("git sandbox", done.returncode == 0 and "sandbox bwrap" in detail, detail, fix)


def _with_engine(
    client: Any,
    *,
    project_root: Path | None,
    data_dir: Path,
    image: str,
    qms_port: int | None,
    git_port: int | None,
) -> list[Check]:
    checks = [
        Check("docker CLI", True, str(shutil.which("docker")))
        if shutil.which("docker")
        else Check("docker CLI", False, "`docker` not on PATH", "install the Docker CLI (needed to attach)")
    ]
    try:
        root = resolve_project_root(project_root, cwd=Path.cwd(), data_dir=data_dir, init=lambda _: None)
        agents = agent_names(root)
        checks.append(
            Check(
                "project",
                bool(agents),
                f"{root}: agents {', '.join(agents) or 'none'}",
                "" if agents else "run: qms init --root DIR",
            )
        )
    except LauncherError as exc:
        return [
            *checks,
            Check("project", False, str(exc), "pass --project-root DIR, or run ./launch.sh once"),
        ]

    from agentdock.mcphost import legacy_secrets

    leftovers = legacy_secrets(root)
    checks.append(
        Check(
            "secrets",
            not leftovers,
            f"none under the project (data in {paths.project_data_dir(root)})"
            if not leftovers
            else "an earlier version left secrets in the project: " + ", ".join(map(str, leftovers)),
            "" if not leftovers else "./launch.sh (or agentdock token <agent>) moves them out once",
        )
    )

    if is_git_work_tree(root):
        checks.append(_git_sandbox(root))
    image_ok = False
    try:
        labels = client.images.get(image).attrs.get("Config", {}).get("Labels") or {}
        uid, gid = container_ids()
        current = inputs_hash(ImageSpec(repo=agentdock_checkout(), tag=image, uid=uid, gid=gid))
        image_ok = True
        if labels.get(LABEL_INPUTS) == current:
            checks.append(Check("image", True, f"{image} matches the checkout"))
        else:
            checks.append(
                Check("image", False, f"{image} is older than the checkout", "./launch.sh rebuilds it")
            )
    except docker.errors.ImageNotFound:
        checks.append(Check("image", False, f"{image} is missing", "./launch.sh builds it (or --rebuild)"))
    except LauncherError as exc:
        image_ok = True
        checks.append(Check("image", False, str(exc)))

    from agentdock.mcphost import AuthError, TokenStore

    token = None
    try:
        with_tokens = TokenStore(root).agents()
        for agent in [a for a in ("claude", *agents) if a in with_tokens][:1]:
            token = paths.agent_token_file(root, agent).read_text(encoding="utf-8").strip()
        checks.append(
            Check(
                "tokens",
                bool(with_tokens),
                f"agents with tokens: {', '.join(with_tokens) or 'none'}",
                "" if with_tokens else "./launch.sh provisions the agent's token",
            )
        )
    except (AuthError, OSError) as exc:
        checks.append(Check("tokens", False, f"{exc}", "agentdock token <agent> --project-root DIR"))
    if token is None:
        return [*checks, *_agent_checks(client, root)]

    recorded = registered_projects(data_dir).get(root.resolve(), Ports(QMS_PORT, GIT_PORT))
    qms_port = recorded.qms if qms_port is None else qms_port
    git_port = recorded.git if git_port is None else git_port
    if not is_git_work_tree(root):
        checks.append(
            Check("git gateway", True, f"off: {root} is not a git repository (agents get the QMS only)")
        )
        git_port = None
    healthy = []
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        for spec in server_specs(root, ["127.0.0.1"], qms_port, git_port):
            probe = mcp_initialize(http, spec.url, token)
            checks.append(
                Check(
                    f"server {spec.command}",
                    probe.ok,
                    f"port {spec.port}: {probe.detail}",
                    "" if probe.ok else f"./launch.sh starts it; log {spec.log_file}",
                )
            )
            if probe.ok:
                healthy.append(spec)
    checks.extend(_server_users(root, healthy))
    if image_ok and healthy:
        spec = healthy[0]
        probe = proxy_round_trip(client, image, f"http://host.docker.internal:{spec.port}/mcp", token)
        checks.append(
            Check(
                "proxy round trip",
                probe.ok,
                f"container -> {spec.command}: {probe.detail}",
                "" if probe.ok else "servers must bind the Docker bridge gateway; see the logs",
            )
        )
    return [*checks, *_agent_checks(client, root)]


def _server_users(root: Path, specs: list[Any]) -> list[Check]:
    """For each healthy server: the uid its process runs as; a warning when that is root."""
    from agentdock.launcher.servers import read_pid_file, server_processes

    found = server_processes(root)
    checks = []
    for spec in specs:
        pid = read_pid_file(spec.pid_file)
        if pid is None or pid not in found:  # started by hand: find it by its argv
            pid = next((p for p in found if spec.command in _cmdline(p)), None)
        uid = process_uid(pid) if pid is not None else None
        if pid is None or uid is None:
            continue
        if uid == 0:
            checks.append(
                Check(
                    f"{spec.command} user",
                    True,
                    f"pid {pid} runs as root: a flaw in it would hand an agent the host",
                    "stop it (./launch.sh stop) and launch as an ordinary user",
                    warn=True,
                )
            )
        else:
            checks.append(Check(f"{spec.command} user", True, f"pid {pid} runs as uid {uid}"))
    return checks


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _agent_checks(client: Any, root: Path) -> list[Check]:
    """For each running agent container of ``root``: its limits, capabilities and network policy."""
    from agentdock.launcher.containers import existing_containers, project_key

    try:
        running = [c for c in existing_containers(client, root) if c.status == "running"]
    except LauncherError as exc:
        return [Check("agent containers", False, str(exc))]
    if not running:
        return [Check("agent containers", True, "none running")]
    checks = []
    relaunch = "relaunch it: ./launch.sh stop --containers, then ./launch.sh <agent>"
    for container in running:
        posture = container_posture(container)
        problems = posture.problems
        checks.append(
            Check(
                f"container {posture.name}",
                not problems,
                posture.describe() + (f" -- {'; '.join(problems)}" if problems else ""),
                relaunch if problems else "",
            )
        )
    policies = {container_posture_policy(c) for c in running}
    if "strict" in policies:
        state = strict_state()
        tag = project_tag(project_key(root))
        if not state.readable:
            checks.append(
                Check("network policy", True, f"strict; rules unreadable ({state.detail})", warn=True)
            )
        elif state.active and tag in state.allowances:
            checks.append(
                Check(
                    "network policy",
                    True,
                    f"strict: iptables rules in place, host ports {state.allowances[tag]} allowed",
                )
            )
        else:
            checks.append(
                Check(
                    "network policy",
                    False,
                    "strict containers run but the iptables rules are missing: they reach the LAN and host",
                    "./launch.sh --network-policy strict <agent> sets them again",
                )
            )
    if "strict" not in policies or len(policies) > 1:
        checks.append(
            Check(
                "network policy",
                True,
                "open: agents reach the internet, every host port and the LAN",
                "./launch.sh --network-policy strict limits the host to the two server ports",
                warn=True,
            )
        )
    return checks


def container_posture_policy(container: Any) -> str:
    labels = (container.attrs.get("Config") or {}).get("Labels") or {}
    return str(labels.get(LABEL_POLICY, "open"))


def run_doctor(
    *,
    project_root: Path | None,
    data_dir: Path,
    image: str,
    qms_port: int | None,
    git_port: int | None,
    stream: TextIO,
) -> int:
    checks = _checks(project_root, data_dir, image, qms_port, git_port)
    for check in checks:
        mark = ("warn" if check.warn else "ok  ") if check.ok else "FAIL"
        print(f"[{mark}] {check.name}: {check.detail}", file=stream)
        if (check.warn or not check.ok) and check.fix:
            print(f"       fix: {check.fix}", file=stream)
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} ok, {len(failed)} to fix", file=stream)
    return 1 if failed else 0
