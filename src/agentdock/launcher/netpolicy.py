"""Where an agent container may connect: the agents' Docker networks and ``--network-policy strict``.

Every agent container joins a dedicated bridge network with inter-container traffic off
(``enable_icc=false``), so agents cannot talk to each other over the network:

* ``open`` (default): network ``agentdock-agents`` (bridge ``agd-open``).  The container reaches
  the internet, the host (every port it listens on, through the bridge) and the LAN.
* ``strict``: network ``agentdock-strict`` (bridge ``agd-strict``) plus iptables rules that
  ``./launch.sh --network-policy strict`` sets and ``./launch.sh stop`` removes:

  - ``INPUT -i agd-strict -j AGENTDOCK-IN`` — a container's packets to any of the host's own
    addresses (``host.docker.internal``, the bridge gateways, the LAN address) are *input* to the
    host, not forwarded, so ``DOCKER-USER`` never sees them.  ``AGENTDOCK-IN`` accepts replies,
    then the server ports listed in ``AGENTDOCK-PORTS`` (one tagged rule per project), and rejects
    the rest (TCP reset, so a refused connection fails at once).
  - ``DOCKER-USER -i agd-strict -j AGENTDOCK-FWD`` — forwarded traffic: replies and DNS (port 53,
    to whatever resolver the host uses) pass; private, link-local (cloud metadata), loopback,
    multicast and reserved ranges and every network the host is directly connected to (its LAN)
    are rejected; the rest — the internet, where the Anthropic API is — passes.

Every rule we add carries the comment ``agentdock-netpolicy`` (the jumps) or
``agentdock:<project key>`` (a project's ports) and lives in our own chains, so removal touches
only what we added.  Setting up is crash-safe and idempotent: a chain is filled before the jump to
it is inserted, and a present jump means a complete chain.  ``./launch.sh stop`` removes the
project's port rule and, once no project has one and no container is on the strict network, the
chains and jumps; while a strict container still runs the rejecting chains stay (fail closed).
Changing the host firewall needs root; ``strict`` is therefore opt-in.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

from agentdock.launcher.errors import ConfigError, DockerError, NetworkPolicyError
from agentdock.launcher.locks import step_lock

__all__ = [
    "CHAIN_FWD",
    "CHAIN_IN",
    "CHAIN_PORTS",
    "LABEL_POLICY",
    "NETWORKS",
    "POLICIES",
    "TAG",
    "AgentNetwork",
    "Runner",
    "StrictState",
    "apply_strict",
    "blocked_destinations",
    "connected_networks",
    "ensure_network",
    "network_for",
    "project_tag",
    "release_strict",
    "remove_strict",
    "run_iptables",
    "strict_network_in_use",
    "strict_state",
]

POLICIES = ("open", "strict")
LABEL_POLICY = "io.agentdock.network-policy"
TAG = "agentdock-netpolicy"
CHAIN_IN = "AGENTDOCK-IN"
CHAIN_PORTS = "AGENTDOCK-PORTS"
CHAIN_FWD = "AGENTDOCK-FWD"
#: Destinations a strict container may never reach through the host's forwarding (besides the
#: host's connected networks): RFC 1918, CGNAT, loopback, link-local (cloud metadata at
#: 169.254.169.254), IETF/benchmark/reserved blocks, multicast.
PRIVATE_RANGES = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
)

#: Runs ``iptables ARGS`` and returns (exit status, combined output).
Runner = Callable[[Sequence[str]], tuple[int, str]]


@dataclass(frozen=True)
class AgentNetwork:
    name: str  # the Docker network
    bridge: str  # its Linux bridge interface (what the iptables rules match)
    policy: str


NETWORKS = {
    "open": AgentNetwork("agentdock-agents", "agd-open", "open"),
    "strict": AgentNetwork("agentdock-strict", "agd-strict", "strict"),
}


def network_for(policy: str) -> AgentNetwork:
    try:
        return NETWORKS[policy]
    except KeyError:
        raise ConfigError(f"network policy {policy!r} is not one of {', '.join(POLICIES)}") from None


def ensure_network(client: Any, policy: str) -> AgentNetwork:
    """The agents' network for ``policy``, created when missing (bridge named, ICC off)."""
    net = network_for(policy)
    try:
        found = client.networks.list(names=[net.name])
        if not any(n.name == net.name for n in found):
            try:
                client.networks.create(
                    net.name,
                    driver="bridge",
                    check_duplicate=True,
                    options={
                        "com.docker.network.bridge.name": net.bridge,
                        "com.docker.network.bridge.enable_icc": "false",
                    },
                    labels={"io.agentdock.role": "agent-network", LABEL_POLICY: policy},
                )
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: another launch created it a moment ago
                    raise
    except docker.errors.DockerException as exc:
        raise DockerError(f"cannot create the agents' network {net.name}: {exc}") from exc
    return net


# --------------------------------------------------------------------------------------------
# iptables


def run_iptables(args: Sequence[str]) -> tuple[int, str]:
    """``iptables -w ARGS`` (waits for the xtables lock); NetworkPolicyError when it is missing."""
    try:
        proc = subprocess.run(
            ["iptables", "-w", *args], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError as exc:
        raise NetworkPolicyError(
            "--network-policy strict needs the iptables command (apt-get install iptables)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise NetworkPolicyError(f"iptables {' '.join(args)} did not finish in 30 s") from exc
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def connected_networks(route_table: str) -> list[str]:
    """IPv4 networks the host reaches without a gateway (its LANs), from ``/proc/net/route`` text."""
    found: list[str] = []
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            dest, gateway, mask = (int(fields[i], 16) for i in (1, 2, 7))
        except ValueError:
            continue
        if gateway != 0 or mask == 0:  # via a router, or the default route
            continue
        net = ipaddress.IPv4Network(
            (ipaddress.IPv4Address(dest.to_bytes(4, "little")), bin(mask).count("1")), strict=False
        )
        found.append(str(net))
    return found


def blocked_destinations(route_table: str) -> list[str]:
    """What strict containers may not reach through forwarding, collapsed and sorted."""
    nets = [ipaddress.IPv4Network(n) for n in (*PRIVATE_RANGES, *connected_networks(route_table))]
    return [str(n) for n in ipaddress.collapse_addresses(nets)]


def project_tag(key: str) -> str:
    return f"agentdock:{key}"


def _comment(text: str) -> list[str]:
    return ["-m", "comment", "--comment", text]


def _base_rules(blocked: Sequence[str]) -> dict[str, list[list[str]]]:
    established = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED"]
    fwd = [
        [*established, "-j", "RETURN"],
        ["-p", "udp", "--dport", "53", "-j", "RETURN"],
        ["-p", "tcp", "--dport", "53", "-j", "RETURN"],
        *(["-d", cidr, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"] for cidr in blocked),
    ]
    return {
        CHAIN_PORTS: [],
        CHAIN_IN: [
            [*established, "-j", "ACCEPT"],
            ["-j", CHAIN_PORTS],
            ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
            ["-j", "REJECT", "--reject-with", "icmp-port-unreachable"],
        ],
        CHAIN_FWD: fwd,
    }


def _jumps(bridge: str) -> list[tuple[str, list[str]]]:
    return [
        ("INPUT", ["-i", bridge, *_comment(TAG), "-j", CHAIN_IN]),
        ("DOCKER-USER", ["-i", bridge, *_comment(TAG), "-j", CHAIN_FWD]),
    ]


def _ok(runner: Runner, args: Sequence[str]) -> str:
    code, out = runner(args)
    if code != 0:
        raise NetworkPolicyError(f"iptables {shlex.join(args)} failed ({code}): {out}")
    return out


def _exists(runner: Runner, chain: str, rule: Sequence[str]) -> bool:
    return runner(["-C", chain, *rule])[0] == 0


def _chain_exists(runner: Runner, chain: str) -> bool:
    return runner(["-S", chain])[0] == 0


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise NetworkPolicyError(
            f"{what} changes the host firewall (iptables) and needs root: run ./launch.sh with sudo, "
            "or use --network-policy open"
        )


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    folder = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    with step_lock(folder / "agentdock-netpolicy.lock", what="changing the network policy", timeout_s=60):
        yield


def _routes() -> str:
    try:
        return Path("/proc/net/route").read_text(encoding="ascii")
    except OSError:
        return ""


def apply_strict(
    ports: Sequence[int],
    key: str,
    *,
    runner: Runner = run_iptables,
    route_table: str | None = None,
    check_root: bool = True,
) -> None:
    """Set the strict rules (idempotent) and allow ``ports`` on the host for project ``key``."""
    if check_root:
        _require_root("--network-policy strict")
    bridge = NETWORKS["strict"].bridge
    if not _chain_exists(runner, "DOCKER-USER"):
        raise NetworkPolicyError(
            "the DOCKER-USER chain is missing: the engine does not manage iptables (iptables=false?)"
        )
    with _lock():
        base = _base_rules(blocked_destinations(_routes() if route_table is None else route_table))
        jumps = _jumps(bridge)
        if not all(_exists(runner, chain, rule) for chain, rule in jumps):
            # (Re)build the chains first; the jumps go in last, so a jump always means a full chain.
            for chain, rules in base.items():
                if chain == CHAIN_PORTS and _chain_exists(runner, chain):
                    continue  # other projects' allowances stay
                if not _chain_exists(runner, chain):
                    _ok(runner, ["-N", chain])
                _ok(runner, ["-F", chain])
                for rule in rules:
                    _ok(runner, ["-A", chain, *rule])
            for chain, rule in jumps:
                if not _exists(runner, chain, rule):
                    _ok(runner, ["-I", chain, "1", *rule])
        allow = [
            "-p", "tcp", "-m", "multiport", "--dports", ",".join(str(p) for p in sorted(set(ports))),
            *_comment(project_tag(key)), "-j", "ACCEPT",
        ]  # fmt: skip
        for line in _rules(runner, CHAIN_PORTS):
            if _comment_of(line) == project_tag(key) and shlex.split(line)[2:] != allow:
                _ok(runner, ["-D", *shlex.split(line)[1:]])  # the project's ports changed
        if not _exists(runner, CHAIN_PORTS, allow):
            _ok(runner, ["-A", CHAIN_PORTS, *allow])


def _rules(runner: Runner, chain: str) -> list[str]:
    code, out = runner(["-S", chain])
    if code != 0:
        return []
    return [line for line in out.splitlines() if line.startswith("-A ")]


def _comment_of(line: str) -> str | None:
    args = shlex.split(line)
    return args[args.index("--comment") + 1] if "--comment" in args[:-1] else None


def remove_strict(key: str, *, keep_base: bool, runner: Runner = run_iptables) -> list[str]:
    """Remove project ``key``'s allowance; remove everything once no project has one, unless
    ``keep_base`` (a strict container still runs).  Returns what was removed (for the report)."""
    removed: list[str] = []
    with _lock():
        for line in _rules(runner, CHAIN_PORTS):
            if _comment_of(line) == project_tag(key):
                _ok(runner, ["-D", *shlex.split(line)[1:]])
                removed.append(f"port rule {project_tag(key)}")
        if keep_base or _rules(runner, CHAIN_PORTS):
            return removed
        for chain in ("INPUT", "DOCKER-USER"):
            for line in _rules(runner, chain):
                if _comment_of(line) == TAG:
                    _ok(runner, ["-D", *shlex.split(line)[1:]])
                    removed.append(f"jump in {chain}")
        for chain in (CHAIN_IN, CHAIN_FWD, CHAIN_PORTS):
            if _chain_exists(runner, chain):
                _ok(runner, ["-F", chain])
                _ok(runner, ["-X", chain])
                removed.append(f"chain {chain}")
    return removed


@dataclass(frozen=True)
class StrictState:
    readable: bool  # False: not root, or no iptables
    active: bool  # both jumps in place
    allowances: dict[str, str]  # project tag -> allowed host ports
    detail: str = ""


def strict_state(runner: Runner = run_iptables) -> StrictState:
    """What strict rules are in place now (for the doctor)."""
    try:
        code, out = runner(["-S", "INPUT"])
    except NetworkPolicyError as exc:
        return StrictState(False, False, {}, str(exc))
    if code != 0:
        return StrictState(False, False, {}, out.splitlines()[0] if out else f"iptables exit {code}")
    bridge = NETWORKS["strict"].bridge
    active = all(_exists(runner, chain, rule) for chain, rule in _jumps(bridge))
    allowances: dict[str, str] = {}
    for line in _rules(runner, CHAIN_PORTS):
        args = shlex.split(line)
        if "--comment" in args and "--dports" in args:
            allowances[args[args.index("--comment") + 1]] = args[args.index("--dports") + 1]
    return StrictState(True, active, allowances)


def strict_network_in_use(client: Any) -> bool:
    """True while a container is attached to the strict network (or when the engine cannot say)."""
    try:
        attrs = client.networks.get(NETWORKS["strict"].name).attrs
    except docker.errors.NotFound:
        return False
    except docker.errors.DockerException:
        return True  # unsure: keep the rejecting chains (fail closed)
    return bool(attrs.get("Containers"))


def release_strict(key: str, in_use: Callable[[], bool], *, runner: Runner = run_iptables) -> list[str]:
    """``./launch.sh stop``: drop project ``key``'s allowance, and the chains when nothing needs
    them.  Without root the firewall cannot be read: nothing is done (a strict launch ran as root)."""
    if os.geteuid() != 0:
        return []
    state = strict_state(runner)
    if not state.readable or not (state.active or state.allowances):
        return []
    return remove_strict(key, keep_base=in_use(), runner=runner)
