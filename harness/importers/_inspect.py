"""Inspect AI eval logs (``.eval`` or ``.json``), read with ``inspect_ai.log``."""

from __future__ import annotations

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

#: Text values Inspect's ``value_to_float`` convention reads (C/I/P/N exactly, the rest in
#: any case): correct 1, incorrect 0, partial 0.5, no answer 0, yes/true 1, no/false 0.
_GRADES = ("C", "I", "P", "N")
_WORDS = ("yes", "no", "true", "false")


def _value(value: Any, labels: dict[str, float] | None, to_float: Any
           ) -> tuple[float | None, str | None]:
    """One score value: a label of ``labels`` first, then Inspect's grades and words, then
    :func:`to_number` (numbers, booleans, numeric text)."""
    if isinstance(value, str):
        text = value.strip()
        if (labels is None or text not in labels) and (text in _GRADES
                                                        or text.lower() in _WORDS):
            return float(to_float(text)), None
    return to_number(value, labels)


def _grader(name: str, log: Any) -> str:
    """The judge id of score ``name``: the name and the grader model (the scorer's ``model``
    argument when it names one, else the evaluated model, Inspect's default grader)."""
    params: dict[str, Any] = {}
    for s in (log.results.scores if log.results is not None else []) or []:
        if s.name == name:
            params = s.params or {}
            break
    model = params.get("model")
    if not isinstance(model, str) or not model:
        model = log.eval.model
    return f"{name}@{model}" if model else name


def read_inspect(path: str | Path, *, labels: str | dict[str, float] | None = None,
                 criterion: str | None = None) -> Imported:
    """The scores of an Inspect AI eval log.

    Parameters
    ----------
    path : str or Path
        An Inspect log file (``.eval`` or ``.json``).
    labels : str or dict, optional
        Text values -> numbers (:func:`parse_labels`), tried before Inspect's convention.
    criterion : str, optional
        For scorers whose value is a dict: import only this key.

    Returns
    -------
    Imported
        One judgment per (sample, epoch, score): item_id = the sample id, judge =
        ``<score name>@<grader model>``, sample = epoch - 1, criterion = the key of a
        dict-valued score (else empty), score = the value (numbers as they are; ``C``, ``I``,
        ``P``, ``N``, yes/no, true/false by Inspect's ``value_to_float``: 1, 0, 0.5, 0, 1,
        0, 1, 0), rationale = the score's explanation. Samples without scores are skipped
        and counted. No human ratings.

    Raises
    ------
    ImporterError
        ``file: ...`` for a missing or unreadable log, a list value, an unknown text value.
    """
    try:
        from inspect_ai.log import read_eval_log
        from inspect_ai.scorer import value_to_float
    except ImportError:
        raise ImporterError(str(path), "reading Inspect logs needs inspect-ai: pip install "
                                       "'judgecal[inspect]'") from None
    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise ImporterError(where, "no such file" if not p.exists() else "not a file")
    table = parse_labels(labels)
    try:
        log = read_eval_log(str(p))
    except Exception as exc:  # a zip, JSON or schema error: all mean "not a log"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImporterError(where, f"not a readable Inspect eval log: {first}") from None
    to_float = value_to_float()
    judged: list[Score] = []
    problems: list[str] = []
    skipped: Counter[str] = Counter()
    for sample in log.samples or []:
        if not sample.scores:
            skipped["samples without scores"] += 1
            continue
        for name, score in sample.scores.items():
            at = f"sample {sample.id!r} epoch {sample.epoch} score {name!r}"
            judge = _grader(name, log)
            parts = (score.value.items() if isinstance(score.value, dict)
                     else [("", score.value)])
            for key, raw in parts:
                if criterion is not None and key != criterion:
                    continue
                value, why = _value(raw, table, to_float)
                if why is not None:
                    problems.append(f"{at}{f' [{key!r}]' if key else ''}: {why}")
                    continue
                assert value is not None
                judged.append(Score(str(sample.id), judge, str(key), value,
                                    rationale=score.explanation or "",
                                    sample=int(sample.epoch) - 1, where=at))
    raise_problems(where, problems)
    if not judged:
        raise ImporterError(where, f"no scores in the log ({len(log.samples or [])} "
                                   f"sample(s); status {log.status})")
    judgments, humans = build_frames(judged, [], where)
    return Imported(judgments, humans, where, dict(skipped))
