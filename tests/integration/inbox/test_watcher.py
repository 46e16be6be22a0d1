"""The watcher against real files and the platform's real watchdog observer."""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from agentdock.inbox.watcher import InboxWatcher, WatcherConfig

from .conftest import WATCHDOG_RACE_WARNING, Announcements, Project, task_name, task_text

pytestmark = [pytest.mark.usefixtures("watcher"), WATCHDOG_RACE_WARNING]


def test_a_task_created_in_an_inbox_is_announced_once(project: Project) -> None:
    project.write("CR-056")
    assert project.barrier() == ["CR-056"]
    task = project.announcements.tasks[-2]
    assert (task.agent, task.task_type, task.assigned_by) == ("qa", "REVIEW", "claude")


def test_a_file_written_in_chunks_then_touched_is_announced_once(project: Project) -> None:
    text = task_text("CR-057")
    path = project.inbox() / task_name("CR-057")
    with path.open("w") as handle:
        for start in range(0, len(text), 16):
            handle.write(text[start : start + 16])
            handle.flush()
            os.fsync(handle.fileno())
    path.touch()
    os.utime(path)
    assert project.barrier() == ["CR-057"]


def test_a_body_edit_is_not_a_new_task_but_new_front_matter_is(project: Project) -> None:
    path = project.write("CR-058")
    project.barrier()
    with path.open("a") as handle:
        handle.write("A reminder appended to the body.\n")
    assert project.barrier() == ["CR-058"]
    path.write_text(task_text("CR-058", version="0.2"))
    assert project.barrier() == ["CR-058", "CR-058"]
    assert project.announcements.tasks[-2].version == "0.2"


def test_a_malformed_file_that_is_fixed_is_announced_when_fixed(project: Project) -> None:
    path = project.inbox() / task_name("CR-059")
    path.write_text("---\ntask_id: half written\n")
    project.barrier()
    path.write_text(task_text("CR-059"))
    assert project.barrier() == ["CR-059"]


def test_a_task_moved_in_from_elsewhere_is_announced_once(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.md"
    outside.write_text(task_text("CR-060"))
    outside.rename(project.inbox() / task_name("CR-060"))
    assert project.barrier() == ["CR-060"]


def test_an_atomic_write_through_a_temp_file_is_announced_once(project: Project) -> None:
    temp = project.inbox() / f".{task_name('CR-061')}.tmp"
    with temp.open("w") as handle:
        handle.write(task_text("CR-061"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, project.inbox() / task_name("CR-061"))
    assert project.barrier() == ["CR-061"]


def test_an_atomic_rewrite_with_the_same_front_matter_is_not_announced_again(project: Project) -> None:
    project.write("CR-062")
    project.barrier()
    temp = project.inbox() / "tmp-CR-062"
    temp.write_text(task_text("CR-062", body="Reworded body.\n"))
    os.replace(temp, project.inbox() / task_name("CR-062"))
    assert project.barrier() == ["CR-062"]


def test_a_deleted_and_recreated_task_is_announced_again(project: Project) -> None:
    path = project.write("CR-063")
    project.barrier()
    path.unlink()
    project.write("CR-063")
    assert project.barrier() == ["CR-063", "CR-063"]


def test_a_task_moved_out_and_back_is_announced_again(project: Project, tmp_path: Path) -> None:
    path = project.write("CR-064")
    project.barrier()
    parked = tmp_path / "parked.md"
    path.rename(parked)
    parked.rename(path)
    assert project.barrier() == ["CR-064", "CR-064"]


@pytest.mark.parametrize(
    "name",
    [
        ".task-CR-065-REVIEW-v0-1.md.swp",
        "task-CR-065-REVIEW-v0-1.md~",
        "task-CR-065-REVIEW-v0-1.md.tmp",
        ".#task-CR-065-REVIEW-v0-1.md",
        "#task-CR-065-REVIEW-v0-1.md#",
        "4913",
        "notes.txt",
    ],
)
def test_editor_temp_files_with_task_content_are_never_announced(project: Project, name: str) -> None:
    path = project.inbox() / name
    path.write_text(task_text("CR-065"))
    with path.open("a") as handle:
        handle.write("edit\n")
    path.unlink()
    assert project.barrier() == []


def test_task_files_outside_an_inbox_are_never_announced(project: Project) -> None:
    workspace = project.root / ".claude" / "users" / "qa" / "workspace"
    workspace.mkdir(parents=True)
    (workspace / task_name("CR-066")).write_text(task_text("CR-066"))
    (project.root / ".claude" / "users" / task_name("CR-066")).write_text(task_text("CR-066"))
    assert project.barrier() == []


@pytest.mark.parametrize(
    "text",
    [
        "not a task at all\n",
        "---\ntask_id: [broken\n---\n",
        task_text("CR-067").replace("task_type: REVIEW", "task_type: SIGN"),
        task_text("CR-067").replace("doc_id: CR-067", "doc_id: ../../etc/passwd"),
        "",
    ],
)
def test_a_malformed_task_file_is_logged_and_skipped(
    project: Project, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="agentdock.inbox"):
        (project.inbox() / task_name("CR-067")).write_text(text)
        project.write("CR-068")
        assert project.barrier() == ["CR-068"]
    skipped = [r for r in caplog.records if "malformed task file" in r.getMessage()]
    assert len(skipped) == 1
    assert task_name("CR-067") in skipped[0].getMessage()


def test_two_hundred_tasks_created_at_once_are_each_announced_exactly_once(project: Project) -> None:
    agents = ["qa", "tu_ui", "tu_sim", "bu"]
    doc_ids = [f"CR-{n:03d}" for n in range(100, 300)]
    for agent in agents:
        project.inbox(agent)

    def write(chunk: list[str], agent: str) -> None:
        for doc_id in chunk:
            project.write(doc_id, agent)

    writers = [threading.Thread(target=write, args=(doc_ids[i::4], agents[i])) for i in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=30)
    project.announcements.wait_until(
        lambda ts: len({t.doc_id for t in ts} & set(doc_ids)) == 200, "all 200 tasks"
    )
    counts = Counter(project.barrier())
    assert set(counts) == set(doc_ids)
    assert set(counts.values()) == {1}
    by_agent = {t.doc_id: t.agent for t in project.announcements.tasks}
    assert all(by_agent[d] == agents[doc_ids.index(d) % 4] for d in doc_ids)


def test_an_agent_whose_inbox_appears_after_start_is_watched(project: Project) -> None:
    project.write("CR-069", agent="tu_sketch")
    assert project.barrier() == ["CR-069"]
    assert project.announcements.tasks[-2].agent == "tu_sketch"


def test_tasks_already_pending_at_start_are_announced_once(tmp_path: Path) -> None:
    root = tmp_path / "pending"
    seen = Announcements()
    early = Project(root, seen)
    early.write("CR-070", "qa")
    early.write("CR-070-VAR-001", "tu_ui", task_type="APPROVAL")
    with InboxWatcher(WatcherConfig(root, settle_s=0.05, rescan_s=None), seen):
        assert sorted(early.barrier()) == ["CR-070", "CR-070-VAR-001"]
    assert {(t.agent, t.verb, t.doc_id) for t in seen.tasks if t.doc_id.startswith("CR")} == {
        ("qa", "Review", "CR-070"),
        ("tu_ui", "Approve", "CR-070-VAR-001"),
    }


def test_a_periodic_rescan_never_repeats_an_announcement(tmp_path: Path) -> None:
    root = tmp_path / "rescan"
    seen = Announcements()
    project = Project(root, seen)
    project.write("CR-071")
    with InboxWatcher(WatcherConfig(root, settle_s=0.01, rescan_s=0.01), seen):
        project.barrier()
        project.barrier()  # many rescans have run in between
        assert project.barrier() == ["CR-071"]
