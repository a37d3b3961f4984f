"""The code that runs inside the grading sandbox, next to a student's solution cell.

It imports nothing of ``helpers`` (the sandbox holds this one file and the Python environment, not
the repository), reads its tasks as JSON on standard input, and for each exercise runs the
solution cell in a fresh namespace, calls the student's function on the inputs the grader chose,
and writes the *values* it returned, as plain JSON, one line per exercise on its standard output.
It judges nothing: the grader compares those values with its own, in its own process.

Values cross the boundary in one encoding (:func:`encode`, :func:`decode`), shared with the grader:
exact built-in types only (a ``float`` subclass is not a float), tensors and arrays as shape and
values, a linear map (an input of exercise 6.1) as its weight matrix.
"""
from __future__ import annotations

import json
import os
import sys

MAX_ITEMS = 100_000      # values of one tensor, items of one list
NAME_CHARS = 60          # an exception's type name, as reported
MESSAGE_CHARS = 200      # an exception's message, as reported


def _torch():
    import torch

    return torch


def encode(value):
    """A plain-JSON description of ``value``; types outside the few exact ones become
    ``{"invalid": <type name>}``, so that nothing a student's class does survives the trip."""
    kind = type(value)
    if kind is bool:
        return {"bool": value}
    if kind is int:
        return {"int": value}
    if kind is float:
        return {"float": value}
    if kind is str:
        return {"str": value[:MESSAGE_CHARS]}
    if kind in (list, tuple):
        if len(value) > MAX_ITEMS:
            return {"invalid": f"{kind.__name__} of {len(value)} items"}
        return {"list": [encode(item) for item in value]}
    if kind.__module__ == "numpy" and kind.__name__ in ("float64", "float32", "int64", "int32", "bool_"):
        return encode(value.item())
    is_array = kind.__module__ == "numpy" and kind.__name__ == "ndarray"
    if is_array or ("torch" in sys.modules and kind is _torch().Tensor):
        return _encode_array(value)
    if kind is LinearMap:
        return {"map": value.kind, "weight": _encode_array(value.weight)}
    return {"invalid": _bounded_name(kind)}


def _encode_array(array) -> dict:
    shape = list(array.shape)
    size = 1
    for side in shape:
        size *= side
    if size > MAX_ITEMS:
        return {"invalid": f"an array of {size} values"}
    flat = array.detach().cpu().double().flatten().tolist() if hasattr(array, "detach") \
        else array.astype("float64").ravel().tolist()
    integer = "int" in str(array.dtype) or "long" in str(array.dtype)
    return {"tensor": {"shape": shape, "values": flat, "integer": integer}}


def decode(value):
    """The Python object :func:`encode` described (tensors as torch tensors)."""
    if "map" in value:
        return LinearMap(decode(value["weight"]), value["map"])
    (kind, content), = value.items()
    if kind in ("bool", "int", "float", "str"):
        return content
    if kind == "list":
        return [decode(item) for item in content]
    if kind == "tensor":
        torch = _torch()
        dtype = torch.int64 if content["integer"] else torch.float64
        return torch.tensor(content["values"], dtype=dtype).reshape(content["shape"])
    raise ValueError(f"cannot decode a value of kind {kind!r}")


class LinearMap:
    """``t ↦ t @ weightᵀ`` (kind ``linear``), or its ReLU (``relu_linear``), on the last axis: a
    function an exercise takes as input, sent as its weight matrix."""

    def __init__(self, weight, kind: str = "linear"):
        self.weight, self.kind = weight, kind

    def __call__(self, t):
        out = t @ self.weight.T.to(t.dtype)
        return out.clamp_min(0) if self.kind == "relu_linear" else out


def _bounded_name(kind) -> str:
    name = "".join(ch for ch in getattr(kind, "__name__", "object") if ch.isalnum() or ch == "_")
    return name[:NAME_CHARS] or "object"


def _error(stage: str, error: BaseException) -> dict:
    message = " ".join(str(error).split())[:MESSAGE_CHARS] if not isinstance(error, SyntaxError) else \
        f"line {error.lineno}: {error.msg}"[:MESSAGE_CHARS]
    return {"stage": stage, "type": _bounded_name(type(error)), "message": message}


def run(task: dict) -> dict:
    """One exercise: the solution cell, then the function on each case; its values or its error."""
    namespace = {"__name__": "__main__"}
    try:
        code = compile(task["solution"], f"<{task['exercise']}>", "exec")
    except SyntaxError as error:
        return {"exercise": task["exercise"], "error": _error("syntax", error)}
    try:
        exec(code, namespace)
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: the hand-in's, not ours
        return {"exercise": task["exercise"], "error": _error("solution", error)}
    function = namespace.get(task["function"])
    if not callable(function):
        return {"exercise": task["exercise"], "error": {"stage": "missing", "type": "", "message": ""}}
    outputs = []
    for case in task["cases"]:
        try:
            outputs.append(encode(function(*[decode(arg) for arg in case])))
        except BaseException as error:
            return {"exercise": task["exercise"], "error": _error("call", error), "done": len(outputs)}
    return {"exercise": task["exercise"], "outputs": outputs}


def main() -> None:
    """Tasks on stdin; one JSON line per exercise on the original stdout. The student's prints (and
    anything written to file descriptor 1) go to stderr, which the grader discards."""
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for task in json.loads(sys.stdin.read()):
        results.write(json.dumps(run(task)) + "\n")
        results.flush()
    os._exit(0)  # threads a hand-in left running must not keep the process alive


if __name__ == "__main__":
    main()
