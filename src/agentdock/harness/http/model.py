"""The fault model: a fault is a small named unit behind one method, stacked into a seeded plan.

A :class:`Fault` subclass is a frozen dataclass registered under its ``kind``;
its settings serialise to JSON (units in field names: ``delay_ms``).  Every
fault also carries a ``probability`` and a :class:`Match` (JSON-RPC method,
HTTP method, attempt number, nth matching request, at most ``times``
applications).  A :class:`Plan` is an ordered stack of faults plus a seed; a
:class:`PlanRunner` holds the counters for one server run and gives each fault
its own ``random.Random`` derived from the seed, so a run is reproduced exactly
by the same plan, the same seed and the same request sequence::

    plan = Plan.from_dict({"seed": 7, "faults": [
        {"kind": "status", "status": 503, "match": {"method": "tools/call", "attempt": 1}},
    ]})
"""

from __future__ import annotations

import hashlib
import json
import random
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from agentdock.harness.errors import PlanError
from agentdock.harness.http.exchange import Exchange, Request
from agentdock.harness.settings import SettingsError, build, dump

__all__ = ["FAULTS", "Fault", "Match", "Plan", "PlanRunner", "fault_from_dict", "register"]


@dataclass(frozen=True, kw_only=True)
class Match:
    """Which requests a fault applies to; every field left ``None`` matches anything."""

    #: JSON-RPC method of the (first) message, e.g. ``tools/call``.
    method: str | None = None
    #: HTTP method; faults apply to POSTs unless told otherwise (``"*"`` for any).
    http_method: str = "POST"
    #: 1 = the first time this exact request (method, id, params) arrives; 2 = its first retry; ...
    attempt: int | None = None
    #: Only the nth request that passes the filters above (1-based).
    nth: int | None = None
    #: Apply at most this many times.
    times: int | None = None

    def __post_init__(self) -> None:
        for name in ("attempt", "nth", "times"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"match.{name} must be >= 1, not {value}")

    def selects(self, request: Request) -> bool:
        """The method filters (the counters are the runner's business)."""
        if self.http_method != "*" and request.http_method.upper() != self.http_method.upper():
            return False
        return self.method is None or request.rpc_method == self.method


FAULTS: dict[str, type[Fault]] = {}

F = TypeVar("F", bound="type[Fault]")


def register(cls: F) -> F:
    """Class decorator: make a fault kind loadable by its ``kind`` name."""
    if cls.kind in FAULTS:
        raise RuntimeError(f"fault kind {cls.kind!r} registered twice")
    FAULTS[cls.kind] = cls
    return cls


@dataclass(frozen=True, kw_only=True)
class Fault(ABC):
    """One fault kind. Subclasses add settings fields and implement :meth:`apply`."""

    kind: ClassVar[str]
    #: One-line description (the CLI lists it).
    summary: ClassVar[str] = ""

    probability: float = 1.0
    match: Match = field(default_factory=Match)

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], not {self.probability}")
        for name, value in dump(self, skip=frozenset({"match"})).items():
            if (name.endswith(("_ms", "_bytes", "_s")) or name in {"count"}) and (
                isinstance(value, (int, float)) and value < 0
            ):
                raise ValueError(f"{name} must be >= 0, not {value}")

    @abstractmethod
    def apply(self, exchange: Exchange, rng: random.Random) -> None:
        """Edit ``exchange`` to inject this fault; ``rng`` is this fault's seeded random source."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dump(self)}


def fault_from_dict(data: Mapping[str, Any]) -> Fault:
    """Build a registered fault from its JSON form; any mistake is a :class:`PlanError` naming it."""
    if not isinstance(data, Mapping) or "kind" not in data:
        raise PlanError(f"a fault needs a 'kind' (one of {sorted(FAULTS)}), got {data!r}")
    kind = data["kind"]
    cls = FAULTS.get(kind)
    if cls is None:
        raise PlanError(f"unknown fault kind {kind!r}; known kinds: {', '.join(sorted(FAULTS))}")
    try:
        return build(cls, {k: v for k, v in data.items() if k != "kind"}, where=f"{kind}.")
    except SettingsError as exc:
        raise PlanError(f"fault {kind!r}: {exc}") from exc


@dataclass(frozen=True)
class Plan:
    """An ordered stack of faults and the seed every fault's random source derives from."""

    faults: tuple[Fault, ...] = ()
    seed: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        if not isinstance(data, Mapping):
            raise PlanError(f"a plan is an object with 'faults' (and 'seed'), got {type(data).__name__}")
        unknown = sorted(set(data) - {"seed", "faults"})
        if unknown:
            raise PlanError(f"unknown plan key(s) {unknown}; a plan has 'seed' and 'faults'")
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise PlanError(f"seed must be an integer, not {seed!r}")
        faults = data.get("faults", [])
        if not isinstance(faults, list):
            raise PlanError("faults must be a list")
        return cls(tuple(fault_from_dict(f) for f in faults), seed)

    @classmethod
    def load(cls, path: Path) -> Plan:
        """Read a plan from a YAML or JSON file (JSON is YAML, so one parser reads both)."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlanError(f"cannot read plan {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise PlanError(f"plan {path} is not valid YAML/JSON: {exc}") from exc
        try:
            return cls.from_dict(data if data is not None else {})
        except PlanError as exc:
            raise PlanError(f"{path}: {exc}") from exc

    def with_seed(self, seed: int) -> Plan:
        return Plan(self.faults, seed)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "faults": [f.to_dict() for f in self.faults]}

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _identity(request: Request) -> str:
    """What makes two requests 'the same request' for attempt counting: method, id and params."""
    parts = [request.http_method.upper()]
    for message in request.messages:
        parts.append(
            json.dumps([message.get("method"), message.get("id"), message.get("params")], sort_keys=True)
        )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class PlanRunner:
    """A plan in use by one server run: per-fault counters and seeded random sources."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._rngs = [random.Random(f"{plan.seed}:{i}:{f.kind}") for i, f in enumerate(plan.faults)]
        self._selected: Counter[int] = Counter()
        self._applied: Counter[int] = Counter()
        self._attempts: Counter[str] = Counter()

    def attempt_of(self, request: Request) -> int:
        """Count this request and return its attempt number (1 for the first time it is seen)."""
        key = _identity(request)
        self._attempts[key] += 1
        return self._attempts[key]

    def apply(self, exchange: Exchange, attempt: int | None = None) -> list[str]:
        """Apply every fault whose match and probability say so; return the kinds applied, in order.

        ``attempt`` is the request's attempt number when the caller already counted it
        (:meth:`attempt_of`); otherwise it is counted here.
        """
        if attempt is None:
            attempt = self.attempt_of(exchange.request)
        applied: list[str] = []
        for index, fault in enumerate(self.plan.faults):
            m = fault.match
            if not m.selects(exchange.request):
                continue
            self._selected[index] += 1
            if m.attempt is not None and attempt != m.attempt:
                continue
            if m.nth is not None and self._selected[index] != m.nth:
                continue
            if m.times is not None and self._applied[index] >= m.times:
                continue
            rng = self._rngs[index]
            if fault.probability < 1.0 and rng.random() >= fault.probability:
                continue
            fault.apply(exchange, rng)
            self._applied[index] += 1
            applied.append(fault.kind)
        exchange.applied.extend(applied)
        return applied

    def kinds(self) -> Iterable[str]:
        return (f.kind for f in self.plan.faults)
