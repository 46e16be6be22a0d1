"""proxy/mcp_proxy.py finds the agentdock venv by prefix, not by the interpreter's real path.

Inside the image a login shell resets PATH, so ``python3`` is ``/usr/bin/python3`` — the same
binary the venv's ``python`` links to.  The script must still re-execute itself in the venv.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "proxy" / "mcp_proxy.py"


def _base_python() -> str:
    return getattr(sys, "_base_executable", sys.executable)


def _venv_with_agentdock(where: Path) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(where)
    (python,) = where.glob("bin/python3")
    purelib = next(where.glob("lib/python3*/site-packages"))
    # agentdock and its dependencies, as this test's interpreter sees them
    paths = [
        str(REPO / "src"),
        *site.getsitepackages(),
        *[p for p in sys.path if p.endswith("site-packages")],
    ]
    (purelib / "agentdock-test.pth").write_text("\n".join(dict.fromkeys(paths)) + "\n")
    return python


def test_a_system_python_with_the_same_binary_reexecutes_in_the_venv(tmp_path: Path) -> None:
    python = _venv_with_agentdock(tmp_path / "venv")
    assert os.path.realpath(python) == os.path.realpath(_base_python())  # the trap: same binary
    script = tmp_path / "proxy" / "mcp_proxy.py"  # no src/ beside it, as in the image
    script.parent.mkdir()
    shutil.copy(SCRIPT, script)
    env = {"PATH": os.environ.get("PATH", ""), "AGENTDOCK_PYTHON": str(python), "PYTHONNOUSERSITE": "1"}
    done = subprocess.run(
        [_base_python(), "-S", str(script), "--help"],  # -S: the base interpreter cannot import agentdock
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage: mcp-proxy" in done.stdout


def test_without_a_usable_venv_it_says_what_to_do(tmp_path: Path) -> None:
    script = tmp_path / "mcp_proxy.py"
    shutil.copy(SCRIPT, script)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AGENTDOCK_PYTHON": str(tmp_path / "missing" / "bin" / "python"),
    }
    done = subprocess.run(
        [_base_python(), "-S", str(script), "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 70
    assert "cannot import agentdock.proxy" in done.stderr
