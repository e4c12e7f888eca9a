"""Structured fields out of a VLM's answer, however untidy.

Models asked for JSON answer with code fences, prose around the object, trailing commas, single
quotes, bare keys, Python literals, or stop mid-sentence at ``max_new_tokens``. ``parse_fields``
finds the first ``{...}`` object and, if it is not valid JSON as is, repairs it step by step; a
truncated object is closed (a value cut mid-string keeps its text). It reports which happened:

- ``ok``: the object parsed as is (code fences and prose around it are fine);
- ``repaired``: it parsed only after repairs;
- ``fallback``: no usable object; the raw text (fences stripped) becomes ``dense_description`` if
  there is any text, every other field stays empty.

Missing fields are filled with ``""`` and listed in ``Parsed.missing``; unknown keys are dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from curation_assets.captioning.base import FIELDS, Parse

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_\- ]*?)(\s*:)")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}
_PY_LITERAL = re.compile(r"\b(True|False|None)\b")


@dataclass(frozen=True)
class Parsed:
    fields: dict[str, str]
    parse: Parse
    missing: tuple[str, ...] = ()  # expected fields the answer did not give


def parse_fields(raw: str, fields: Sequence[str] = FIELDS) -> Parsed:
    """Fields from a model answer; never raises."""
    text = strip_fences(raw)
    obj, parse = _first_object(text)
    if obj is None:
        out = dict.fromkeys(fields, "")
        if "dense_description" in out:
            out["dense_description"] = text.strip()
        return Parsed(out, Parse.FALLBACK, tuple(f for f in fields if f != "dense_description"))
    obj = _unwrap(obj, fields)
    by_key = {_key(k): v for k, v in obj.items()}
    out = {f: _text(by_key.get(f)) for f in fields}
    missing = tuple(f for f in fields if f not in by_key)
    return Parsed(out, parse, missing)


def strip_fences(raw: str) -> str:
    """The inside of the first Markdown code fence, or the text itself when there is none."""
    match = _FENCE.search(raw)
    return match.group(1).strip() if match else raw.strip()


def _key(name: str) -> str:
    """'Dense Description', 'dense-description' -> 'dense_description'."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return ", ".join(t for t in (_text(v) for v in value) if t)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _unwrap(obj: dict, fields: Sequence[str]) -> dict:
    """{"caption": {...fields...}} -> {...fields...} when the top level has none of the fields."""
    wanted = set(fields)
    if any(_key(k) in wanted for k in obj):
        return obj
    inner = [v for v in obj.values() if isinstance(v, dict)]
    if len(inner) == 1 and any(_key(k) in wanted for k in inner[0]):
        return inner[0]
    return obj


def _first_object(text: str) -> tuple[dict | None, Parse]:
    start = text.find("{")
    if start < 0:
        return None, Parse.FALLBACK
    candidate, complete = _balanced(text, start)
    if complete:
        loaded = _loads(candidate)
        if loaded is not None:
            return loaded, Parse.OK
    loaded = _repair(candidate)
    return (loaded, Parse.REPAIRED) if loaded is not None else (None, Parse.FALLBACK)


def _balanced(text: str, start: int) -> tuple[str, bool]:
    """From ``start`` (a '{') to its matching '}', or to the end if it never closes."""
    depth = 0
    quote = ""
    escaped = False
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return text[start : i + 1], True
    return text[start:], False


def _loads(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _segments(text: str) -> tuple[list[tuple[bool, str]], bool]:
    """Split into (is_string, text) runs, rewriting single-quoted strings as JSON strings.

    Returns the runs and whether the last string was left open (truncated output).
    """
    runs: list[tuple[bool, str]] = []
    buf: list[str] = []
    quote = ""
    escaped = False
    for c in text:
        if not quote:
            if c in "\"'":
                runs.append((False, "".join(buf)))
                buf, quote = ['"'], c
            else:
                buf.append(c)
            continue
        if escaped:
            escaped = False
            if quote == "'" and c == "'":
                buf[-1] = "'"  # \' is not a JSON escape
            else:
                buf.append(c)
        elif c == "\\":
            escaped = True
            buf.append(c)
        elif c == quote:
            buf.append('"')
            runs.append((True, "".join(buf)))
            buf, quote = [], ""
        elif c == '"':  # a double quote inside a single-quoted string
            buf.append('\\"')
        elif c == "\n":
            buf.append("\\n")
        else:
            buf.append(c)
    if quote:
        if escaped:
            buf.pop()  # a dangling backslash would escape the closing quote
        runs.append((True, "".join(buf) + '"'))
    else:
        runs.append((False, "".join(buf)))
    return runs, bool(quote)


def _normalise(text: str) -> str:
    runs, _ = _segments(text)
    out = []
    for is_string, run in runs:
        if not is_string:
            run = _PY_LITERAL.sub(lambda m: _PY_LITERALS[m.group(1)], run)
            run = _BARE_KEY.sub(lambda m: f'{m.group(1)}"{m.group(2).strip()}"{m.group(3)}', run)
        out.append(run)
    # Trailing commas may sit in one run ("x",}) only after joining, so remove them last, and
    # only outside strings: re-split and edit the non-string runs.
    joined = "".join(out)
    runs, _ = _segments(joined)
    return "".join(r if s else _TRAILING_COMMA.sub(r"\1", r) for s, r in runs)


def _close(text: str) -> str:
    """Close open brackets of a truncated object; drop a dangling ',' or ':'."""
    runs, _ = _segments(text)
    stack: list[str] = []
    for is_string, run in runs:
        if is_string:
            continue
        for c in run:
            if c in "{[":
                stack.append("}" if c == "{" else "]")
            elif c in "}]" and stack:
                stack.pop()
    body = "".join(r for _, r in runs).rstrip()
    if body.endswith(","):
        body = body[:-1]
    elif body.endswith(":"):
        body += ' ""'
    return body + "".join(reversed(stack))


def _cuts(text: str) -> list[int]:
    """Positions of commas outside strings, last first: places to cut a broken tail."""
    runs, _ = _segments(text)
    positions, offset = [], 0
    for is_string, run in runs:
        if not is_string:
            positions += [offset + i for i, c in enumerate(run) if c == ","]
        offset += len(run)
    return positions[::-1]


def _repair(candidate: str) -> dict | None:
    normal = _normalise(candidate)
    for attempt in (normal, _close(normal)):
        loaded = _loads(attempt)
        if loaded is not None:
            return loaded
    for cut in _cuts(normal)[:50]:
        loaded = _loads(_close(normal[:cut]))
        if loaded is not None:
            return loaded
    return None
