"""Two launches at the same moment: each shared step (servers, image) is done once, not twice.

Without the step locks both launches find the servers down and both start them (two qms-mcp
race for one port; the loser's pid file hides the winner), and both build the image.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from agentdock.launcher import (
    ImageSpec,
    agentdock_checkout,
    container_ids,
    ensure_image,
    provision_token,
    server_specs,
    stop_servers,
)
from agentdock.launcher.project import init_demo_project
from agentdock.launcher.servers import read_pid_file, server_processes

pytestmark = pytest.mark.slow


def run_together(*steps: Callable[[list[str]], Any]) -> tuple[list[Any], list[list[str]]]:
    """Run each step in its own thread, released at the same instant; results and events of each."""
    barrier = threading.Barrier(len(steps))
    results: list[Any] = [None] * len(steps)
    events: list[list[str]] = [[] for _ in steps]

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = steps[index](events[index])
        except BaseException as exc:  # reported by the test, not lost in the thread
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(steps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a concurrent step did not finish in 300s"
    return results, events


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "acme"
    init_demo_project(root)
    yield root
    leaked = [s for s in stop_servers(root, orphans=True) if "no pid file" in s]
    assert not leaked, f"servers without a pid file were left running: {leaked}"


#: One launch's server step, in its own process (as two ./launch.sh runs would be): says
#: "ready", waits for "go" and the token on stdin, then prints what ensure_servers reported.
ENSURE_SERVERS = """
import json, sys
from pathlib import Path
from agentdock.launcher import ensure_servers, server_specs
root, qms_port, git_port = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
token = sys.stdin.readline().split()[1]
events = []
try:
    ensure_servers(server_specs(root, ["127.0.0.1"], qms_port, git_port), token, timeout_s=60,
                   on_event=events.append)
    events.append("OK")
except Exception as exc:
    events.append(f"ERROR {type(exc).__name__}: {exc}")
print(json.dumps(events), flush=True)
"""


def test_two_launches_at_once_start_each_server_once_and_both_find_them_healthy(
    project: Path, free_port: Callable[[], int]
) -> None:
    specs = server_specs(project, ["127.0.0.1"], free_port(), free_port())
    tokens = [provision_token(project, "claude"), provision_token(project, "qa")]
    argv = [sys.executable, "-c", ENSURE_SERVERS, str(project), str(specs[0].port), str(specs[1].port)]
    launches = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in tokens
    ]
    try:
        for launch in launches:  # both imported and waiting: release them together
            assert launch.stdout is not None and launch.stdout.readline() == "ready\n"
        for launch, token in zip(launches, tokens, strict=True):
            assert launch.stdin is not None
            launch.stdin.write(f"go {token}\n")
            launch.stdin.flush()
        outputs = [launch.communicate(timeout=120)[0] for launch in launches]
    finally:
        for launch in launches:
            if launch.poll() is None:
                launch.kill()
            launch.communicate()
    events = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    assert [launch_events[-1] for launch_events in events] == ["OK", "OK"], events
    every = [event for launch_events in events for event in launch_events]
    for spec in specs:
        assert sum(event.startswith(f"starting {spec.command} ") for event in every) == 1, every
        assert sum(event.startswith(f"{spec.command} already running") for event in every) == 1, every
    # they did run at the same time: one waited for the other's lock
    assert sum(event.startswith("waiting for another launch") for event in every) == 1, every

    # the pid files name the servers that answer, so `./launch.sh stop` stops exactly them
    running = sorted(server_processes(project))
    assert len(running) == 2
    assert sorted(read_pid_file(spec.pid_file) for spec in specs) == running
    assert len(stop_servers(project)) == 2
    assert server_processes(project) == []


@pytest.mark.docker
def test_two_image_checks_at_once_build_the_image_once(docker_client: Any) -> None:
    uid, gid = container_ids()
    tag = f"agentdock-locktest-{uuid.uuid4().hex[:8]}"
    spec = ImageSpec(repo=agentdock_checkout(), tag=tag, uid=uid, gid=gid)
    try:
        results, events = run_together(
            lambda ev: ensure_image(docker_client, spec, on_wait=ev.append),
            lambda ev: ensure_image(docker_client, spec, on_wait=ev.append),
        )
        for result in results:
            assert not isinstance(result, BaseException), result
        assert sorted(result.built for result in results) == [False, True]
        assert results[0].inputs_hash == results[1].inputs_hash
        waits = events[0] + events[1]
        assert len(waits) == 1 and waits[0].startswith("waiting for another launch"), waits
        assert f"image-{tag}.lock" in waits[0]
    finally:
        # only the tag goes: its layers are shared with the real image
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag)
