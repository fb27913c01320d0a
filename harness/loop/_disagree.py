"""Where the judge parts from the humans on the calibration split, and the patterns in it.

:func:`analyze_disagreements` takes the judge's scores and the human consensus of the
calibration items and returns a :class:`~harness.loop._types.DisagreementAnalysis`:

``items``
    The items where ``|judge - consensus| >= threshold`` (one scale point by default),
    worst first (ties broken by item id), with the anchor's rationale, tags and output
    length.
``direction``
    ``mean_bias`` (mean of judge - consensus over every scored item), ``n_lenient`` /
    ``n_harsh`` (disagreements with judge - consensus ``>= +threshold`` / ``<= -threshold``)
    and ``label``: ``"lenient"`` when ``mean_bias >= +0.25`` scale points, ``"harsh"`` when
    ``<= -0.25``, else ``"balanced"`` (:data:`BIAS_LABEL_MIN`). Also ``threshold``,
    ``n_excluded`` and ``excluded_ids``: items without a valid judge score (NaN) or without
    a consensus, left out of every figure.
``by_tag``
    One row per tag: ``tag``, ``n``, ``mae``, ``bias``, ``n_disagreements`` and ``small``
    (``n < 2``: kept, but one item says little), worst MAE first.
``verbosity``
    Does the error grow with the output's length? Spearman's rho of the output length in
    characters against the signed error (``signed``) and the absolute error
    (``absolute``), each an :meth:`AgreementResult.to_dict` (undefined results keep their
    reason), ``rho_signed`` / ``rho_absolute`` (None when undefined), ``n`` and a one-line
    ``reading``. A ``|rho| < 0.3`` (:data:`RHO_WEAK`) is read as no clear length effect.

:func:`analysis_markdown` renders the analysis as the disagreement report (Markdown).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.agreement import spearman
from harness.anchors import AnchorSet
from harness.reports import MISSING, number_text, share_text, signed_text

from ._types import Disagreement, DisagreementAnalysis

#: ``|mean bias|`` (in scale points) from which the direction is labelled lenient / harsh.
BIAS_LABEL_MIN = 0.25

#: ``|rho|`` below which the length effect is read as "no clear length effect".
RHO_WEAK = 0.3

#: Below this many scored items a length reading is flagged as weak evidence.
FEW_ITEMS = 10


def _score(x: float) -> str:
    """A judge's score for the report: ``4`` for 4.0, ``3.5`` for 3.5, ``3.67`` for 11/3.

    Not :func:`~harness.reports.score_text` (``%g``): the judge's score of an item is the
    mean of its samples, which ``%g`` would write with six digits (``3.66667``) beside a
    consensus of two decimals; here two decimals at most, trailing zeros dropped.
    """
    return f"{x:.2f}".rstrip("0").rstrip(".")


_signed = signed_text


def direction_label(mean_bias: float | None) -> str:
    """``"lenient"``, ``"harsh"`` or ``"balanced"`` for a mean bias (judge - consensus).

    Parameters
    ----------
    mean_bias : float or None
        In scale points; None (no scored item) is ``"balanced"``.

    Returns
    -------
    str

    Examples
    --------
    >>> direction_label(0.3), direction_label(-0.25), direction_label(0.1)
    ('lenient', 'harsh', 'balanced')
    """
    if mean_bias is None or not math.isfinite(mean_bias) or abs(mean_bias) < BIAS_LABEL_MIN:
        return "balanced"
    return "lenient" if mean_bias > 0 else "harsh"


def verbosity_reading(signed: dict[str, Any], absolute: dict[str, Any], n: int) -> str:
    """The one-line reading of the length effect.

    Parameters
    ----------
    signed, absolute : dict
        :meth:`AgreementResult.to_dict` of Spearman's rho of the output length against the
        signed and the absolute error.
    n : int
        Scored items.

    Returns
    -------
    str
        E.g. ``"longer outputs get higher scores than the humans give (ρ = 0.42):
        possible verbosity bias"``; honest when rho is undefined or weak.
    """
    rs, ra = signed.get("value"), absolute.get("value")
    few = f" (only {n} items: weak evidence)" if n < FEW_ITEMS else ""
    if rs is None and ra is None:
        return f"length effect undefined: {signed.get('reason') or absolute.get('reason')}"
    if rs is not None and abs(rs) >= RHO_WEAK:
        if rs > 0:
            return (f"longer outputs get higher scores than the humans give "
                    f"(ρ = {number_text(rs)}): "
                    f"possible verbosity bias{few}")
        return (f"longer outputs get lower scores than the humans give "
                f"(ρ = {number_text(rs)}): the "
                f"judge may penalise length{few}")
    if ra is not None and abs(ra) >= RHO_WEAK:
        if ra > 0:
            return (f"the judge errs more on longer outputs (ρ = {number_text(ra)} for the "
                    "absolute "
                    f"error) but in no consistent direction{few}")
        return (f"the judge errs more on shorter outputs (ρ = {number_text(ra)} for the "
                "absolute "
                f"error) but in no consistent direction{few}")
    parts = [f"signed ρ = {number_text(rs)}" if rs is not None else
             f"signed ρ undefined: {signed.get('reason')}",
             f"absolute ρ = {number_text(ra)}" if ra is not None else
             f"absolute ρ undefined: {absolute.get('reason')}"]
    return f"no clear length effect ({'; '.join(parts)}){few}"


def analyze_disagreements(anchor_set: AnchorSet, item_ids: Sequence[str],
                          judge_scores: np.ndarray, consensus: np.ndarray, *,
                          threshold: float = 1.0) -> DisagreementAnalysis:
    """Analyse where the judge disagrees with the human consensus.

    Call it on the calibration items only: its result is handed to the reviser.

    Parameters
    ----------
    anchor_set : AnchorSet
        The set the items come from (rationales, tags, outputs).
    item_ids : sequence of str
        The items analysed, aligned with the score arrays.
    judge_scores : numpy.ndarray
        The judge's score per item; NaN = no valid judgment (excluded and counted).
    consensus : numpy.ndarray
        The human consensus per item; NaN = none (excluded and counted).
    threshold : float
        Smallest ``|judge - consensus|`` listed as a disagreement (scale points).

    Returns
    -------
    DisagreementAnalysis
        See the module docstring for the fields; ``n_items`` counts the scored items.

    Raises
    ------
    ValueError
        Misaligned inputs, a non-positive threshold, or an id not in ``anchor_set``.
    """
    ids = [str(i) for i in item_ids]
    judge = np.asarray(judge_scores, dtype=float).reshape(-1)
    cons = np.asarray(consensus, dtype=float).reshape(-1)
    if not (len(ids) == judge.size == cons.size):
        raise ValueError(f"item_ids ({len(ids)}), judge_scores ({judge.size}) and consensus "
                         f"({cons.size}) must have the same length")
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    by_id = {it.id: it for it in anchor_set.items}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ValueError(f"{len(unknown)} item id(s) not in anchor set "
                         f"{anchor_set.meta.name!r}: {', '.join(unknown[:5])}")

    ok = np.isfinite(judge) & np.isfinite(cons)
    excluded = [i for i, good in zip(ids, ok, strict=True) if not good]
    kept = [i for i, good in zip(ids, ok, strict=True) if good]
    j, c = judge[ok], cons[ok]
    diff = j - c
    n = int(ok.sum())

    # Disagreements, worst first, ties by id.
    items: list[Disagreement] = []
    for k in sorted(np.flatnonzero(np.abs(diff) >= threshold), key=lambda k: (-abs(diff[k]),
                                                                             kept[k])):
        it = by_id[kept[k]]
        items.append(Disagreement(
            item_id=it.id, judge=float(j[k]), consensus=float(c[k]),
            difference=float(diff[k]), rationale=it.rationale, tags=tuple(it.tags),
            output_chars=len(it.output),
        ))

    mean_bias = float(diff.mean()) if n else None
    direction = {
        "mean_bias": mean_bias,
        "n_lenient": int((diff >= threshold).sum()),
        "n_harsh": int((diff <= -threshold).sum()),
        "label": direction_label(mean_bias),
        "label_rule": f"lenient / harsh when |mean bias| >= {BIAS_LABEL_MIN:g} scale points",
        "threshold": float(threshold),
        "n_excluded": len(excluded),
        "excluded_ids": excluded,
    }

    # Per tag.
    per_tag: dict[str, list[int]] = {}
    for k, item_id in enumerate(kept):
        for tag in dict.fromkeys(by_id[item_id].tags):
            per_tag.setdefault(tag, []).append(k)
    by_tag = []
    for tag, ks in per_tag.items():
        d = diff[ks]
        by_tag.append({"tag": tag, "n": len(ks), "mae": float(np.abs(d).mean()),
                       "bias": float(d.mean()),
                       "n_disagreements": int((np.abs(d) >= threshold).sum()),
                       "small": len(ks) < 2})
    by_tag.sort(key=lambda r: (-r["mae"], r["tag"]))

    # Length effect.
    lengths = [float(len(by_id[i].output)) for i in kept]
    signed = spearman(lengths, diff.tolist()).to_dict()
    absolute = spearman(lengths, np.abs(diff).tolist()).to_dict()
    verbosity = {
        "n": n,
        "rho_signed": signed["value"],
        "rho_absolute": absolute["value"],
        "signed": signed,
        "absolute": absolute,
        "reading": verbosity_reading(signed, absolute, n),
    }
    return DisagreementAnalysis(n_items=n, items=items, direction=direction, by_tag=by_tag,
                                verbosity=verbosity)


def _cell(text: str | None, limit: int = 240) -> str:
    """Text for a Markdown table cell: one line, pipes escaped, shortened."""
    if not text:
        return ""
    one = " ".join(str(text).split())
    if len(one) > limit:
        one = one[:limit - 1].rstrip() + "…"
    return one.replace("\\", "\\\\").replace("|", "\\|")


def analysis_markdown(analysis: DisagreementAnalysis, *, anchor_set: AnchorSet | None = None,
                      max_items: int = 20) -> str:
    """The disagreement report: summary figures, patterns, and a table of disagreements.

    Parameters
    ----------
    analysis : DisagreementAnalysis
        From :func:`analyze_disagreements`.
    anchor_set : AnchorSet, optional
        Names the set, criterion and scale in the heading.
    max_items : int
        Rows of the disagreement table (the rest are counted).

    Returns
    -------
    str
        Markdown, ending in a newline.
    """
    a = analysis
    d = a.direction
    thr = d.get("threshold", 1.0)
    lines = ["## Disagreements on the calibration split", ""]
    if anchor_set is not None:
        m = anchor_set.meta
        lines += [f"Anchor set `{m.name}`, criterion **{m.criterion}**, scale "
                  f"{m.scale.describe()}.", ""]
    mb = d.get("mean_bias")
    share = f" ({share_text(len(a.items) / a.n_items)})" if a.n_items else ""
    lines += [
        f"- Items scored: {a.n_items}"
        + (f" ({d['n_excluded']} without a valid judge score or consensus, excluded: "
           f"{', '.join(f'`{i}`' for i in d.get('excluded_ids', [])[:10])}"
           f"{', …' if len(d.get('excluded_ids', [])) > 10 else ''})"
           if d.get("n_excluded") else ""),
        f"- Disagreements (|judge − consensus| ≥ {thr:g}): {len(a.items)}{share}: "
        f"{d.get('n_lenient', 0)} lenient (judge higher), {d.get('n_harsh', 0)} harsh "
        f"(judge lower)",
        f"- Mean bias (judge − consensus): {signed_text(mb)} → "
        f"**{d.get('label', 'balanced')}** (lenient / harsh when |bias| ≥ "
        f"{BIAS_LABEL_MIN:g})",
        f"- Output length: {a.verbosity.get('reading', MISSING)}",
        "",
    ]
    if a.by_tag:
        lines += ["### By tag", "", "| tag | n | MAE | bias | disagreements |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for r in a.by_tag:
            small = " (n < 2)" if r.get("small") else ""
            lines.append(f"| `{_cell(r['tag'], 80)}`{small} | {r['n']} | {number_text(r['mae'])} | "
                         f"{_signed(r['bias'])} | {r.get('n_disagreements', 0)} |")
        lines.append("")
    lines += ["### Items", ""]
    if not a.items:
        lines += [f"No item differs from the consensus by {thr:g} scale point(s) or more.", ""]
        return "\n".join(lines)
    lines += ["| item | consensus | judge | difference | output chars | tags | rationale |",
              "| --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for it in a.items[:max(0, max_items)]:
        tags = ", ".join(f"`{_cell(t, 60)}`" for t in it.tags)
        lines.append(f"| `{_cell(it.item_id, 80)}` | {number_text(it.consensus)} | "
                     f"{_score(it.judge)} | "
                     f"{_signed(it.difference)} | {it.output_chars} | {tags} | "
                     f"{_cell(it.rationale)} |")
    rest = len(a.items) - max(0, max_items)
    if rest > 0:
        lines += ["", f"… and {rest} more disagreement(s)."]
    lines.append("")
    return "\n".join(lines)


__all__ = [
    "BIAS_LABEL_MIN",
    "RHO_WEAK",
    "analysis_markdown",
    "analyze_disagreements",
    "direction_label",
    "verbosity_reading",
]
