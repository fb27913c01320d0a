"""promptfoo results JSON (``promptfoo eval -o results.json``)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ._common import (
    Imported,
    ImporterError,
    Score,
    build_frames,
    parse_labels,
    raise_problems,
    to_number,
)

#: A prompt label longer than this is the prompt's text: the judge id uses its index.
_LABEL_CHARS = 40
#: promptfoo's ``failureReason`` of a result that errored (no grading).
_ERROR = 2


def _results(data: Any, where: str) -> list[Any]:
    """The ``EvaluateResult`` list of a results file: ``results.results`` of the file
    ``promptfoo eval -o`` writes, or ``results`` of a bare summary."""
    inner = data.get("results") if isinstance(data, dict) else None
    if isinstance(inner, dict):
        inner = inner.get("results")
    if not isinstance(inner, list):
        raise ImporterError(where, "not a promptfoo results file: expected an object with "
                                   "results.results, a list of results")
    return inner


def _prompt_label(result: dict[str, Any]) -> str:
    prompt = result.get("prompt") if isinstance(result.get("prompt"), dict) else {}
    label = str(prompt.get("label") or "").strip()
    if not label or len(label) > _LABEL_CHARS or "\n" in label:
        return f"prompt{result.get('promptIdx', 0)}"
    return label


def read_promptfoo(path: str | Path, *, item_key: str | None = None,
                   labels: str | dict[str, float] | None = None,
                   criterion: str | None = None) -> Imported:
    """The graded results of a promptfoo results JSON file.

    Parameters
    ----------
    path : str or Path
        What ``promptfoo eval -o results.json`` writes.
    item_key : str, optional
        The test variable holding the item id; default the ``id`` variable when a test has
        one, else the test's index (``testIdx``).
    labels : str or dict, optional
        Text scores -> numbers (:func:`parse_labels`).
    criterion : str, optional
        Import only this named score.

    Returns
    -------
    Imported
        One judgment per (result, named score): judge = the provider's label (else its id),
        followed by ``|<prompt label>`` when the file holds several prompts; criterion =
        each key of ``namedScores`` (empty, with the result's ``score``, when it has none);
        rationale = ``gradingResult.reason``. Results without a grading (errors, tests
        without assertions) are skipped and counted; a repeated (item, judge, criterion)
        (``--repeat``) numbers its samples 0, 1, ... No human ratings.

    Raises
    ------
    ImporterError
        ``file:line`` for invalid JSON, ``file: results.results[i]: ...`` for a result
        without a provider, a missing ``item_key`` variable or a score that is not a number.
    """
    where = str(path)
    p = Path(path)
    table = parse_labels(labels)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ImporterError(where, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImporterError(where, f"cannot read the file: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImporterError(where, f"invalid JSON: {exc.msg}", exc.lineno) from None
    results = _results(data, where)
    prompts = {r.get("promptIdx", 0) for r in results if isinstance(r, dict)}
    judged: list[Score] = []
    problems: list[str] = []
    skipped: Counter[str] = Counter()
    for i, r in enumerate(results):
        at = f"results.results[{i}]"
        if not isinstance(r, dict):
            problems.append(f"{at}: expected an object, got {type(r).__name__}")
            continue
        grading = r.get("gradingResult")
        if not isinstance(grading, dict):
            why = "errors" if r.get("failureReason") == _ERROR or r.get("error") else \
                "results without grading"
            skipped[why] += 1
            continue
        provider = r.get("provider")
        if isinstance(provider, dict):
            provider = provider.get("label") or provider.get("id")
        if not isinstance(provider, str) or not provider.strip():
            problems.append(f"{at}: no provider id")
            continue
        judge = provider.strip() + (f"|{_prompt_label(r)}" if len(prompts) > 1 else "")
        test = r.get("testCase") if isinstance(r.get("testCase"), dict) else {}
        variables = r.get("vars") or test.get("vars") or {}
        key = item_key or "id"
        item = variables.get(key) if isinstance(variables, dict) else None
        if item is None or (isinstance(item, str) and not item.strip()):
            if item_key is not None:
                problems.append(f"{at}: the test has no variable {item_key!r} (--item-key)")
                continue
            item = r.get("testIdx")
            if item is None:
                problems.append(f"{at}: no testIdx and no 'id' variable to name the item")
                continue
        named = r.get("namedScores") or {}
        pairs = list(named.items()) if isinstance(named, dict) and named else \
            [("", r.get("score", grading.get("score")))]
        for name, raw in pairs:
            if criterion is not None and name != criterion:
                continue
            value, why = to_number(raw, table)
            if why is not None:
                problems.append(f"{at}{f' namedScores[{name!r}]' if name else ''}: {why}")
                continue
            assert value is not None
            judged.append(Score(str(item).strip(), judge, str(name), value,
                                rationale=str(grading.get("reason") or ""), where=at))
    raise_problems(where, problems)
    if not judged:
        raise ImporterError(where, f"no graded results ({len(results)} result(s))")
    judgments, humans = build_frames(judged, [], where)
    return Imported(judgments, humans, where, dict(skipped))
