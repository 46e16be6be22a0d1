"""JSON settings <-> frozen dataclasses, with clear errors: shared by faults and toxics.

Settings are flat JSON objects whose field names carry their units
(``delay_ms``, ``rate_kbps``).  :func:`build` checks every key and value
against the dataclass's annotations, so a typo in a plan file is an error that
names the key, never a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

__all__ = ["SettingsError", "build", "dump"]

T = TypeVar("T")


class SettingsError(ValueError):
    """A settings mapping does not fit its dataclass; translated by callers into their own error."""


def _check(name: str, value: Any, hint: Any) -> Any:
    origin = get_origin(hint)
    if origin is Literal:
        if value not in get_args(hint):
            raise SettingsError(f"{name} must be one of {list(get_args(hint))}, not {value!r}")
        return value
    if origin in (Union, types.UnionType):
        errors = []
        for option in get_args(hint):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _check(name, value, option)
            except SettingsError as exc:
                errors.append(str(exc))
        raise SettingsError("; ".join(errors) or f"{name}: bad value {value!r}")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"{name} must be a list, not {value!r}")
        (item,) = get_args(hint)[:1] or (Any,)
        return tuple(_check(f"{name}[]", v, item) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{name} must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"{name} must be an integer, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{name} must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SettingsError(f"{name} must be a string, not {value!r}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, Mapping):
            raise SettingsError(f"{name} must be an object, not {value!r}")
        return build(hint, value, where=f"{name}.")
    return value


def build(cls: type[T], data: Mapping[str, Any], *, where: str = "", skip: frozenset[str] = frozenset()) -> T:
    """Make ``cls`` from ``data``; unknown keys and ill-typed values raise :class:`SettingsError`."""
    if not isinstance(data, Mapping):
        raise SettingsError(f"{where or 'settings'} must be an object, not {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in skip}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SettingsError(
            f"unknown setting(s) {', '.join(where + k for k in unknown)}; known: {sorted(fields)}"
        )
    kwargs = {key: _check(where + key, value, hints[key]) for key, value in data.items()}
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where or cls.__name__}: {exc}") from exc
    return obj


def dump(obj: Any, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The JSON form of a settings dataclass (nested dataclasses become objects, tuples lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.name in skip or not f.init:
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dump(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out
