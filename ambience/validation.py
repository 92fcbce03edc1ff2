"""Turn YAML text and pydantic errors into :class:`~ambience.errors.Issue` lists.

One run reports every problem in a file: the field path, the bad value, what is allowed
and, for a misspelt key, the key it probably meant.
"""

from __future__ import annotations

import re
import types
import typing
from difflib import get_close_matches
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import Issue


def load_yaml(text: str, source: str) -> tuple[Any, list[Issue]]:
    """Parse YAML text; a syntax error becomes one issue with its line and column.

    A key given twice in one mapping is an issue too (at the key's path): PyYAML would keep
    the last silently, so a room or a setting listed twice would lose the first unseen.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
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
                field = tp.model_fields.get(part) if isinstance(part, str) else None
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


def issues_from(exc: ValidationError, model: type[BaseModel], source: str) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]))
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else "?"
            parents = _model_at(model, loc[:-1])
            allowed = sorted({f for m in parents for f in m.model_fields})
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
            value = err.get("input")
            shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
            msg = f"{shown}: {err['msg'][0].lower()}{err['msg'][1:]}"
        path = field_path(_shown_loc(model, loc))
        if (path, msg) not in seen:
            seen.add((path, msg))
            issues.append(Issue(source, path, msg))
    return issues
