"""Run an async context manager on its own event loop in a thread: the one sync wrapper.

The harness is written async; scripts, sync tests and the soak can still use it::

    with in_thread(lambda: fault_server(plan)) as server:
        subprocess.run([... server.url ...])

Calls into the object from the outside thread must go through
:meth:`BackgroundHandle.call` (it runs a coroutine on the harness's loop).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from agentdock.harness.errors import ServerStartError

__all__ = ["BackgroundHandle", "in_thread"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class BackgroundHandle(Generic[T]):
    """The entered value, plus a way to run coroutines on its loop."""

    value: T
    loop: asyncio.AbstractEventLoop

    def call(self, fn: Callable[[], Awaitable[R]], timeout_s: float = 30.0) -> R:
        async def run() -> R:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout_s)


@contextmanager
def in_thread(
    factory: Callable[[], AbstractAsyncContextManager[T]], *, start_timeout_s: float = 30.0
) -> Iterator[BackgroundHandle[T]]:
    """Enter ``factory()`` on a fresh event loop in a daemon thread; exit it when the block ends."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}
    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            async with factory() as value:
                box["value"] = value
                ready.set()
                await stop.wait()
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            raise

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException:  # noqa: S110 - already handed to the caller through ``box``
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="agentdock-harness", daemon=True)
    thread.start()
    if not ready.wait(start_timeout_s):
        raise ServerStartError(f"harness did not start within {start_timeout_s} s")
    if "error" in box:
        error = box["error"]
        thread.join(start_timeout_s)
        raise error if isinstance(error, BaseException) else RuntimeError(str(error))
    try:
        yield BackgroundHandle(box["value"], loop)  # type: ignore[arg-type]
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(start_timeout_s)
