"""The strict network policy's rules against an in-memory iptables (no root, no kernel)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import pytest

from agentdock.launcher.errors import NetworkPolicyError
from agentdock.launcher.netpolicy import (
    CHAIN_FWD,
    CHAIN_IN,
    CHAIN_PORTS,
    TAG,
    apply_strict,
    blocked_destinations,
    connected_networks,
    remove_strict,
    strict_state,
)

ROUTES = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
wlan0\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
tun0\t0000000B\t0100000A\t0003\t0\t0\t0\t000000FF\t0\t0\t0
"""


class FakeIptables:
    """Chains of rule strings, answering the subset of iptables the policy uses, like iptables -S."""

    def __init__(self) -> None:
        self.chains: dict[str, list[str]] = {"INPUT": ["-j ACCEPT-ALL"], "DOCKER-USER": ["-j RETURN"]}
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> tuple[int, str]:
        self.calls.append(list(args))
        op, chain, rest = args[0], args[1], list(args[2:])
        rule = shlex.join(rest)
        if op == "-S":
            if chain not in self.chains:
                return 1, f"iptables: No chain/target/match by that name. ({chain})"
            lines = [f"-N {chain}"] + [f"-A {chain} {r}" for r in self.chains[chain]]
            return 0, "\n".join(lines)
        if op == "-N":
            if chain in self.chains:
                return 1, "Chain already exists."
            self.chains[chain] = []
            return 0, ""
        if chain not in self.chains:
            return 1, "No chain/target/match by that name."
        rules = self.chains[chain]
        if op == "-C":
            return (0, "") if rule in rules else (1, "Bad rule")
        if op == "-A":
            rules.append(rule)
        elif op == "-I":
            rules.insert(int(rest[0]) - 1, shlex.join(rest[1:]))
        elif op == "-D":
            if rule not in rules:
                return 1, "Bad rule (does a matching rule exist in that chain?)."
            rules.remove(rule)
        elif op == "-F":
            rules.clear()
        elif op == "-X":
            if any(f"-j {chain}" in r for rs in self.chains.values() for r in rs):
                return 1, "Too many links."
            del self.chains[chain]
        return 0, ""


def test_connected_networks_are_the_routes_without_a_gateway_except_the_default() -> None:
    assert connected_networks(ROUTES) == ["192.0.2.0/24", "192.168.0.0/16"]


def test_blocked_destinations_cover_private_link_local_and_the_hosts_lans() -> None:
    blocked = blocked_destinations(ROUTES)
    for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "192.0.2.0/24"):
        assert cidr in blocked
    assert not any(c.startswith(("1.", "8.", "160.")) for c in blocked)  # the internet stays reachable


def test_strict_rules_allow_replies_the_projects_ports_and_nothing_else_on_the_host() -> None:
    ipt = FakeIptables()
    apply_strict([8001, 8000], "p1", runner=ipt, route_table=ROUTES, check_root=False)
    assert ipt.chains["INPUT"][0] == f"-i agd-strict -m comment --comment {TAG} -j {CHAIN_IN}"
    assert ipt.chains["DOCKER-USER"][0] == f"-i agd-strict -m comment --comment {TAG} -j {CHAIN_FWD}"
    assert ipt.chains["INPUT"][1:] == ["-j ACCEPT-ALL"]  # the host's own rules are untouched
    rules_in = ipt.chains[CHAIN_IN]
    assert rules_in[0].endswith("--ctstate ESTABLISHED,RELATED -j ACCEPT")
    assert rules_in[1] == f"-j {CHAIN_PORTS}" and "REJECT" in rules_in[-1]
    assert ipt.chains[CHAIN_PORTS] == [
        "-p tcp -m multiport --dports 8000,8001 -m comment --comment agentdock:p1 -j ACCEPT"
    ]
    fwd = ipt.chains[CHAIN_FWD]
    assert fwd.index("-p udp --dport 53 -j RETURN") < fwd.index(
        "-d 10.0.0.0/8 -j REJECT --reject-with icmp-admin-prohibited"
    )


def test_applying_twice_changes_nothing_and_a_second_project_adds_only_its_ports() -> None:
    ipt = FakeIptables()
    apply_strict([8000, 8001], "p1", runner=ipt, route_table=ROUTES, check_root=False)
    before = {k: list(v) for k, v in ipt.chains.items()}
    apply_strict([8000, 8001], "p1", runner=ipt, route_table=ROUTES, check_root=False)
    assert ipt.chains == before
    apply_strict([9000, 9001], "p2", runner=ipt, route_table=ROUTES, check_root=False)
    assert len(ipt.chains[CHAIN_PORTS]) == 2 and ipt.chains["INPUT"] == before["INPUT"]
    apply_strict([9100, 9101], "p2", runner=ipt, route_table=ROUTES, check_root=False)  # ports moved
    assert strict_state(ipt).allowances == {"agentdock:p1": "8000,8001", "agentdock:p2": "9100,9101"}


def test_a_half_built_chain_is_rebuilt_before_the_jump_goes_in() -> None:
    ipt = FakeIptables()
    ipt.chains[CHAIN_IN] = ["-j ACCEPT"]  # a crash left the chain, but no jump to it
    apply_strict([8000, 8001], "p1", runner=ipt, route_table=ROUTES, check_root=False)
    assert "-j ACCEPT" not in ipt.chains[CHAIN_IN]
    jump_at = next(i for i, c in enumerate(ipt.calls) if c[:2] == ["-I", "INPUT"])
    last_fill = max(i for i, c in enumerate(ipt.calls) if c[:2] == ["-A", CHAIN_IN])
    assert last_fill < jump_at


def test_stop_removes_only_its_project_and_the_rest_once_unused() -> None:
    ipt = FakeIptables()
    apply_strict([8000, 8001], "p1", runner=ipt, route_table=ROUTES, check_root=False)
    apply_strict([9000, 9001], "p2", runner=ipt, route_table=ROUTES, check_root=False)
    assert remove_strict("p1", keep_base=False, runner=ipt) == ["port rule agentdock:p1"]
    assert strict_state(ipt).active and list(strict_state(ipt).allowances) == ["agentdock:p2"]
    # a strict container still runs: its traffic stays rejected (fail closed)
    assert remove_strict("p2", keep_base=True, runner=ipt) == ["port rule agentdock:p2"]
    assert strict_state(ipt).active and not strict_state(ipt).allowances
    removed = remove_strict("p2", keep_base=False, runner=ipt)
    assert "jump in INPUT" in removed and "chain AGENTDOCK-IN" in removed
    assert ipt.chains == {"INPUT": ["-j ACCEPT-ALL"], "DOCKER-USER": ["-j RETURN"]}
    assert remove_strict("p2", keep_base=False, runner=ipt) == []  # idempotent


def test_missing_docker_user_chain_or_a_failing_iptables_is_a_clear_error() -> None:
    ipt = FakeIptables()
    del ipt.chains["DOCKER-USER"]
    with pytest.raises(NetworkPolicyError, match="DOCKER-USER chain is missing"):
        apply_strict([1, 2], "p", runner=ipt, route_table=ROUTES, check_root=False)

    def refusing(args: Sequence[str]) -> tuple[int, str]:
        if args[0] in {"-S", "-C"}:
            return ipt(args) if args[1] != "INPUT" else (0, "")
        return 4, "Permission denied (you must be root)"

    ipt = FakeIptables()
    with pytest.raises(NetworkPolicyError, match="Permission denied"):
        apply_strict([1, 2], "p", runner=refusing, route_table=ROUTES, check_root=False)
