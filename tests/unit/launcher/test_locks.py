"""The inter-process step lock: exclusive, bounded, says who holds it, freed when its holder dies."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agentdock import paths
from agentdock.launcher.errors import LockTimeout
from agentdock.launcher.image import (
    ImageSpec,
    agentdock_checkout,
    assemble_context,
    ensure_image,
    image_inputs,
    image_lock_file,
)
from agentdock.launcher.locks import step_lock
from agentdock.launcher.servers import SERVERS_LOCK, ServerSpec, ensure_servers


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def test_a_second_holder_waits_then_gives_up_naming_the_holder_and_the_step(tmp_path: Path) -> None:
    lock = tmp_path / "run" / "servers.lock"
    clock = FakeClock()
    waits: list[str] = []
    second = step_lock(
        lock,
        what="starting the MCP servers",
        timeout_s=5,
        on_wait=waits.append,
        clock=clock,
        sleep=clock.sleep,
    )
    with (
        step_lock(lock, what="starting the MCP servers", timeout_s=5),
        pytest.raises(LockTimeout) as info,
        second,
    ):
        pytest.fail("the lock was taken twice")
    message = str(info.value)
    assert f"another launch (pid {os.getpid()}) has been starting the MCP servers for more than 5s" in message
    assert str(lock) in message
    assert waits == [
        f"waiting for another launch (pid {os.getpid()}) starting the MCP servers (lock {lock}, up to 5s)"
    ]
    assert 5 <= clock.now < 5.2


def test_a_waiter_gets_the_lock_once_the_holder_lets_go(tmp_path: Path) -> None:
    lock = tmp_path / "image.lock"
    holder = contextlib.ExitStack()
    holder.enter_context(step_lock(lock, what="building", timeout_s=1))
    clock = FakeClock()

    def sleep(seconds: float) -> None:  # the holder finishes while the waiter waits
        clock.sleep(seconds)
        holder.close()

    entered = False
    with step_lock(lock, what="building", timeout_s=60, clock=clock, sleep=sleep):
        entered = True
    assert entered and clock.sleeps == 1


def test_the_lock_of_a_process_that_died_is_free_at_once(tmp_path: Path) -> None:
    lock = tmp_path / "servers.lock"
    script = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(LockTimeout), step_lock(lock, what="x", timeout_s=0):
            pass
        holder.kill()
        holder.wait(timeout=10)
        with step_lock(lock, what="x", timeout_s=0):
            pass
    finally:
        holder.kill()
        holder.wait()
        for stream in (holder.stdin, holder.stdout):
            if stream is not None:
                stream.close()


def test_ensure_servers_waits_for_the_project_lock_before_probing(tmp_path: Path) -> None:
    probes: list[httpx.Request] = []
    client = httpx.Client(transport=httpx.MockTransport(lambda r: probes.append(r) or httpx.Response(500)))
    spec = ServerSpec("qms", "qms-mcp", tmp_path, 8000)
    with (
        step_lock(paths.run_dir(tmp_path) / SERVERS_LOCK, what="held by a test", timeout_s=1),
        pytest.raises(LockTimeout, match="starting the MCP servers"),
    ):
        ensure_servers([spec], "t", client=client, lock_timeout_s=0)
    assert probes == []
    client.close()


def test_ensure_image_waits_for_the_tag_lock_before_asking_the_engine(tmp_path: Path) -> None:
    spec = ImageSpec(repo=tmp_path, tag="registry.local/agent:1")
    lock = image_lock_file(spec)
    assert lock == paths.run_dir(tmp_path) / "image-registry.local_agent_1.lock"
    with (
        step_lock(lock, what="held by a test", timeout_s=1),
        pytest.raises(LockTimeout, match=r"building the image registry\.local/agent:1"),
    ):
        ensure_image(object(), spec, lock_timeout_s=0)  # the engine is never touched


def test_a_private_build_context_holds_every_input_byte_for_byte(tmp_path: Path) -> None:
    spec = ImageSpec(repo=agentdock_checkout(), uid=1000, gid=1000)
    copies = assemble_context(spec, tmp_path)
    inputs = image_inputs(spec)
    assert set(copies) == set(inputs)
    for name, source in inputs.items():
        copy = copies[name]
        assert isinstance(copy, Path) and copy == tmp_path / name
        if isinstance(source, bytes):  # made at build time (the host's CA certificates)
            assert copy.read_bytes() == source, name
            continue
        assert copy.read_bytes() == source.read_bytes(), name
        assert os.access(copy, os.X_OK) == os.access(source, os.X_OK), name
    assert (tmp_path / "dist" / "agentdock-src" / "src" / "agentdock" / "launcher" / "locks.py").is_file()
    assert (tmp_path / "certs").is_dir()
    assert not (agentdock_checkout() / "docker" / ".dist-").exists()
