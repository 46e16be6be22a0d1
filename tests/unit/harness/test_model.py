"""The fault model: plans load from YAML/JSON with clear errors, matches and seeds behave."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentdock.harness.errors import PlanError
from agentdock.harness.http.exchange import Exchange, Request
from agentdock.harness.http.model import Plan, PlanRunner, fault_from_dict


def req(
    method: str = "tools/call", rid: int = 1, params: dict[str, Any] | None = None, http: str = "POST"
) -> Request:
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}).encode()
    return Request(http, "/mcp", {}, body)


def applied(runner: PlanRunner, request: Request) -> list[str]:
    return runner.apply(Exchange(request))


def test_a_yaml_plan_loads_and_round_trips_through_json(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "seed: 42\nfaults:\n"
        "  - kind: status\n    status: 503\n    retry_after_s: 1\n    match: {method: tools/call, attempt: 1}\n"
        "  - kind: delay_headers\n    delay_ms: 250\n    probability: 0.5\n"
    )
    plan = Plan.load(path)
    assert plan.seed == 42 and [f.kind for f in plan.faults] == ["status", "delay_headers"]
    again = tmp_path / "plan.json"
    again.write_text(plan.dumps())
    assert Plan.load(again) == plan
    assert plan.to_dict()["faults"][0]["match"]["method"] == "tools/call"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"faults": [{"kind": "nope"}]}, "unknown fault kind 'nope'; known kinds: close_after_headers"),
        ({"faults": [{"status": 500}]}, "needs a 'kind'"),
        ({"faults": [{"kind": "status", "statuss": 500}]}, "status.statuss"),
        ({"faults": [{"kind": "status", "status": "500"}]}, "status.status must be an integer"),
        ({"faults": [{"kind": "status", "status": 200}]}, "must be 4xx or 5xx"),
        ({"faults": [{"kind": "status", "body": "xml"}]}, "status.body must be one of"),
        ({"faults": [{"kind": "delay_headers", "delay_ms": -1}]}, "delay_ms must be >= 0"),
        ({"faults": [{"kind": "refuse", "probability": 1.5}]}, "probability must be within [0, 1]"),
        ({"faults": [{"kind": "refuse", "match": {"attempt": 0}}]}, "match.attempt must be >= 1"),
        ({"faults": [{"kind": "refuse", "match": {"methd": "x"}}]}, "match.methd"),
        ({"seed": "x"}, "seed must be an integer"),
        ({"fautls": []}, "unknown plan key"),
        ({"faults": {}}, "faults must be a list"),
    ],
)
def test_a_malformed_plan_is_refused_with_an_error_that_names_the_mistake(
    data: dict[str, Any], needle: str
) -> None:
    with pytest.raises(PlanError) as info:
        Plan.from_dict(data)
    assert needle in str(info.value)


def test_an_unreadable_or_invalid_plan_file_is_a_plan_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read plan"):
        Plan.load(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("faults: [ {kind: refuse\n")
    with pytest.raises(PlanError, match="not valid YAML/JSON"):
        Plan.load(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"faults": [{"kind": "nope"}]}')
    with pytest.raises(PlanError, match=r"wrong\.json: unknown fault kind"):
        Plan.load(wrong)


def test_match_on_method_and_http_method() -> None:
    runner = PlanRunner(Plan.from_dict({"faults": [{"kind": "refuse", "match": {"method": "tools/list"}}]}))
    assert applied(runner, req("tools/call")) == []
    assert applied(runner, req("tools/list")) == ["refuse"]
    assert applied(runner, req("tools/list", http="DELETE")) == []
    anyhttp = PlanRunner(Plan.from_dict({"faults": [{"kind": "refuse", "match": {"http_method": "*"}}]}))
    assert applied(anyhttp, Request("GET", "/mcp", {})) == ["refuse"]


def test_match_attempt_fails_only_the_first_try_of_each_request() -> None:
    runner = PlanRunner(Plan.from_dict({"faults": [{"kind": "refuse", "match": {"attempt": 1}}]}))
    assert applied(runner, req(rid=1)) == ["refuse"]
    assert applied(runner, req(rid=1)) == []  # the retry of the same request
    assert applied(runner, req(rid=2)) == ["refuse"]  # a new request
    assert applied(runner, req(rid=2, params={"x": 1})) == ["refuse"]  # different params: a different request


def test_match_nth_and_times_count_matching_requests_only() -> None:
    plan = {"faults": [{"kind": "refuse", "match": {"method": "tools/call", "nth": 2}}]}
    runner = PlanRunner(Plan.from_dict(plan))
    got = [
        applied(runner, req(m, rid=i))
        for i, m in enumerate(["ping", "tools/call", "ping", "tools/call", "tools/call"])
    ]
    assert got == [[], [], [], ["refuse"], []]
    twice = PlanRunner(Plan.from_dict({"faults": [{"kind": "refuse", "match": {"times": 2}}]}))
    assert [bool(applied(twice, req(rid=i))) for i in range(4)] == [True, True, False, False]


def test_probability_draws_reproduce_with_the_seed_and_change_with_it() -> None:
    def pattern(seed: int) -> list[bool]:
        runner = PlanRunner(
            Plan.from_dict({"seed": seed, "faults": [{"kind": "refuse", "probability": 0.5}]})
        )
        return [bool(applied(runner, req(rid=i))) for i in range(64)]

    assert pattern(3) == pattern(3)
    assert pattern(3) != pattern(4)
    assert 16 < sum(pattern(3)) < 48


def test_adding_a_fault_does_not_change_the_draws_of_the_faults_before_it() -> None:
    one = [{"kind": "refuse", "probability": 0.5}]
    two = [*one, {"kind": "delay_headers", "probability": 0.5}]

    def first_fault_pattern(faults: list[dict[str, Any]]) -> list[bool]:
        runner = PlanRunner(Plan.from_dict({"seed": 9, "faults": faults}))
        return ["refuse" in applied(runner, req(rid=i)) for i in range(40)]

    assert first_fault_pattern(one) == first_fault_pattern(two)


def test_faults_stack_in_plan_order_and_the_exchange_records_them() -> None:
    runner = PlanRunner(
        Plan.from_dict({"faults": [{"kind": "sse_crlf"}, {"kind": "delay_events", "delay_ms": 5}]})
    )
    exchange = Exchange(req())
    runner.apply(exchange)
    assert exchange.applied == ["sse_crlf", "delay_events"]
    assert exchange.newline == "\r\n" and exchange.event_delay_s == 0.005


def test_fault_settings_serialise_with_units_in_their_names() -> None:
    fault = fault_from_dict({"kind": "trickle", "chunk_bytes": 3, "delay_ms": 7})
    assert fault.to_dict() == {
        "kind": "trickle",
        "chunk_bytes": 3,
        "delay_ms": 7,
        "probability": 1.0,
        "match": {"method": None, "http_method": "POST", "attempt": None, "nth": None, "times": None},
    }
