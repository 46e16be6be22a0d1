"""The exceptions the soak runner and its report raise.

::

    SoakError             base of everything the soak application raises
    ├── SoakConfigError   an option is out of range or a profile is unknown
    ├── RecordError       a launches.jsonl line is not a valid launch record
    └── SoakSetupError    the run could not start: no engine, no image, a server did not come up

A failed *launch* is not an exception: it is data (a `LaunchRecord` with the
failed step, the error and the evidence), counted in the report.
"""

from __future__ import annotations

__all__ = ["RecordError", "SoakConfigError", "SoakError", "SoakSetupError"]


class SoakError(Exception):
    """Base of every soak error."""


class SoakConfigError(SoakError, ValueError):
    """An option or a fault profile name is not acceptable."""


class RecordError(SoakError, ValueError):
    """A launch record (one line of launches.jsonl) is malformed."""


class SoakSetupError(SoakError):
    """The soak could not set up what every launch needs; nothing was measured."""
