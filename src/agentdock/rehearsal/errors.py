"""The exceptions ``agentdock.rehearsal`` raises.

::

    RehearsalError            base of everything a rehearsal raises
    ├── ScenarioError         a scenario file is unreadable or malformed (names the file and the field)
    ├── TemplateError         a ``{{ name.path }}`` reference cannot be resolved (unknown name, missing field)
    └── RehearsalSetupError   the run could not start: no engine, no image, a server did not come up

A step whose expectation fails, or whose tool Claude Code did not offer, is not
an exception: it is data (a failed `StepRecord`), shown in the timeline and
turned into a non-zero exit status.
"""

from __future__ import annotations

__all__ = ["RehearsalError", "RehearsalSetupError", "ScenarioError", "TemplateError"]


class RehearsalError(Exception):
    """Base of every rehearsal error."""


class ScenarioError(RehearsalError, ValueError):
    """A scenario is malformed; the message names the file and the offending field."""


class TemplateError(RehearsalError, ValueError):
    """A template reference names nothing that is known at that point of the script."""


class RehearsalSetupError(RehearsalError):
    """What every turn needs (engine, image, servers, containers) could not be set up."""
