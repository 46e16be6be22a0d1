from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentdock.soak.errors import RecordError
from agentdock.soak.records import (
    SCHEMA,
    LaunchLog,
    LaunchRecord,
    PathResult,
    clip_evidence,
    read_launches,
)


def test_a_record_survives_a_round_trip_through_launches_jsonl(make_record, tmp_path: Path) -> None:
    records = [
        make_record(0),
        make_record(1, proxy=False, evidence={"container_logs": "boom\n", "proxy_stderr": "reset"}),
        make_record(2, infra_error="container exited 125"),
    ]
    path = tmp_path / "run" / "launches.jsonl"
    with LaunchLog(path) as log:
        for record in records:
            log.append(record)
    assert read_launches(path) == records
    first = json.loads(path.read_text().splitlines()[0])
    assert first["schema"] == SCHEMA
    assert first["container"]["start_ms"] == 500.0
    assert first["paths"]["proxy"]["steps_ms"]["mcp_list"] == 2000.0


def test_each_record_is_flushed_as_it_is_appended(make_record, tmp_path: Path) -> None:
    path = tmp_path / "launches.jsonl"
    log = LaunchLog(path)
    try:
        log.append(make_record(0))
        assert read_launches(path) == [make_record(0)]
    finally:
        log.close()


def test_record_ok_needs_every_path_and_no_infrastructure_error(make_record) -> None:
    assert make_record(0).ok
    assert not make_record(0, direct=False).ok
    assert make_record(0, direct=False).path_ok("proxy") is True
    assert make_record(0, direct=False).path_ok("direct") is False
    assert make_record(0, direct=None).path_ok("direct") is None
    assert not make_record(0, infra_error="no container").ok


def test_a_failed_path_must_say_which_step_failed() -> None:
    with pytest.raises(RecordError, match="failed_step"):
        PathResult(ok=False)


def test_a_launch_that_reached_its_container_must_report_a_path() -> None:
    with pytest.raises(RecordError, match="at least one path"):
        LaunchRecord(index=0, seed=1, profile="none", started_at=0.0, duration_ms=1.0)


def test_an_unknown_path_name_is_refused() -> None:
    with pytest.raises(RecordError, match="unknown path"):
        LaunchRecord(
            index=0,
            seed=1,
            profile="none",
            started_at=0.0,
            duration_ms=1.0,
            paths={"sideways": PathResult(ok=True)},
        )


def test_a_malformed_line_is_reported_with_its_file_and_line_number(make_record, tmp_path: Path) -> None:
    path = tmp_path / "launches.jsonl"
    good = make_record(0).to_line()
    path.write_text(good + "{not json\n")
    with pytest.raises(RecordError, match=r"launches.jsonl:2: not JSON"):
        read_launches(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema="other/9"), "schema is 'other/9'"),
        (lambda d: d.update(index="3"), r"\.index: expected an integer"),
        (lambda d: d["container"].update(start_ms="fast"), r"container\.start_ms: expected a finite number"),
        (lambda d: d["paths"]["proxy"].update(ok="yes"), r"paths\.proxy\.ok: expected true/false"),
        (lambda d: d["paths"]["proxy"]["steps_ms"].update(initialize=None), r"steps_ms\.initialize"),
    ],
)
def test_ill_typed_fields_are_named_in_the_error(make_record, tmp_path: Path, mutate, message: str) -> None:
    data = make_record(0).to_json()
    mutate(data)
    path = tmp_path / "launches.jsonl"
    path.write_text(json.dumps(data) + "\n")
    with pytest.raises(RecordError, match=message):
        read_launches(path)


def test_blank_lines_are_skipped(make_record, tmp_path: Path) -> None:
    path = tmp_path / "launches.jsonl"
    path.write_text("\n" + make_record(3).to_line() + "\n")
    assert [r.index for r in read_launches(path)] == [3]


def test_long_evidence_keeps_its_tail_and_says_how_much_was_cut() -> None:
    text = "a" * 100 + "THE ERROR"
    clipped = clip_evidence(text, limit=20)
    assert clipped.endswith("a" * 11 + "THE ERROR")
    assert "89 earlier characters cut" in clipped
    assert clip_evidence("short", limit=20) == "short"
