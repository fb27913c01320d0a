"""Reading one JSON line of a user's file, with the failures a hostile file can cause."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: Deeper nesting than this is refused (anchor items and ratings rows are 2-3 levels deep).
MAX_JSON_DEPTH = 64


def _depth_exceeds(obj: Any, limit: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_json_line(text: str, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any]
                    | None = None, constant_hint: str = "") -> Any:
    """``json.loads`` of one line, refusing ``NaN``/``Infinity`` and deep nesting.

    Parameters
    ----------
    text : str
        The line.
    object_pairs_hook : callable, optional
        As for :func:`json.loads`.
    constant_hint : str, optional
        Appended to the message for ``NaN``/``Infinity`` (e.g. what to write instead).

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    ValueError
        The message in words (``malformed JSON at column 5: ...``, ``malformed JSON: nested
        too deeply ...``), ready to follow ``file:line: ``. Never a RecursionError.
    """
    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON{constant_hint}")

    try:
        obj = json.loads(text, object_pairs_hook=object_pairs_hook, parse_constant=reject)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON at column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        obj = None
        too_deep = True
    except ValueError as exc:  # NaN/Infinity, an integer of more than 4300 digits
        raise ValueError(f"malformed JSON: {exc}") from None
    else:
        too_deep = _depth_exceeds(obj, MAX_JSON_DEPTH)
    if too_deep:
        raise ValueError(f"malformed JSON: nested too deeply (more than {MAX_JSON_DEPTH} "
                         "levels of arrays and objects)")
    return obj
