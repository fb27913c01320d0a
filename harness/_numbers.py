"""One strict parser for numbers read from text (CSV cells, JSONL strings, command lines).

Python's ``float()`` and ``int()`` accept far more than a person means by a number:
``"1_0"`` (10), ``"nan"``, ``"inf"``, ``"infinity"``, surrounding whitespace of any kind and
the digits of every script (``"١"`` is 1). A score read from a file must be a plain decimal
number, so every place that reads one from text goes through :func:`parse_number`.
"""

from __future__ import annotations

import math
import re

#: ``[+-]digits[.digits][e[+-]digits]`` (or ``.5``), ASCII digits only, nothing around it.
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)

#: Longer texts are not numbers anyone wrote by hand (and are not worth parsing).
MAX_NUMBER_CHARS = 100


def parse_number(text: str) -> float:
    """A finite float from a plain decimal number written as text.

    Parameters
    ----------
    text : str
        E.g. ``"4"``, ``"-1.5"``, ``"3.25e0"``. No whitespace, underscores, ``nan``,
        ``inf`` or non-ASCII digits; the caller strips a cell's surrounding spaces if its
        format allows them.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        With a message that quotes the text and says what a number must look like.

    Examples
    --------
    >>> parse_number("4"), parse_number("-1.5")
    (4.0, -1.5)
    >>> parse_number("1_0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: '1_0' is not a plain decimal number (digits 0-9, ...)
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not text")
    if len(text) > MAX_NUMBER_CHARS or _PLAIN.fullmatch(text) is None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise ValueError(f"{shown!r} is not a plain decimal number (digits 0-9, an optional "
                         "sign, point and exponent)")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value
