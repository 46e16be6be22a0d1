"""How to run a scenario (`RehearsalOptions`): resolved once in ``main()``, no heavy imports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentdock.defaults import IMAGE_TAG

__all__ = ["RehearsalOptions"]


@dataclass(frozen=True)
class RehearsalOptions:
    """How to run a scenario; resolved once in ``main()``."""

    project_root: Path | None = None  # the user's project; None: a throw-away one
    workdir: Path | None = None  # where the throw-away project goes (kept); None: a temp dir, removed
    image: str = IMAGE_TAG
    rebuild: bool = False
    turn_timeout_s: float = 300.0
    ready_timeout_s: float = 90.0
    server_timeout_s: float = 60.0
    allow_push: bool = False  # a pushing scenario on the user's own project
    qms_port: int | None = None  # the user's project only: None = its own ports, as ./launch.sh picks them
    git_port: int | None = None  # (a throw-away project uses free ports)
