"""Prompt templates: `{field}` placeholders filled from a record, `{{`/`}}` for braces.

A template is compiled once and rendered per record, so a 100k-row import pays the parsing
once. Dotted names (`{author.name}`) reach into nested objects when no field has that exact
name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


class TemplateError(ValueError):
    """The template itself is malformed (unbalanced braces, empty placeholder)."""


class MissingField(KeyError):
    """A record lacks a field the template names; `args[0]` is the field name."""

    @property
    def field(self) -> str:
        return str(self.args[0])


_MISSING = object()


class Template:
    """A compiled template: literal text and field names, alternating."""

    __slots__ = ("_parts", "fields", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        parts: list[tuple[bool, str]] = []  # (is_field, text)
        literal: list[str] = []
        i, n = 0, len(source)
        while i < n:
            ch = source[i]
            if ch == "{":
                if i + 1 < n and source[i + 1] == "{":
                    literal.append("{")
                    i += 2
                    continue
                end = source.find("}", i + 1)
                if end < 0:
                    raise TemplateError(
                        f"the template has a '{{' at character {i + 1} that is never closed "
                        "(write '{{' for a literal brace)"
                    )
                name = source[i + 1 : end].strip()
                if not name or "{" in name:
                    raise TemplateError(
                        f"the template has an empty or malformed placeholder at character "
                        f"{i + 1} (write '{{{{' for a literal brace)"
                    )
                if literal:
                    parts.append((False, "".join(literal)))
                    literal = []
                parts.append((True, name))
                i = end + 1
            elif ch == "}":
                if i + 1 < n and source[i + 1] == "}":
                    literal.append("}")
                    i += 2
                    continue
                raise TemplateError(
                    f"the template has a '}}' at character {i + 1} without a matching '{{' "
                    "(write '}}' for a literal brace)"
                )
            else:
                nxt = min(
                    (p for p in (source.find("{", i), source.find("}", i)) if p >= 0),
                    default=n,
                )
                literal.append(source[i:nxt])
                i = nxt
        if literal:
            parts.append((False, "".join(literal)))
        self._parts = tuple(parts)
        self.fields: tuple[str, ...] = tuple(dict.fromkeys(t for f, t in parts if f))

    @classmethod
    def for_field(cls, name: str) -> Template:
        """A template that is just one field, whatever characters its name holds."""
        template = cls("")
        template.source = "{" + name + "}"
        template._parts = ((True, name),)
        template.fields = (name,)
        return template

    def missing_fields(self, record: Mapping[str, Any]) -> list[str]:
        """Fields this template names that `record` does not have."""
        return [f for f in self.fields if _lookup(record, f) is _MISSING]

    def render(self, record: Mapping[str, Any]) -> str:
        """Fill the placeholders; raises `MissingField` for the first absent field."""
        out: list[str] = []
        for is_field, text in self._parts:
            if not is_field:
                out.append(text)
                continue
            value = _lookup(record, text)
            if value is _MISSING:
                raise MissingField(text)
            out.append(format_value(value))
        return "".join(out)


def _lookup(record: Mapping[str, Any], name: str) -> Any:
    value = record.get(name, _MISSING)
    if value is not _MISSING or "." not in name:
        return value
    node: Any = record
    for key in name.split("."):
        if isinstance(node, Mapping):
            node = node.get(key, _MISSING)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def format_value(value: Any) -> str:
    """How a record value appears in a prompt: text as is, null as empty, others as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def render_template(template: str, record: Mapping[str, Any]) -> str:
    """Render `template` with `record` (raises TemplateError or MissingField)."""
    return Template(template).render(record)
