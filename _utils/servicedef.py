"""Service definition templates: the article's ``$placeholder`` convention.

A service template is a Marathon app definition in JSON with placeholders
such as ``$tag``, ``$environment`` and ``$instances`` (any name matching
``[A-Za-z_][A-Za-z0-9_]*``; ``${name}`` when letters follow directly).
``$$`` stands for a literal ``$`` (for instance ``"cmd": "echo $$HOME"``).

Substitution knows where each placeholder sits:

- inside a JSON string, the value is inserted as escaped string content
  (``"registry.local/test-server:$tag"``);
- outside a string, the value is inserted as a JSON value of its own type
  (``"instances": $instances`` becomes ``"instances": 4``).

Two stages use it, as in the article:

- build time (:func:`substitute` with ``strict=False``) fills only the values
  it knows (usually ``tag``) and keeps every other placeholder and ``$$``
  untouched, so the result is still a template;
- deploy time (:func:`render`) fills everything, refuses an unfilled
  placeholder (naming it and its line) and returns the parsed JSON, or names
  the line and column where the JSON is invalid.

This file is the one implementation for the ``servicedef`` renderer, the
``marathon`` execution module and plain scripts (CI), so it imports nothing
from Salt. Salt's loader exposes its functions as ``servicedef.<function>``.
"""

import json
import re

PLACEHOLDER = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_]\w*)\}|(?P<bare>[A-Za-z_]\w*)|(?P<dollar>\$))"
)


# What salt-call's argument parsing and pillar's YAML do to a value written as text.
YAML_CHANGES = (
    "YAML (salt-call arguments, pillar) reads 1.10 as 1.1, 0755 as 755, 0x1F as 31 and yes as True"
)


class TemplateError(ValueError):
    """A service template cannot be turned into a definition."""


class UnfilledPlaceholderError(TemplateError):
    """Placeholders left without a value at deploy time."""

    def __init__(self, unfilled, source):
        self.unfilled = unfilled
        where = ", ".join(f"${name} (line {line})" for name, line in unfilled)
        super().__init__(f"{source}: no value for placeholder {where}")


class InvalidJSONError(TemplateError):
    """The substituted template is not valid JSON."""

    def __init__(self, reason, line, column, source):
        self.line = line
        self.column = column
        super().__init__(f"{source}: invalid JSON at line {line} column {column}: {reason}")


class InexactValueError(TemplateError):
    """A value that belongs inside a JSON string arrived as something else than text."""

    def __init__(self, inexact, source):
        self.inexact = inexact
        where = "; ".join(
            f"${name} (line {line}) is the {type(value).__name__} {value!r}"
            for name, line, value in inexact
        )
        super().__init__(
            f"{source}: {where}, but it sits inside a JSON string and must be text. "
            f"{YAML_CHANGES}, so quote the value: on the command line name='\"1.10\"' or "
            "values='{\"name\": \"1.10\"}', in pillar or a state name: '1.10'"
        )


def find_placeholders(text):
    """Return ``[(name, line, column, in_string)]`` for every placeholder in ``text``.

    ``$$`` escapes are skipped. Lines and columns count from 1.
    """
    return [
        (name, line, column, in_string)
        for name, start, _end, line, column, in_string in _scan(text)
        if name is not None
    ]


def placeholder_names(text):
    """Return the sorted set of placeholder names used in ``text``."""
    return sorted({name for name, *_ in find_placeholders(text)})


def substitute(text, values, strict=True, source="template"):
    """Replace placeholders in ``text`` with ``values`` and return the new text.

    ``strict=False`` is the build stage: placeholders without a value and
    ``$$`` escapes are kept as they are. ``strict=True`` is the deploy stage:
    every placeholder must have a value (else :class:`UnfilledPlaceholderError`)
    and ``$$`` becomes ``$``. ``source`` names the template in errors.
    """
    values = dict(values or {})
    pieces = []
    unfilled = []
    position = 0
    for name, start, end, line, _column, in_string in _scan(text):
        pieces.append(text[position:start])
        position = end
        if name is None:
            pieces.append("$" if strict else "$$")
        elif name in values:
            pieces.append(_encode(values[name], in_string, name))
        else:
            unfilled.append((name, line))
            pieces.append(text[start:end])
    pieces.append(text[position:])
    if strict and unfilled:
        raise UnfilledPlaceholderError(unfilled, source)
    return "".join(pieces)


def inexact_values(text, values, ignore=(), source="template"):
    """Raise :class:`InexactValueError` for values placed inside a JSON string
    that are not strings (numbers, booleans, null), except names in ``ignore``.

    Such a value was written as text by the user but parsed by YAML on the
    way (``1.10`` became ``1.1``); inserting its ``str()`` would silently
    change it, so it is refused instead.
    """
    inexact = []
    for name, line, _column, in_string in find_placeholders(text):
        if not in_string or name in ignore or name not in values:
            continue
        value = values[name]
        if not isinstance(value, str | dict | list) and (name, line, value) not in inexact:
            inexact.append((name, line, value))
    if inexact:
        raise InexactValueError(inexact, source)


def render(text, values, source="template"):
    """Deploy stage: substitute every placeholder and return the parsed JSON.

    Raises :class:`UnfilledPlaceholderError` or :class:`InvalidJSONError`
    (both :class:`TemplateError`, a ``ValueError``).
    """
    return parse_json(substitute(text, values, strict=True, source=source), source)


def parse_json(text, source="template"):
    """Parse ``text`` as JSON, raising :class:`InvalidJSONError` with line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidJSONError(exc.msg, exc.lineno, exc.colno, source) from None


def _encode(value, in_string, name):
    if in_string:
        # The surrounding quotes are already in the template: insert content only.
        return json.dumps(value if isinstance(value, str) else _scalar_text(value, name))[1:-1]
    return json.dumps(value)


def _scalar_text(value, name):
    if isinstance(value, dict | list):
        raise TemplateError(
            f"${name} sits inside a JSON string but its value is a {type(value).__name__}"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _scan(text):
    """Yield ``(name, start, end, line, column, in_string)`` per placeholder or ``$$``.

    ``name`` is None for a ``$$`` escape. A small JSON-aware scanner tracks
    whether the position is inside a string literal, honouring backslashes.
    """
    in_string = False
    line = 1
    line_start = 0
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "\n":
            line += 1
            line_start = index + 1
        elif char == "\\" and in_string:
            index += 2
            continue
        elif char == '"':
            in_string = not in_string
        elif char == "$":
            match = PLACEHOLDER.match(text, index)
            if match:
                name = match.group("braced") or match.group("bare")
                yield name, index, match.end(), line, index - line_start + 1, in_string
                index = match.end()
                continue
        index += 1
