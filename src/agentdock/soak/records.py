"""One launch of the soak, as a record: the schema of ``DIR/launches.jsonl``.

Each line of ``launches.jsonl`` is one JSON object::

    {
      "schema": "agentdock.soak.launch/1",
      "index": 17, "seed": 1234567890123, "profile": "flaky",
      "started_at": 1718000000.123,          # unix seconds
      "duration_ms": 5234.1,
      "container": {"id": "3f2a…", "start_ms": 612.0, "ready_ms": 1480.5, "error": null},
      "paths": {
        "proxy":  {"ok": true,  "failed_step": null, "error": null, "first_response_ms": 310.2,
                   "steps_ms": {"mcp_list": 2100.4, "initialize": 310.2, "tools_list": 25.0, ...}},
        "direct": {"ok": false, "failed_step": "mcp_list", "error": "qms: ✗ Failed to connect", ...}
      },
      "faults": {...},                      # what the fault layer applied / observed
      "evidence": {"container_logs": "…", "proxy_stderr": "…"}   # only when something failed
    }

``container.start_ms`` is the time until ``docker run`` returned and
``container.ready_ms`` until the entrypoint's readiness marker was seen, both
counted from the start request.  ``first_response_ms`` of a path is how long
Claude Code (``claude mcp list``) took to hear back from its servers.

A session trial (``--mode session``) adds to each path the calls of its
scripted session and what the servers' own records say about them::

        "calls": [{"step": 3, "tool": "qms_checkin", "ok": true, "ran": true, "latency_ms": 41.2,
                   "event": "partition", "error": null}, ...],
        "duplicates": 0, "lost": 0

Both are absent in launch and connection records.

``container.error`` set means the launch never reached the MCP paths (the
container did not start or become ready): an infrastructure failure, counted
apart from the two paths.  ``paths`` is then empty.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

from agentdock.soak.errors import RecordError

__all__ = [
    "EVIDENCE_LIMIT_CHARS",
    "PATHS",
    "SCHEMA",
    "CallResult",
    "LaunchLog",
    "LaunchRecord",
    "PathResult",
    "clip_evidence",
    "read_launches",
]

SCHEMA = "agentdock.soak.launch/1"

#: The two ways a container reaches the host servers: through our stdio proxy, or Claude Code's own HTTP client.
PATHS: tuple[str, ...] = ("proxy", "direct")

#: Evidence (logs, stderr) is kept up to this many characters — the tail, where the failure is.
EVIDENCE_LIMIT_CHARS = 64_000


def clip_evidence(text: str, limit: int = EVIDENCE_LIMIT_CHARS) -> str:
    """Keep the last ``limit`` characters of ``text``, saying how much was cut."""
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    return f"[… {cut} earlier characters cut …]\n" + text[cut:]


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class CallResult:
    """One tool call of a scripted session: answered correctly or not, how fast, after which fault."""

    step: int
    tool: str
    ok: bool
    latency_ms: float | None = None
    event: str | None = None  # the mid-session fault done just before this call
    error: str | None = None
    #: False: never issued, because the session stopped at an earlier failure
    ran: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "tool": self.tool,
            "ok": self.ok,
            "ran": self.ran,
            "latency_ms": self.latency_ms,
            "event": self.event,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> CallResult:
        obj = _object(data, where)
        return cls(
            step=_int(obj, "step", where),
            tool=_str(obj, "tool", where),
            ok=_bool(obj, "ok", where),
            latency_ms=_opt_number(obj, "latency_ms", where),
            event=_opt_str(obj, "event", where),
            error=_opt_str(obj, "error", where),
            ran=_bool(obj, "ran", where) if "ran" in obj else True,
        )


@dataclass(frozen=True, slots=True)
class PathResult:
    """How one path (proxy or direct) fared in one launch (or trial, or session)."""

    ok: bool
    failed_step: str | None = None
    error: str | None = None
    first_response_ms: float | None = None
    steps_ms: Mapping[str, float] = field(default_factory=dict)
    #: a session's calls, in order (empty for launches and connection trials)
    calls: tuple[CallResult, ...] = ()
    #: mutating calls the servers' own records show more often (duplicates) or less often (lost)
    #: than the session saw them succeed; None: not a session
    duplicates: int | None = None
    lost: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps_ms", _frozen(self.steps_ms))
        object.__setattr__(self, "calls", tuple(self.calls))
        if not self.ok and not self.failed_step:
            raise RecordError("a failed path result must name its failed_step")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "failed_step": self.failed_step,
            "error": self.error,
            "first_response_ms": self.first_response_ms,
            "steps_ms": dict(self.steps_ms),
        }
        if self.calls or self.duplicates is not None:
            out.update(
                calls=[call.to_json() for call in self.calls], duplicates=self.duplicates, lost=self.lost
            )
        return out

    @classmethod
    def from_json(cls, data: Any, where: str) -> PathResult:
        obj = _object(data, where)
        steps = _object(obj.get("steps_ms", {}), f"{where}.steps_ms")
        calls = obj.get("calls", [])
        if not isinstance(calls, list):
            raise RecordError(f"{where}.calls: expected a list, got {type(calls).__name__}")
        return cls(
            ok=_bool(obj, "ok", where),
            failed_step=_opt_str(obj, "failed_step", where),
            error=_opt_str(obj, "error", where),
            first_response_ms=_opt_number(obj, "first_response_ms", where),
            steps_ms={str(k): _number(steps, k, f"{where}.steps_ms") for k in steps},
            calls=tuple(CallResult.from_json(c, f"{where}.calls[{i}]") for i, c in enumerate(calls)),
            duplicates=None if obj.get("duplicates") is None else _int(obj, "duplicates", where),
            lost=None if obj.get("lost") is None else _int(obj, "lost", where),
        )


@dataclass(frozen=True, slots=True)
class LaunchRecord:
    """The outcome, timings and (on failure) evidence of one launch."""

    index: int
    seed: int
    profile: str
    started_at: float
    duration_ms: float
    container_id: str | None = None
    container_start_ms: float | None = None
    readiness_ms: float | None = None
    infra_error: str | None = None
    paths: Mapping[str, PathResult] = field(default_factory=dict)
    faults: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", _frozen(self.paths))
        object.__setattr__(self, "faults", _frozen(self.faults))
        object.__setattr__(self, "evidence", _frozen(self.evidence))
        unknown = set(self.paths) - set(PATHS)
        if unknown:
            raise RecordError(f"unknown path(s) {sorted(unknown)}; expected some of {list(PATHS)}")
        if self.infra_error is None and not self.paths:
            raise RecordError("a launch that reached its container must report at least one path")

    @property
    def ok(self) -> bool:
        """Everything measured in this launch succeeded."""
        return self.infra_error is None and all(result.ok for result in self.paths.values())

    def path_ok(self, path: str) -> bool | None:
        """Whether ``path`` succeeded; ``None`` when it was not attempted."""
        result = self.paths.get(path)
        return None if result is None else result.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "index": self.index,
            "seed": self.seed,
            "profile": self.profile,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "container": {
                "id": self.container_id,
                "start_ms": self.container_start_ms,
                "ready_ms": self.readiness_ms,
                "error": self.infra_error,
            },
            "paths": {name: result.to_json() for name, result in self.paths.items()},
            "faults": dict(self.faults),
            "evidence": dict(self.evidence),
        }

    def to_line(self) -> str:
        return json.dumps(self.to_json(), sort_keys=False, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, data: Any, where: str = "record") -> LaunchRecord:
        obj = _object(data, where)
        if obj.get("schema") != SCHEMA:
            raise RecordError(f"{where}: schema is {obj.get('schema')!r}, expected {SCHEMA!r}")
        container = _object(obj.get("container", {}), f"{where}.container")
        paths = _object(obj.get("paths", {}), f"{where}.paths")
        evidence = _object(obj.get("evidence", {}), f"{where}.evidence")
        return cls(
            index=_int(obj, "index", where),
            seed=_int(obj, "seed", where),
            profile=_str(obj, "profile", where),
            started_at=_number(obj, "started_at", where),
            duration_ms=_number(obj, "duration_ms", where),
            container_id=_opt_str(container, "id", f"{where}.container"),
            container_start_ms=_opt_number(container, "start_ms", f"{where}.container"),
            readiness_ms=_opt_number(container, "ready_ms", f"{where}.container"),
            infra_error=_opt_str(container, "error", f"{where}.container"),
            paths={
                name: PathResult.from_json(value, f"{where}.paths.{name}") for name, value in paths.items()
            },
            faults=_object(obj.get("faults", {}), f"{where}.faults"),
            evidence={k: _str(evidence, k, f"{where}.evidence") for k in evidence},
        )


class LaunchLog:
    """Append-only ``launches.jsonl``: one line per launch, flushed as it is written.

    A run that is interrupted keeps every launch that finished.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = path.open("w", encoding="utf-8")

    def append(self, record: LaunchRecord) -> None:
        self._file.write(record.to_line())
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LaunchLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_launches(path: Path) -> list[LaunchRecord]:
    """Every record in a ``launches.jsonl``; a bad line raises `RecordError` naming it."""
    return list(_iter_launches(path))


def _iter_launches(path: Path) -> Iterator[LaunchRecord]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RecordError(f"{where}: not JSON ({exc.msg})") from exc
            yield LaunchRecord.from_json(data, where)


# -- field validation: one clear message per malformed field -------------------------------------


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _bool(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise RecordError(f"{where}.{key}: expected true/false, got {value!r}")
    return value


def _int(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _number(obj: Mapping[str, Any], key: str, where: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordError(f"{where}.{key}: expected a finite number, got {value!r}")
    return float(value)


def _opt_number(obj: Mapping[str, Any], key: str, where: str) -> float | None:
    return None if obj.get(key) is None else _number(obj, key, where)


def _str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise RecordError(f"{where}.{key}: expected a string, got {value!r}")
    return value


def _opt_str(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    return None if obj.get(key) is None else _str(obj, key, where)
