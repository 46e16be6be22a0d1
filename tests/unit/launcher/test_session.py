"""What keeps a launch's cleanup going when its terminal window is closed: the hang-up's
repeated signals and the dead terminal's write errors."""

from __future__ import annotations

import io
import os
import signal

import pytest

from agentdock.launcher.session import Interrupted, Reporter, terminate_on_signals


class HungUpTerminal(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")


def test_messages_to_a_hung_up_terminal_are_dropped_instead_of_raising() -> None:
    reporter = Reporter(stream=HungUpTerminal(), verbose=True)
    reporter.step("Removing container x")
    reporter.info("still going")
    reporter.detail("build line")
    reporter.error("stopped by SIGHUP")


def test_messages_reach_a_working_stream() -> None:
    stream = io.StringIO()
    Reporter(stream=stream).step("Checking Docker")
    assert stream.getvalue() == "==> Checking Docker\n"


def test_only_the_first_hang_up_interrupts_so_a_repeat_cannot_cut_the_cleanup_short() -> None:
    cleaned = False
    with pytest.raises(Interrupted) as caught, terminate_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            signal.sigtimedwait([], 0)  # a bytecode boundary for the handler to run at
            pytest.fail("SIGHUP did not interrupt")
        finally:
            os.kill(os.getpid(), signal.SIGHUP)  # the shell's exit hangs up the process group again
            os.kill(os.getpid(), signal.SIGTERM)
            cleaned = True
    assert caught.value.signum == signal.SIGHUP
    assert cleaned


def test_the_previous_handlers_come_back_afterwards() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted), terminate_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)
    assert signal.getsignal(signal.SIGTERM) is before
