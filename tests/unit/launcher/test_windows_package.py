from __future__ import annotations

import subprocess
import sys

import agentdock.inbox as inbox
import agentdock.launcher.windows as windows


def test_every_public_name_resolves() -> None:
    for package in (inbox, windows):
        for name in package.__all__:
            assert getattr(package, name) is not None


def test_the_multi_agent_launcher_does_not_import_watchdog() -> None:
    code = "import sys, agentdock.launcher.windows.multi; print('watchdog' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
