"""Versioned judge prompts: ``prompts/<name>/v<N>.j2``, Jinja2 templates with a header.

The file format (header, message markers, template variables, the ``untrusted`` filter)
is documented in ``prompts/README.md``. A version's identity is the SHA-256 of its file;
a version the journal has used is frozen (edits must be saved as the next version).

Loading
    :func:`load_prompt` (with the journal check), :func:`resolve`, :func:`latest`,
    :func:`list_versions`, :func:`list_prompts`, :func:`load_prompt_file` ->
    :class:`PromptVersion`.
Rendering
    :func:`render` / :func:`render_for_anchor` -> tuple of
    :class:`~harness.judges._base.Message`; the :func:`untrusted` filter.
MLflow
    :func:`mlflow_template` (a version as an MLflow-native chat template that plain
    ``mlflow.genai.load_prompt(...).format(...)`` renders like judgecal),
    :func:`mlflow_variables`, :func:`format_like_mlflow`.
Writing
    :func:`save_new_version` writes ``v<max+1>.j2`` and never overwrites; :func:`diff`.
Few-shot examples
    :func:`examples_in` reads the examples a version embeds (the gate refuses a version
    that shows holdout items; the fewshot reviser builds on them), :func:`is_examples_line`.

Every problem raises :class:`PromptError` (``str`` = ``"path:line: message"``); the
sandbox's refusals (unsafe access, sizes over :data:`MAX_RENDER_CHARS`) are a
:class:`PromptSandboxError`, found when a prompt is loaded (a trial render with
:data:`PLACEHOLDER_ITEM`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._errors import PromptEditedError, PromptError, PromptNotFoundError, PromptSandboxError
from ._examples import examples_in, is_examples_line
from ._mlflow import format_like_mlflow, mlflow_template, mlflow_variables
from ._store import (
    PromptVersion,
    check_unchanged,
    diff,
    latest,
    list_prompts,
    list_versions,
    load_prompt,
    load_prompt_file,
    resolve,
    save_new_version,
)
from ._template import (
    MAX_RENDER_CHARS,
    PLACEHOLDER_ITEM,
    render,
    render_scorecard,
    scorecard_variables,
    untrusted,
)

if TYPE_CHECKING:
    from harness.anchors import AnchorItem, AnchorSet
    from harness.judges._base import Message


def render_for_anchor(prompt_version: PromptVersion, anchor_set: AnchorSet,
                      item: AnchorItem | str, examples: Iterable[Any] = ()
                      ) -> tuple[Message, ...]:
    """Render a prompt for one item of an anchor set (rubric, criterion, scale from its header).

    Parameters
    ----------
    prompt_version : PromptVersion
        The prompt.
    anchor_set : AnchorSet
        From :func:`harness.anchors.load_anchor_set`.
    item : AnchorItem or str
        The item, or its id in ``anchor_set``.
    examples : iterable, optional
        Few-shot examples (``input``, ``output``, ``score``, ``rationale``).

    Returns
    -------
    tuple of Message

    Raises
    ------
    PromptError
        As :func:`render`; also for an unknown item id.
    """
    if isinstance(item, str):
        found = next((it for it in anchor_set.items if it.id == item), None)
        if found is None:
            raise PromptError(anchor_set.path, None, f"no item with id {item!r}")
        item = found
    meta = anchor_set.meta
    return render(prompt_version, item, rubric=meta.rubric, criterion=meta.criterion,
                  scale=meta.scale, examples=examples)


__all__ = [
    "MAX_RENDER_CHARS",
    "PLACEHOLDER_ITEM",
    "PromptEditedError",
    "PromptError",
    "PromptNotFoundError",
    "PromptSandboxError",
    "PromptVersion",
    "check_unchanged",
    "diff",
    "examples_in",
    "format_like_mlflow",
    "is_examples_line",
    "latest",
    "list_prompts",
    "list_versions",
    "load_prompt",
    "load_prompt_file",
    "mlflow_template",
    "mlflow_variables",
    "render",
    "render_for_anchor",
    "render_scorecard",
    "resolve",
    "save_new_version",
    "scorecard_variables",
    "untrusted",
]
