"""A judge's confidence per item, from its own signal in a judge run or a judgments file.

* logprob mode: the top mass of the distribution over the scale points (or its spread),
  read back from each judgment's reasoning, where judgecal keeps the distribution
  (``expected value over scale tokens 1=0.100, 2=0.700, ...``; the journal's keys are
  unchanged); several samples: the mean over the item's samples;
* several samples (``[scoring] samples = n``): the share of the item's samples equal to
  their mode;
* a judgments file: its ``confidence`` column (the mean over the item's ``ok`` rows), else
  the agreement of its samples when it has several per item.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._stats import sample_agreement, spread_confidence, top_mass

if TYPE_CHECKING:
    from harness.judgments import JudgeRun, RecordedJudge

__all__ = ["CONFIDENCE_SOURCES", "ConfidenceSource", "SelectiveError", "parse_distribution",
           "run_confidence"]

ConfidenceSource = Literal["auto", "top_mass", "spread", "samples", "recorded"]
#: The ``--confidence`` choices.
CONFIDENCE_SOURCES = ("auto", "top_mass", "spread", "samples", "recorded")

_DIST = re.compile(r"expected value over scale tokens (?P<dist>[^;]*);")
_POINT = re.compile(r"^\s*(-?\d+)\s*=\s*([0-9.eE+-]+)\s*$")


class SelectiveError(ValueError):
    """Selective evaluation cannot be run on this input (an input error: exit 2)."""


def parse_distribution(reasoning: str | None) -> dict[int, float] | None:
    """The scale-point distribution a logprob judgment's reasoning summarises, or None.

    Examples
    --------
    >>> parse_distribution("expected value over scale tokens 3=0.250, 4=0.750; "
    ...                    "probability mass covered 0.990")
    {3: 0.25, 4: 0.75}
    """
    m = _DIST.search(reasoning or "")
    if m is None:
        return None
    out: dict[int, float] = {}
    for part in m.group("dist").split(","):
        pm = _POINT.match(part)
        if pm is None:
            return None
        out[int(pm.group(1))] = float(pm.group(2))
    return out or None


def run_confidence(run: JudgeRun, source: ConfidenceSource = "auto", *,
                   recorded: RecordedJudge | None = None) -> tuple[np.ndarray, str]:
    """The judge's confidence on each item of ``run`` (aligned with ``run.table.item_ids``).

    Parameters
    ----------
    run : JudgeRun
        A provider's run (:func:`harness.judgments.judge_anchors`) or a judgments file's
        (:func:`harness.judgments.recorded_run`).
    source : {"auto", "top_mass", "spread", "samples", "recorded"}
        ``auto``: ``recorded`` for a judgments file with a ``confidence`` column, else
        ``top_mass`` in logprob mode, else ``samples`` when items have several samples.
    recorded : RecordedJudge, optional
        The judgments file behind a recorded run (its ``confidence`` column).

    Returns
    -------
    confidence : numpy.ndarray
        NaN for an item without a valid judgment (never kept).
    source : str
        The signal used.

    Raises
    ------
    SelectiveError
        No confidence signal in the run (one structured sample per item), or the one asked
        for is not there.
    """
    mode = run.scoring.get("mode")
    rows = recorded.rows() if recorded is not None else None
    has_column = rows is not None and "confidence" in rows.columns \
        and rows["confidence"].notna().any()
    samples = run.result.samples()
    several = any(len(v) > 1 for v in samples.values())
    what = (f"{recorded.name} has no confidence column and one sample per item"
            if recorded is not None else
            f"{run.experiment.name} judges in {mode} mode with one sample per item")
    source = choose_source(source, has_column=has_column, mode=mode, several=several,
                           what=what)
    ids = list(run.table.item_ids)
    if source == "recorded":
        return _recorded(rows, ids), source
    if source in ("top_mass", "spread"):
        scale = (float(run.anchor_set.meta.scale.min), float(run.anchor_set.meta.scale.max))
        return _from_distributions(run, ids, source, scale), source
    return np.array([sample_agreement(samples[i]) if samples.get(i) else np.nan
                     for i in ids], dtype=float), source


def choose_source(source: str, *, has_column: bool, mode: str | None, several: bool,
                  what: str) -> str:
    """The confidence signal to read (``auto`` resolved), or why there is none.

    Parameters
    ----------
    source : str
        The ``--confidence`` asked for.
    has_column : bool
        A judgments file with a ``confidence`` column.
    mode : str or None
        The scoring mode (``logprob`` has a distribution per judgment).
    several : bool
        Several samples per item.
    what : str
        The judge, as the "no confidence signal" message names it.

    Raises
    ------
    SelectiveError
        No signal for ``auto``, the asked one missing, or an unknown source.
    """
    if source == "auto":
        if has_column:
            return "recorded"
        if mode == "logprob":
            return "top_mass"
        if several:
            return "samples"
        raise SelectiveError(
            f"no confidence signal: {what}; use [scoring] mode = \"logprob\" (the top "
            "mass of the score distribution), [scoring] samples = n > 1 (the agreement "
            "of n samples), or a judgments file with a confidence column")
    if source == "recorded":
        if not has_column:
            raise SelectiveError("--confidence recorded needs a judgments file with a "
                                 "confidence column")
        return source
    if source in ("top_mass", "spread"):
        if mode != "logprob":
            raise SelectiveError(f"--confidence {source} reads the logprob distribution: the "
                                 f"run is in {mode} mode")
        return source
    if source == "samples":
        if not several:
            raise SelectiveError("--confidence samples needs several samples per item "
                                 "([scoring] samples = n > 1)")
        return source
    raise SelectiveError(f"unknown confidence source {source!r}; use one of "
                         f"{', '.join(CONFIDENCE_SOURCES)}")


def _from_distributions(run: JudgeRun, ids: list[str], source: str,
                        scale: tuple[float, float]) -> np.ndarray:
    per_item: dict[str, list[float]] = {}
    for j in run.result.judgments:
        if j.status != "ok" or j.score is None:
            continue
        dist = parse_distribution(j.reasoning)
        if dist is None:
            raise SelectiveError(
                f"item {j.item_id!r}: the logprob judgment has no distribution summary in its "
                "reasoning (a journal from an older judgecal?); judge again with --refresh")
        value = top_mass(dist) if source == "top_mass" else spread_confidence(dist, scale)
        per_item.setdefault(j.item_id, []).append(value)
    return np.array([float(np.mean(per_item[i])) if i in per_item else np.nan for i in ids],
                    dtype=float)


def _recorded(rows: Any, ids: list[str]) -> np.ndarray:
    ok = rows[(rows["status"] == "ok") & rows["confidence"].notna()]
    means = ok.groupby("item_id")["confidence"].mean()
    return np.array([float(means[i]) if i in means.index else np.nan for i in ids],
                    dtype=float)
