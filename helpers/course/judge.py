"""The grader's verdict on one exercise, from values alone: what a hand-in's function returned (as the
worker encoded it) against the reference's values, on exact types and within a tolerance; and the
words for a failure. Every word and number of a message is the grader's own, except an exception's
type name and bounded message (:func:`failure_message`)."""
from __future__ import annotations

import math

NAME_CHARS, MESSAGE_CHARS = 60, 200


def _one_line(text) -> str:
    """Printable characters only (a hand-in's message may hold NULs or terminal escapes), on one line."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())


def failure_message(result: dict, function: str) -> str:
    error = result["error"] if isinstance(result.get("error"), dict) else {}
    name, message = _one_line(error.get("type", ""))[:NAME_CHARS], _one_line(error.get("message", ""))[:MESSAGE_CHARS]
    raised = f"{name}: {message}" if message else name
    return {"syntax": f"syntax error in the solution cell, {message}",
            "solution": f"the solution cell raised {raised}",
            "missing": f"the solution cell defines no function {function}",
            "call": f"calling {function} raised {raised}"}.get(error.get("stage"), "the grading process failed")


KIND_NAMES = {"bool": "a bool", "int": "an int", "float": "a float", "str": "a str", "list": "a list or tuple",
              "tensor": "a tensor"}


def difference(expected: dict, got, rtol: float, atol: float) -> str | None:
    """Why ``got`` (as the worker encoded it) is not ``expected`` (as the grader encoded it), in
    words and numbers of the grader's own; None when they agree."""
    (kind, want), = expected.items()
    if not isinstance(got, dict) or len(got) != 1:
        return "it returned something the grader cannot read"
    (got_kind, value), = got.items()
    if got_kind == "int" and kind == "float" and type(value) is int:   # 0 for 0.0 is the same number
        got_kind, value = "float", float(value)
    if got_kind != kind or got_kind not in KIND_NAMES:
        return f"expected {KIND_NAMES[kind]}, it returned {KIND_NAMES.get(got_kind, 'another type')}"
    if kind == "list":
        if type(value) is not list or len(value) != len(want):
            return f"expected {len(want)} items, it returned {len(value) if type(value) is list else 'other'}"
        for i, (w, g) in enumerate(zip(want, value)):
            wrong = difference(w, g, rtol, atol)
            if wrong:
                return f"item {i}: {wrong}"
        return None
    if kind == "tensor":
        return _tensor_difference(want, value, rtol, atol)
    if kind == "float":
        return None if _close(want, value, rtol, atol) else f"expected {want:.6g}, it returned {_number(value)}"
    return None if value == want and type(value) is type(want) else f"expected {_shown(want)}, it returned another value"


def _tensor_difference(want: dict, got, rtol: float, atol: float) -> str | None:
    if not isinstance(got, dict) or type(got.get("shape")) is not list or type(got.get("values")) is not list:
        return "it returned a tensor the grader cannot read"
    if got["shape"] != want["shape"] or len(got["values"]) != len(want["values"]):
        return f"expected shape {want['shape']}, it returned shape {[int(s) for s in got['shape'] if type(s) is int]}"
    for i, (w, g) in enumerate(zip(want["values"], got["values"])):
        if not _close(w, g, rtol, atol):
            return f"value {i}: expected {w:.6g}, it returned {_number(g)}"
    return None


def _close(want: float, got, rtol: float, atol: float) -> bool:
    if type(got) not in (float, int) or type(got) is bool:
        return False
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    return want == got or abs(got - want) <= atol + rtol * abs(want)


def _number(value) -> str:
    return f"{value:.6g}" if type(value) in (float, int) else "a non-number"


def _shown(value) -> str:
    return f"{value!r}" if type(value) in (int, bool) else "another string"
