from __future__ import annotations

from pathlib import Path

import pytest

from agentdock.inbox.errors import TaskFileError
from agentdock.inbox.tasks import (
    MAX_TASK_FILE_BYTES,
    format_announcement,
    is_task_filename,
    parse_task,
    read_task_file,
)


def task_text(**overrides: str) -> str:
    fields = {
        "task_id": "task-CR-056-REVIEW-v0-1",
        "task_type": "REVIEW",
        "workflow_type": "REVIEW",
        "doc_id": "CR-056",
        "title": "Add a widget",
        "responsible_user": "qa",
        "assigned_by": "claude",
        "assigned_date": "2025-01-02T03:04:05Z",
        "version": "0.1",
    }
    fields.update(overrides)
    front = "".join(f"{key}: {value}\n" for key, value in fields.items() if value != "<absent>")
    return f"---\n{front}---\nReview CR-056 and call qms_review.\n"


def test_a_review_task_is_announced_with_agent_upper_cased_and_who_routed_it() -> None:
    task = parse_task(task_text(), "qa")
    assert format_announcement(task) == "[QA] New task: Review CR-056 (from claude)"


def test_an_approval_task_reads_approve() -> None:
    task = parse_task(task_text(task_type="APPROVAL"), "tu_ui")
    assert format_announcement(task) == "[TU_UI] New task: Approve CR-056 (from claude)"


def test_child_document_ids_are_announced_in_full() -> None:
    task = parse_task(task_text(doc_id="CR-056-VAR-001", assigned_by="qa"), "bu")
    assert format_announcement(task) == "[BU] New task: Review CR-056-VAR-001 (from qa)"


def test_front_matter_values_stay_the_strings_that_were_written() -> None:
    task = parse_task(task_text(version="0.10", assigned_date="2025-01-02"), "qa")
    assert task.version == "0.10"
    assert task.assigned_date == "2025-01-02"


def test_windows_line_endings_parse_like_unix_ones() -> None:
    task = parse_task(task_text().replace("\n", "\r\n"), "qa")
    assert task.doc_id == "CR-056"
    assert "qms_review" in task.body


def test_the_body_does_not_change_the_content_version() -> None:
    one = parse_task(task_text(), "qa")
    two = parse_task(task_text() + "more words\n", "qa")
    three = parse_task(task_text(version="0.2"), "qa")
    assert one.content_version() == two.content_version()
    assert one.content_version() != three.content_version()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no front matter here\n", "does not start"),
        ("---\ntask_id: x\n", "not closed"),
        ("---\n- a\n- b\n---\n", "not a mapping"),
        ("---\ntask_id: [unclosed\n---\n", "not valid YAML"),
        (task_text(doc_id="<absent>"), "lacks 'doc_id'"),
        (task_text(task_type="SIGN"), "task_type 'SIGN'"),
        (task_text(doc_id="../../etc"), "doc_id"),
        (task_text(doc_id='"CR-056\\e[2J"'), "control characters"),
        (task_text(assigned_by="[a, b]"), "single value"),
        (task_text(assigned_by="'claude; rm'"), "not a user name"),
        (task_text(version="one"), "version"),
        (task_text(task_id="''"), "'task_id' is empty"),
    ],
)
def test_malformed_task_text_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(TaskFileError, match=reason.replace("[", r"\[")):
        parse_task(text, "qa", Path("task-x.md"))


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "task-big.md"
    path.write_text(task_text() + "x" * MAX_TASK_FILE_BYTES)
    with pytest.raises(TaskFileError, match="larger than"):
        read_task_file(path, "qa")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "task-bin.md"
    path.write_bytes(b"---\n\xff\xfe\n---\n")
    with pytest.raises(TaskFileError, match="UTF-8"):
        read_task_file(path, "qa")


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_task_file(tmp_path / "task-gone.md", "qa")


@pytest.mark.parametrize(
    "name",
    ["task-CR-056-REVIEW-v0-1.md", "task-CR-056-VAR-001-APPROVAL-v1-0.md", "task-SOP-001-x.md"],
)
def test_task_file_names_are_recognised(name: str) -> None:
    assert is_task_filename(name)


@pytest.mark.parametrize(
    "name",
    [
        ".task-CR-056-REVIEW-v0-1.md.swp",
        "task-CR-056-REVIEW-v0-1.md.swp",
        "task-CR-056-REVIEW-v0-1.md~",
        "task-CR-056-REVIEW-v0-1.md.tmp",
        ".#task-CR-056-REVIEW-v0-1.md",
        "#task-CR-056-REVIEW-v0-1.md#",
        ".task-CR-056-REVIEW-v0-1.md",
        "4913",
        "notes.md",
        "task-.md",
        "TASK-CR-056.md",
    ],
)
def test_editor_temp_and_other_files_are_not_task_files(name: str) -> None:
    assert not is_task_filename(name)


@pytest.mark.parametrize(
    ("doc_id", "task_type", "workflow", "expected"),
    [
        ("CR-056", "REVIEW", "PRE_REVIEW", "[QA] New task: Review CR-056 (from claude)"),
        (
            "CR-056-VAR-001",
            "APPROVAL",
            "POST_APPROVAL",
            "[QA] New task: Approve CR-056-VAR-001 (from claude)",
        ),
        ("SOP-010", "REVIEW", "REVIEW", "[QA] New task: Review SOP-010 (from claude)"),
    ],
)
def test_task_files_the_qms_writes_parse_and_announce(
    doc_id: str, task_type: str, workflow: str, expected: str
) -> None:
    from agentdock.qms import tasks as qms_tasks
    from agentdock.qms.ids import parse_doc_id
    from agentdock.qms.model import Version

    version = Version.parse("0.10")
    written = qms_tasks.Task(
        task_id=f"task-{doc_id}-{workflow.lower()}-v{version.dashed}",
        task_type=task_type,
        workflow_type=workflow,
        doc_id=doc_id,
        title="Title: with a colon # and a hash",
        responsible_user="qa",
        assigned_by="claude",
        assigned_date="2026-01-31T12:00:00.000000Z",
        version=str(version),
    )
    name = qms_tasks.task_file_name(parse_doc_id(doc_id), workflow, version)
    assert is_task_filename(name)
    task = parse_task(qms_tasks.render_task(written), "qa")
    assert format_announcement(task) == expected
    assert (task.version, task.title) == ("0.10", "Title: with a colon # and a hash")
