"""Reading the few-shot examples a prompt version embeds.

The fewshot reviser writes its examples into a version as two lines: a comment, and
``{%- set examples = examples + [...] -%}`` with a Jinja list literal. The gate reads them
to refuse a version that shows holdout items; the revisers read them to build the next
version. Writing the lines is the reviser's business (``harness.loop._revise``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, nodes
from jinja2.exceptions import TemplateSyntaxError

from ._errors import PromptError

if TYPE_CHECKING:
    from ._store import PromptVersion

#: The ``set`` line that embeds examples; group 1 is the list literal.
EXAMPLES_LINE = re.compile(
    r"^[ \t]*\{%-?\s*set\s+examples\s*=\s*examples\s*\+\s*(\[.*\])\s*-?%\}[ \t]*$")
#: The comment line judgecal writes above it.
EXAMPLES_COMMENT_LINE = re.compile(
    r"^[ \t]*\{#-?\s*judgecal: few-shot examples\b.*#\}[ \t]*$")


def is_examples_line(line: str) -> bool:
    """Whether ``line`` (without its line break) is one of judgecal's examples lines.

    Parameters
    ----------
    line : str

    Returns
    -------
    bool
        True for the ``set examples`` line and for its comment line.
    """
    return bool(EXAMPLES_LINE.match(line) or EXAMPLES_COMMENT_LINE.match(line))


def _parse_literal(text: str) -> list[dict[str, Any]]:
    try:
        tree = Environment().parse("{{ " + text + " }}")
        node = tree.body[0].nodes[0]  # type: ignore[attr-defined]
        if not isinstance(node, nodes.List):
            raise ValueError("not a list")
        value = node.as_const()
    except (TemplateSyntaxError, nodes.Impossible, AttributeError, IndexError,
            ValueError) as exc:
        raise ValueError(f"the examples line is not a list literal ({exc})") from None
    if not all(isinstance(v, dict) for v in value):
        raise ValueError("the examples line must hold a list of objects")
    return [dict(v) for v in value]


def examples_in(pv: PromptVersion) -> list[dict[str, Any]]:
    """The few-shot examples embedded in a version by the fewshot reviser (ids included).

    Reads every line ``{%- set examples = examples + [...] -%}`` of the body (in order),
    parsing the list as Jinja does.

    Parameters
    ----------
    pv : PromptVersion
        The version.

    Returns
    -------
    list of dict
        ``id``, ``input``, ``output``, ``score``, ``rationale``; empty if there are none.

    Raises
    ------
    PromptError
        An examples line that is not a list literal of objects (naming the file and line).
    """
    out: list[dict[str, Any]] = []
    offset = pv.text.count("\n", 0, len(pv.text) - len(pv.body))
    for i, line in enumerate(pv.body.splitlines()):
        m = EXAMPLES_LINE.match(line)
        if not m:
            continue
        try:
            out.extend(_parse_literal(m.group(1)))
        except ValueError as exc:
            raise PromptError(pv.path, offset + i + 1, str(exc)) from None
    return out
