from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentdock.soak.report.data import (
    EXIT_BELOW_BAR,
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    build_report,
    write_report,
)
from agentdock.soak.report.html import render_html
from agentdock.soak.runner import SoakConfig, SoakResult


def _result(records, **config) -> SoakResult:
    return SoakResult(
        config=SoakConfig(launches=config.pop("launches", len(records)), **config),
        records=tuple(records),
        started_at=1_700_000_000.0,
        finished_at=1_700_000_120.0,
    )


def test_report_counts_each_path_with_its_wilson_interval(make_record) -> None:
    records = [make_record(i, direct=(i % 4 != 0)) for i in range(40)]
    report = build_report(_result(records))
    proxy, direct = report["paths"]["proxy"], report["paths"]["direct"]
    assert (proxy["attempts"], proxy["successes"], proxy["failures"]) == (40, 40, 0)
    assert proxy["wilson95"]["lower"] == pytest.approx(0.91238, abs=1e-5)
    assert (direct["successes"], direct["failures"]) == (30, 10)
    assert direct["success_rate"] == 0.75
    assert direct["failures_by_step"] == {"mcp_list": 10}
    assert report["baseline"]["wilson95"]["lower"] == pytest.approx(proxy["wilson95"]["lower"])


def test_report_gives_latency_percentiles_for_start_readiness_and_first_response(make_record) -> None:
    records = [make_record(i, first_ms=100.0) for i in range(101)]
    report = build_report(_result(records))
    assert report["latency_ms"]["container_start"]["p50"] == 550.0
    assert report["latency_ms"]["readiness"]["p95"] == pytest.approx(995.0)
    first = report["paths"]["proxy"]["latency_ms"]["first_response"]
    assert (first["count"], first["p50"], first["p99"]) == (101, 150.0, pytest.approx(199.0))
    assert report["paths"]["direct"]["latency_ms"]["mcp_list"]["p50"] == 2050.0


def test_launch_rate_is_completed_launches_per_minute_of_wall_clock(make_record) -> None:
    report = build_report(_result([make_record(i) for i in range(10)]))
    assert report["launches"]["rate_per_minute"] == pytest.approx(5.0)


def test_any_proxy_failure_fails_the_run(make_record) -> None:
    records = [make_record(i) for i in range(9)] + [make_record(9, proxy=False)]
    verdict = build_report(_result(records))["verdict"]
    assert verdict["exit_code"] == EXIT_BELOW_BAR
    assert verdict["reasons"] == ["proxy path failed 1 of 10 times"]
    failure = build_report(_result(records))["failures"][0]
    assert (failure["index"], failure["path"], failure["step"]) == (9, "proxy", "mcp_list")


def test_direct_path_failures_alone_do_not_fail_the_run(make_record) -> None:
    records = [make_record(i, direct=False) for i in range(5)]
    verdict = build_report(_result(records))["verdict"]
    assert verdict == {"passed": True, "exit_code": EXIT_OK, "reasons": []}


def test_min_success_replaces_the_zero_failure_bar_with_a_rate(make_record) -> None:
    records = [make_record(i, proxy=(i != 0)) for i in range(100)]
    assert build_report(_result(records, min_success=0.99))["verdict"]["exit_code"] == EXIT_OK
    below = build_report(_result(records, min_success=0.995))["verdict"]
    assert below["exit_code"] == EXIT_BELOW_BAR
    assert "below --min-success 0.995" in below["reasons"][0]


def test_launches_that_never_reached_the_paths_make_an_otherwise_clean_run_inconclusive(make_record) -> None:
    records = [make_record(0), make_record(1, infra_error="image missing")]
    report = build_report(_result(records))
    assert report["launches"]["infrastructure_failures"] == 1
    assert report["paths"]["proxy"]["attempts"] == 1
    assert report["verdict"]["exit_code"] == EXIT_INCONCLUSIVE
    assert report["failures"][0]["step"] == "container"


def test_proxy_failure_outranks_an_inconclusive_launch(make_record) -> None:
    records = [make_record(0, proxy=False), make_record(1, infra_error="image missing")]
    assert build_report(_result(records))["verdict"]["exit_code"] == EXIT_BELOW_BAR


def test_a_run_with_no_proxy_attempt_is_inconclusive(make_record) -> None:
    records = [make_record(0, infra_error="no engine")]
    verdict = build_report(_result(records))["verdict"]
    assert verdict["exit_code"] == EXIT_INCONCLUSIVE
    assert "never attempted" in verdict["reasons"][0]


def test_write_report_puts_json_and_a_self_contained_html_page_in_the_folder(
    make_record, tmp_path: Path
) -> None:
    records = [make_record(i, direct=(i != 3)) for i in range(12)]
    report = build_report(_result(records))
    json_path, html_path = write_report(tmp_path / "out", report, records)
    assert json.loads(json_path.read_text()) == report
    page = html_path.read_text()
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") >= 3
    assert not re.search(r"""(src|href)=["']https?:""", page)
    assert "<script" not in page


def test_html_shows_success_over_time_with_a_tick_for_each_failed_launch(make_record) -> None:
    records = [make_record(i, direct=(i not in {2, 5})) for i in range(10)]
    page = render_html(build_report(_result(records)), records)
    assert "Cumulative success rate" in page
    assert page.count('class="mark"') == 2
    assert "40/40 bound" in page
    assert "launch 2 · seed 7" in page and "launch 5 · seed 7" in page


def test_html_escapes_errors_and_evidence(make_record) -> None:
    hostile = "<script>alert(1)</script>"
    records = [make_record(0, proxy=False, evidence={"container_logs": hostile})]
    report = build_report(_result(records))
    page = render_html(report, records)
    assert hostile not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _session_record(index: int, calls, *, duplicates: int = 0):
    from agentdock.soak.records import LaunchRecord, PathResult

    ok = all(c.ok for c in calls) and not duplicates
    result = PathResult(
        ok=ok,
        failed_step=None if ok else "call",
        calls=tuple(calls),
        duplicates=duplicates,
        lost=0,
    )
    return LaunchRecord(
        index=index, seed=index, profile="flaky", started_at=0.0, duration_ms=1.0,
        paths={"proxy": result, "direct": result},
    )  # fmt: skip


def test_session_reports_count_every_call_run_apart_from_calls_never_issued(tmp_path: Path) -> None:
    from agentdock.soak.records import CallResult, read_launches

    good = [CallResult(step=i, tool="qms_status", ok=True, latency_ms=10.0 * i) for i in range(1, 21)]
    broken = [
        *good[:4],
        CallResult(step=5, tool="qms_checkin", ok=False, event="burst-503", error="503"),
        *[CallResult(step=i, tool="qms_status", ok=False, ran=False, error="not run") for i in range(6, 21)],
    ]
    good[2] = CallResult(step=3, tool="qms_status", ok=True, latency_ms=30.0, event="burst-503")
    records = [_session_record(0, good), _session_record(1, broken), _session_record(2, good, duplicates=1)]
    report = build_report(_result(records, mode="session"))
    calls = report["paths"]["proxy"]["calls"]
    assert (calls["total"], calls["ok"], calls["not_run"]) == (20 + 5 + 20, 44, 15)
    assert calls["sessions_completed"] == 1 and calls["duplicates"] == 1
    assert calls["after_fault"] == {"burst-503": {"calls": 3, "ok": 2}}
    assert calls["failures_by_tool"] == {"qms_checkin": 1}
    assert calls["wilson95"]["lower"] < 44 / 45 < calls["wilson95"]["upper"]
    html = render_html(report, records)
    assert "Calls in sessions" in html and "44/45" in html
    write_report(tmp_path, report, records)
    (tmp_path / "launches.jsonl").write_text("".join(r.to_line() for r in records))
    assert read_launches(tmp_path / "launches.jsonl") == records  # calls survive the round trip


def test_launch_reports_have_no_calls_block(make_record) -> None:
    report = build_report(_result([make_record(0)]))
    assert "calls" not in report["paths"]["proxy"]
