"""The metadata header at the top of a prompt file: a Jinja comment of ``key: value`` lines.

::

    {#- judgecal-prompt
    version: 2
    parent: 1
    changelog: One line saying what changed.
    scale: 1-6
    scoring: structured
    -#}

Because the header is a Jinja comment the whole file stays a valid template, and template
line numbers are file line numbers. ``scale: scorecard`` marks a prompt that scores every
question of a scorecard in one call (each on its own scale; ``scoring: structured``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path

from ._errors import PromptError

MARK = "judgecal-prompt"
KEYS = ("version", "parent", "changelog", "scale", "scoring")
SCORING_MODES = ("structured", "logprob")
#: The ``scale`` of a prompt that scores a whole scorecard in one call.
SCORECARD = "scorecard"

_OPEN = re.compile(r"^\{#-?\s*judgecal-prompt\s*$")
_CLOSE = re.compile(r"^\s*-?#\}\s*$")
_KEY_VALUE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*:(.*)$")
# ASCII digits only (\d would take "١" for 1), and few of them (int() refuses 4,300+)
_SCALE = re.compile(r"^(-?[0-9]{1,9})\s*-\s*(-?[0-9]{1,9})$")
_INT = re.compile(r"^v?([0-9]{1,9})$")


@dataclass(frozen=True)
class Header:
    """A parsed header; ``lines`` maps each key to its line in the file."""

    version: int
    parent: int | None
    changelog: str
    scale: tuple[int, int] | None  # None: a scorecard prompt (``scale: scorecard``)
    scoring: str
    body_start: int  # 0-based character offset of the template body in the file text
    lines: dict[str, int] = field(default_factory=dict)


def format_header(*, version: int, parent: int | None, changelog: str,
                  scale: tuple[int, int] | None, scoring: str) -> str:
    """The header text (ending in a newline) for these values; see :func:`parse_header`."""
    parent_s = "none" if parent is None else str(parent)
    scale_s = SCORECARD if scale is None else f"{scale[0]}-{scale[1]}"
    return (f"{{#- {MARK}\nversion: {version}\nparent: {parent_s}\nchangelog: {changelog}\n"
            f"scale: {scale_s}\nscoring: {scoring}\n-#}}\n")


def starts_with_header(text: str) -> bool:
    """Whether ``text`` starts with a header line ``{#- judgecal-prompt``."""
    first = text.splitlines()[0] if text else ""
    return bool(_OPEN.match(first))


def check_changelog(path: Path, line: int | None, changelog: str) -> str:
    """A valid one-line changelog, stripped; raises :class:`PromptError` otherwise."""
    text = changelog.strip()
    if not text:
        raise PromptError(path, line, "changelog is empty: say in one line what this version "
                                      "changes")
    if "\n" in text or "\r" in text:
        raise PromptError(path, line, "changelog must be one line")
    if "#}" in text or "{#" in text:
        raise PromptError(path, line, "changelog must not contain '{#' or '#}' (they would "
                                      "end the header's Jinja comment)")
    return text


def parse_header(path: Path, text: str) -> Header:
    """Parse and validate the header of a prompt file's text.

    Checks the form of each value; the checks that need the file name or the other versions
    (version equals the N of ``v<N>.j2``, the parent exists) are the store's.

    Parameters
    ----------
    path : Path
        The file, for error messages.
    text : str
        The whole file text.

    Returns
    -------
    Header

    Raises
    ------
    PromptError
        Naming the file and the line of the first problem.
    """
    lines = text.splitlines(keepends=True)
    if not lines or not _OPEN.match(lines[0].rstrip("\r\n")):
        first = lines[0].rstrip("\r\n") if lines else ""
        raise PromptError(path, 1, f"missing the {MARK} header: the file must start with the "
                                   f"line '{{#- {MARK}' (found {first[:60]!r})")
    values: dict[str, tuple[str, int]] = {}
    offset = len(lines[0])
    close_line = None
    for i, raw in enumerate(lines[1:], start=2):
        offset += len(raw)
        line = raw.rstrip("\r\n")
        if _CLOSE.match(line):
            close_line = i
            break
        if "#}" in line:
            raise PromptError(path, i, "'#}' ends the header's Jinja comment early; end the "
                                       "header with a line of its own: '-#}'")
        if not line.strip():
            continue
        m = _KEY_VALUE.match(line)
        if not m:
            raise PromptError(path, i, f"expected 'key: value' in the header, found "
                                       f"{line.strip()[:60]!r} (is the line '-#}}' that "
                                       "closes the header missing?)")
        key, value = m.group(1), m.group(2).strip()
        if key not in KEYS:
            hint = get_close_matches(key, KEYS, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise PromptError(path, i, f"unknown header key {key!r}{extra}; the keys are "
                                       f"{', '.join(KEYS)}")
        if key in values:
            raise PromptError(path, i, f"header key {key!r} given twice (also on line "
                                       f"{values[key][1]})")
        values[key] = (value, i)
    if close_line is None:
        raise PromptError(path, 1, "the header is not closed: end it with a line '-#}'")
    missing = [k for k in KEYS if k not in values]
    if missing:
        raise PromptError(path, close_line, f"header lacks {', '.join(repr(k) for k in missing)}"
                                            f" (required: {', '.join(KEYS)})")

    v, ln = values["version"]
    m = _INT.match(v)
    if not m or int(m.group(1)) < 1:
        raise PromptError(path, ln, f"version {v!r} is not a positive integer")
    version = int(m.group(1))

    p, ln = values["parent"]
    parent: int | None
    if p.lower() == "none":
        parent = None
    else:
        m = _INT.match(p)
        if not m:
            raise PromptError(path, ln, f"parent {p!r} must be 'none' or a version number")
        parent = int(m.group(1))
        if parent >= version:
            raise PromptError(path, ln, f"parent {parent} must be a lower version than this "
                                        f"file's version {version}")

    changelog = check_changelog(path, values["changelog"][1], values["changelog"][0])

    s, ln = values["scale"]
    scale: tuple[int, int] | None = None
    if s != SCORECARD:
        m = _SCALE.match(s)
        if not m:
            raise PromptError(path, ln, f"scale {s!r} must be 'MIN-MAX' with integers, e.g. "
                                        f"'1-6' (or '{SCORECARD}' for a prompt that scores "
                                        "every question of a scorecard in one call)")
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo >= hi:
            raise PromptError(path, ln, f"scale {s!r}: MIN must be below MAX")
        scale = (lo, hi)

    mode, ln = values["scoring"]
    if mode not in SCORING_MODES:
        raise PromptError(path, ln, f"scoring {mode!r} must be one of "
                                    f"{', '.join(SCORING_MODES)}")
    if scale is None and mode != "structured":
        raise PromptError(path, ln, f"a scorecard prompt (scale: {SCORECARD}) scores every "
                                    "question in one structured reply: use scoring: structured")

    return Header(version=version, parent=parent, changelog=changelog, scale=scale,
                  scoring=mode, body_start=offset,
                  lines={k: values[k][1] for k in KEYS} | {"close": close_line})
