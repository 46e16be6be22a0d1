"""The harness's exception tree; foreign exceptions are translated once, here at the boundary.

::

    HarnessError
     ├── PlanError          a fault plan (file, dict or CLI spec) is malformed: unknown kind, bad setting
     ├── ToxicError         a toxic spec is malformed (unknown type, bad stream, bad attribute)
     ├── ProxyConfigError   a TCP fault proxy cannot be created or changed (name clash, bad address)
     └── ServerStartError   a harness server could not bind or start (port in use, bad host)

Faults themselves never raise these while serving: a fault that fires is a
*designed* failure seen by the client, not an error of the harness.
"""

from __future__ import annotations

__all__ = ["HarnessError", "PlanError", "ProxyConfigError", "ServerStartError", "ToxicError"]


class HarnessError(Exception):
    """Base of every error the harness raises."""


class PlanError(HarnessError, ValueError):
    """A fault plan or fault spec is malformed."""


class ToxicError(HarnessError, ValueError):
    """A toxic spec is malformed."""


class ProxyConfigError(HarnessError):
    """A TCP fault proxy cannot be created or changed as asked."""


class ServerStartError(HarnessError):
    """A harness server could not bind or start."""
