"""A small, safe template syntax for step inputs: ``{{ name.path.0 }}``, nothing else.

A reference is a dotted path: the first part names a value in the context (a
step's saved result, or a built-in such as ``agent`` or ``project_dir``), the
rest walks into it — dict keys, or list indexes written as numbers.  There are
no expressions, filters, calls or attribute access: the only thing a template
can do is read a value that is already there.

A string that is exactly one reference (``"{{ cr.assignees }}"``) is replaced
by the value itself, whatever its type; a reference inside a longer string is
formatted (strings as they are, other values as compact JSON).  Dicts and lists
are rendered recursively; other values pass through.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from agentdock.rehearsal.errors import TemplateError

__all__ = ["REFERENCE", "references", "render", "resolve"]

#: ``{{ name }}`` or ``{{ name.key.0 }}``; names and keys are identifiers or numbers (also ``-``).
REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}")
_OPEN = re.compile(r"\{\{")


def resolve(path: str, context: Mapping[str, Any]) -> Any:
    """The value at dotted ``path`` in ``context``; TemplateError saying where the walk stopped."""
    head, *rest = path.split(".")
    if head not in context:
        known = ", ".join(sorted(context)) or "nothing"
        raise TemplateError(f"{{{{ {path} }}}}: {head!r} is not known here (known: {known})")
    value = context[head]
    walked = head
    for part in rest:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            shown = json.dumps(value, default=str)[:200]
            raise TemplateError(f"{{{{ {path} }}}}: {walked} has no {part!r} (it is {shown})")
        walked += f".{part}"
    return value


def _format(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _render_string(text: str, context: Mapping[str, Any]) -> Any:
    whole = REFERENCE.fullmatch(text.strip())
    if whole is not None:
        return resolve(whole.group(1), context)
    rendered = REFERENCE.sub(lambda m: _format(resolve(m.group(1), context)), text)
    if _OPEN.search(REFERENCE.sub("", text)):
        raise TemplateError(f"{text!r}: '{{{{' that is not a reference such as {{{{ name.field }}}}")
    return rendered


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every reference in its strings replaced (a new structure; ``value`` is unchanged)."""
    if isinstance(value, str):
        return _render_string(value, context)
    if isinstance(value, Mapping):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def references(value: Any) -> set[str]:
    """The first names of every reference in ``value`` (for checking a script before it runs)."""
    if isinstance(value, str):
        return {match.group(1).split(".")[0] for match in REFERENCE.finditer(value)}
    if isinstance(value, Mapping):
        return set().union(*(references(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(item) for item in value)) if value else set()
    return set()
