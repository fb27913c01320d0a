"""The rubric in force in a session when it is a judge prompt version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.prompts._template import PLACEHOLDER_ITEM

from ._errors import SessionError

if TYPE_CHECKING:
    from harness.anchors import AnchorSet, Scorecard
    from harness.prompts import PromptVersion

__all__ = ["PLACEHOLDER_ITEM", "prompt_rubric"]


def prompt_rubric(prompt_version: PromptVersion,
                  anchor_set: AnchorSet | Scorecard) -> tuple[str, str]:
    """The instructions a judge prompt version gives, as a session's rubric.

    The prompt is rendered with the anchor set's rubric, criterion and scale (a scorecard's
    prompt, ``scale: scorecard``, with the scorecard's questions), and with
    :data:`PLACEHOLDER_ITEM` in place of an item. The rubric text is the system message(s),
    which hold the instructions (and any few-shot examples embedded in the version);
    a prompt without a system message is shown whole, each message under its role.

    Returns
    -------
    label : str
        ``"judge prompt <name> v<N> (<short hash>)"``: which version, exactly.
    text : str
        The instructions.

    Raises
    ------
    SessionError
        The prompt does not render for this set (e.g. a different scale); the message
        names the prompt file.
    """
    from harness.anchors import Scorecard
    from harness.prompts import PromptError, render, render_scorecard

    meta = anchor_set.meta
    try:
        if isinstance(anchor_set, Scorecard):
            messages = render_scorecard(prompt_version, PLACEHOLDER_ITEM,
                                        criteria=anchor_set.criteria, rubric=meta.rubric)
        else:
            messages = render(prompt_version, PLACEHOLDER_ITEM, rubric=meta.rubric,
                              criterion=meta.criterion, scale=meta.scale)
    except PromptError as exc:
        raise SessionError(f"judge prompt {prompt_version.name} {prompt_version.label} cannot "
                           f"be the rubric of {meta.name}: {exc}") from None
    system = [m.content for m in messages if m.role == "system"]
    text = ("\n\n".join(system) if system
            else "\n\n".join(f"[{m.role}]\n{m.content}" for m in messages))
    label = (f"judge prompt {prompt_version.name} {prompt_version.label} "
             f"({prompt_version.short_hash})")
    return label, text
