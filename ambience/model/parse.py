"""Read YAML files and turn YAML text and pydantic errors into :class:`~ambience.errors.Issue` lists.

One run reports every problem in a file: the field path, the bad value, what is allowed
and, for a misspelt key, the key it probably meant.

Presets and the config are held to limits that no real file comes near (docs/daemon.md): a
size (:func:`read_text`, checked before the file is read), :data:`MAX_DEPTH` levels of nesting
and :data:`MAX_VALUES` values with aliases expanded. Beyond them a file gets one issue and is
not used; without them a file nested 600 levels deep raised RecursionError out of PyYAML, and a
few kilobytes of aliases took minutes to validate.
"""

from __future__ import annotations

import os
import re
import types
import typing
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ambience.errors import Issue
from ambience.units import format_duration

MAX_DEPTH = 32
"""Levels of nested mappings and lists in a preset or config; the shipped presets have 6, a clinic config about 7."""
MAX_VALUES = 50_000
"""Values (mappings, lists, scalars) in a preset or config, each alias (``*name``) counted as what it stands for;
the shipped presets hold under 150, a config of 50 rooms with 10 lights each about 5,700."""
_COUNT_CAP = 10**12
"""Counting stops here: a few kilobytes of nested aliases can stand for more values than there are atoms."""


def read_text(path: Path, max_bytes: int, what: str) -> tuple[str | None, list[Issue]]:
    """The UTF-8 text of ``path``, or one issue: it cannot be read, or it is over ``max_bytes``.

    The size is checked before reading, and no more than ``max_bytes + 1`` bytes are ever read
    (a file that grows meanwhile, or a device such as /dev/zero).
    """
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            data = b"" if size > max_bytes else file.read(max_bytes + 1)
    except OSError as exc:
        return None, [Issue(str(path), "", f"cannot be read: {exc}")]
    if size > max_bytes or len(data) > max_bytes:
        found = f"{size:,} bytes{_size(size)}" if size > max_bytes else f"more than {max_bytes:,} bytes"
        message = f"is {found}; a {what} may be at most {max_bytes:,} bytes{_size(max_bytes)}"
        return None, [Issue(str(path), "", message)]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        return None, [Issue(str(path), "", f"cannot be read: {exc}")]


def _size(n: int) -> str:
    """`` (64 KiB)``, or nothing under 1 KiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f" ({n / scale:.3g} {unit})"
    return ""


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark):
        self.mark = mark


class _TooMany(Exception):
    pass


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, counting how deep it nests (its composer recurses once per level)
    and how many values it composes (so a file of tiny values stops at the limit, not at its end)."""

    depth = 0
    values = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _TooMany()
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        if self.depth >= MAX_DEPTH:
            raise _TooDeep(self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def deepest(self) -> int:
        """After :class:`_TooDeep`: the deepest level in the rest of the document (read as events only)."""
        depth = deepest = MAX_DEPTH  # the collection that was too deep has not been read yet
        try:
            while not self.check_event(yaml.StreamEndEvent, yaml.DocumentEndEvent):
                event = self.get_event()
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    deepest = max(deepest, depth)
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
        except yaml.YAMLError:
            pass  # a syntax error further on: what was seen so far is what is said
        return deepest


def load_yaml(text: str, source: str) -> tuple[Any, list[Issue]]:
    """Parse YAML text; a syntax error becomes one issue with its line and column.

    A key given twice in one mapping is an issue too (at the key's path): PyYAML would keep
    the last silently, so a room or a setting listed twice would lose the first unseen. So is
    nesting deeper than :data:`MAX_DEPTH` and more than :data:`MAX_VALUES` values.
    """
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except _TooDeep as exc:
            where = f"line {exc.mark.line + 1}, column {exc.mark.column + 1}"
            message = f"nested {loader.deepest()} levels deep; at most {MAX_DEPTH} levels are allowed"
            return None, [Issue(source, where, message)]
        except _TooMany:
            return None, [_too_many(source, f"more than {MAX_VALUES:,}")]
        if node is None:
            return None, []
        values = _expanded_size(node, _COUNT_CAP)
        if values > MAX_VALUES:
            return None, [_too_many(source, f"more than {_COUNT_CAP:,}" if values > _COUNT_CAP else f"{values:,}")]
        duplicates = [Issue(source, path, message) for path, message in _duplicate_keys(node)]
        if duplicates:
            return None, duplicates
        return loader.construct_document(node), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [Issue(source, where, f"not valid YAML: {problem}")]
    finally:
        loader.dispose()


def _too_many(source: str, found: str) -> Issue:
    message = f"holds {found} values (aliases counted as what they stand for); at most {MAX_VALUES:,} are allowed"
    return Issue(source, "", message)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """How many values the document holds with every alias expanded (capped at ``limit + 1``).

    Each node is visited once (post-order, sizes memoised), so a few kilobytes of aliases that
    stand for millions of values cost no more than their own nodes; a node that contains itself
    (``&m [*m]``) counts once there (the models refuse the cycle).
    """
    size: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_.discard(key)
            size[key] = min(limit + 1, 1 + sum(size.get(id(child), 1) for child in _children(node)))
        elif key not in size and key not in open_:
            open_.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))
    return size[id(root)]


def _duplicate_keys(root: yaml.Node) -> list[tuple[str, str]]:
    """(field path, message) for every scalar key repeated in a mapping; each node visited once (aliases)."""
    found: list[tuple[str, str]] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                line = key_node.start_mark.line + 1
                if key is not None and key_node.tag != "tag:yaml.org,2002:merge":
                    if (key_node.tag, key) in first:
                        earlier = first[key_node.tag, key]
                        where = f"line {line}" if earlier == line else f"lines {earlier} and {line}"
                        found.append((field_path(loc + (key,)), f"{key!r} is given twice ({where}); keep one"))
                    else:
                        first[key_node.tag, key] = line
                stack.append((value_node, loc + (key if key is not None else "?",)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, loc + (i,)) for i, item in enumerate(node.value))
    return sorted(found)


def field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _unwrap(tp: Any) -> list[Any]:
    """The candidate types behind Optional/Union/Annotated/list/dict/tuple."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _unwrap(arg)]
    return [tp]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[type[BaseModel]]:
    """The model classes that may sit at ``loc`` inside ``model``."""
    current: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for tp in current:
            origin = typing.get_origin(tp)
            args = typing.get_args(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                field = _field(tp, part) if isinstance(part, str) else None
                if field is not None:
                    nxt += _unwrap(field.annotation)
                else:
                    # discriminated unions put the tag in the loc: keep the models it names
                    pass
            elif origin in (list, tuple) and isinstance(part, int):
                nxt += _unwrap(args[0]) if args else []
            elif origin is dict and args:
                nxt += _unwrap(args[1])
        # a tag of a discriminated union ('zigbee2mqtt') selects among the candidates
        tagged = [t for t in nxt if _tag_of(t) == part]
        current = nxt or [t for t in current if _tag_of(t) == part] or current
        if tagged:
            current = tagged
    return [t for t in current if isinstance(t, type) and issubclass(t, BaseModel)]


def _field(model: type[BaseModel], key: str) -> Any:
    """The field a key names: by its name or, when it has one, by the alias the file uses (``from``)."""
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def _tag_of(tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name in ("bridge", "kind", "action"):
            field = tp.model_fields.get(name)
            if field is not None and typing.get_origin(field.annotation) is typing.Literal:
                return typing.get_args(field.annotation)[0]
    return None


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the validator names pydantic adds to a loc (``'function-before[...]'``)."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _shown_loc(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The loc as the user wrote it: without the tags of discriminated unions."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        if isinstance(part, str):
            here = _model_at(model, loc[:i])
            if not any(part in m.model_fields for m in here) and any(_tag_of(m) == part for m in here):
                continue
        out.append(part)
    return tuple(out)


_LIMITS = {
    "less_than_equal": ("le", "at most", "too long", "too high"),
    "less_than": ("lt", "under", "too long", "too high"),
    "greater_than_equal": ("ge", "at least", "too short", "too low"),
    "greater_than": ("gt", "more than", "too short", "too low"),
}
_KINDS = {
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "int_type": "is not a whole number",
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "finite_number": "is not a number",
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "string_type": "is not text",
    "dict_type": "is not a mapping (key: value)",
    "model_type": "is not a mapping (key: value)",
    "model_attributes_type": "is not a mapping (key: value)",
    "list_type": "is not a list",
    "tuple_type": "is not a list",
    "url_parsing": "is not a URL",
    "url_scheme": "is not a URL this can use",
}


def _is_duration(model: type[BaseModel], loc: tuple[Any, ...]) -> bool:
    """Whether the field at ``loc`` holds a duration (its bounds are then said as durations: ``6h``)."""
    if not loc or not isinstance(loc[-1], str):
        return False
    for parent in _model_at(model, loc[:-1]):
        field = _field(parent, loc[-1])
        if field is not None and any(getattr(m, "func", None) is format_duration for m in field.metadata):
            return True
    return False


def _shown_input(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return {"dict": "a mapping", "list": "a list", "tuple": "a list"}[type(value).__name__]
    return repr(value.strip() if isinstance(value, str) else value)


def plain_words(err: Any, duration: bool = False, joiner: str = ": ") -> str:
    """A pydantic error in the words a person reads: ``'7h' is too long; at most 6h``, not
    "Input should be less than or equal to 21600" (``duration``: the field holds seconds)."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    shown = _shown_input(value)
    if kind in _LIMITS:
        key, bound, long, high = _LIMITS[kind]
        limit = ctx.get(key)
        if duration and isinstance(limit, (int, float)):
            return f"{shown} is {long}; {bound} {format_duration(limit)}"
        return f"{shown} is {high}; {bound} {limit}"
    if kind == "string_too_long":
        return f"{shown} is too long; at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return (
            "is empty; write at least 1 character"
            if least == 1
            else f"{shown} is too short; at least {least} characters"
        )
    if kind in ("too_long", "too_short"):
        most = ctx.get("max_length") if kind == "too_long" else ctx.get("min_length")
        return f"has too {'many' if kind == 'too_long' else 'few'} items; {'at most' if kind == 'too_long' else 'at least'} {most}"
    if kind in _KINDS:
        return f"{shown} {_KINDS[kind]}"
    msg = str(err.get("msg") or kind).removeprefix("Value error, ")
    return f"{shown}{joiner}{msg[0].lower()}{msg[1:]}" if msg else shown


def issues_from(exc: ValidationError, model: type[BaseModel], source: str) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]))
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            parents = _model_at(model, loc[:-1])
            allowed = sorted({f.alias or name for m in parents for name, f in m.model_fields.items()})
            # a tagged union's own tag is not a key worth suggesting alongside
            msg = f"unknown key {key!r}"
            close = get_close_matches(key, allowed, n=1, cutoff=0.6)
            if close:
                msg += f"; did you mean {close[0]!r}?"
            elif allowed:
                msg += f"; allowed keys: {', '.join(allowed)}"
        elif kind == "string_pattern_mismatch":
            pattern = err.get("ctx", {}).get("pattern", "")
            if "a-z0-9" in pattern:
                msg = f"{err.get('input')!r} is not allowed; use lowercase letters, digits, '-' and '_'"
            else:
                msg = f"{err.get('input')!r} is not allowed; it must match {pattern}"
        elif kind == "missing":
            msg = "is required but missing"
        elif kind in (
            "duration",
            "boolean",
            "number",
            "range",
            "color",
            "value_error",
            "literal_error",
            "enum",
        ) or kind.startswith("custom"):
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            if kind in ("literal_error", "enum"):
                msg = f"{err.get('input')!r} is not allowed; {msg[0].lower()}{msg[1:]}"
                choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
                close = get_close_matches(str(err.get("input")), choices, n=1)
                if close:
                    msg += f"; did you mean {close[0]!r}?"
        elif kind == "union_tag_invalid":
            ctx = err.get("ctx", {})
            discriminator = str(ctx.get("discriminator", "")).strip("'")
            if discriminator == "action":
                loc = loc + (discriminator,)
            tag = ctx.get("tag")
            expected = ctx.get("expected_tags", "")
            choices = [t.strip(" '") for t in str(expected).split(",")]
            msg = f"{tag!r} is not allowed; expected one of {expected}"
            close = get_close_matches(str(tag), choices, n=1)
            if close:
                msg += f"; did you mean {close[0]!r}?"
        else:
            msg = plain_words(err, _is_duration(model, loc))
        path = field_path(_shown_loc(model, loc))
        if (path, msg) not in seen:
            seen.add((path, msg))
            issues.append(Issue(source, path, msg))
    return issues
