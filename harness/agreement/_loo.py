"""One set of scores against several references at once, averaged: the like-for-like footing.

A human rater is scored against the consensus of the *other* raters (k - 1 of them); a judge
scored against the consensus of all k raters meets a less noisy reference, which lifts its
figures. :func:`compare_to_references` puts the judge on the humans' footing: it compares
the scores with each of m references (the m leave-one-out consensuses) on the items each one
covers, and averages each figure over the references. Its intervals have one resampling
unit, the items: the same resample of items (or the same item left out, for the jackknife
t interval) serves every reference, and the m figures are averaged within it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from itertools import islice
from typing import Any

import numpy as np

from . import _bootstrap
from ._bootstrap import (
    JACKKNIFE_TRANSFORMS,
    check_resamples,
    jackknife_t_interval,
    resample_weight_blocks,
    with_percentile_ci,
)
from ._matrix import present_cells
from ._paired import (
    PAIRED_FIGURES,
    SHARE_FIGURES,
    compare_to_reference,
    point_values,
    round_to_scale,
    weighted_figures,
    with_wilson_ci,
)
from ._result import AgreementResult, undefined

#: At most this many references enter the bootstrap (evenly spaced among them); the point
#: estimate always averages all of them.
MAX_BOOTSTRAP_REFERENCES = 25

#: The jackknife t interval is used while no reference has more distinct (score, reference)
#: pairs than this (it costs one weighted evaluation per distinct pair); beyond, the
#: percentile bootstrap, which covers 94-96% from 200 items on (benchmarks/coverage.py).
JACKKNIFE_MAX_PAIRS = 200

#: The scale of each figure's jackknife t interval (see :func:`jackknife_t_interval`).
JACKKNIFE_SCALES = {"spearman": "fisher_z", "kendall_tau_b": "fisher_z", "icc": "fisher_z",
                    "weighted_kappa": "fisher_z", "krippendorff_alpha": "fisher_z",
                    "mae": "log", "bias": "identity"}


def compare_to_references(
    scores: Any,
    references: Any,
    *,
    scale: tuple[float, float],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, AgreementResult]:
    """Agreement of ``scores`` with each column of ``references``, averaged over the columns.

    Parameters
    ----------
    scores : array-like, shape (n,)
        One score per item (NaN = none).
    references : array-like, shape (n, m)
        m references for the same items, NaN where a reference does not cover an item
        (e.g. column j = the mean of the raters other than j, on the items j rated).
    scale : (min, max)
        The integer rating scale (see :func:`compare_to_reference`).
    n_resamples : int
        Bootstrap resamples B; 0 gives point estimates only.
    confidence : float
        Level of the intervals.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict of str to AgreementResult
        Keyed by :data:`PAIRED_FIGURES`. Each value is the mean, over the references on
        which the figure is defined, of :func:`compare_to_reference` of ``scores`` with that
        reference; ``n_items`` is the number of items covered by at least one reference and
        ``details`` gives ``n_references`` (used), ``per_reference`` values and
        ``footing="leave-one-out mean"``. Intervals, with the items (those with a score and
        at least one reference) as the resampling unit and every reference's figure computed
        on the same items and averaged:

        * Spearman, Kendall, ICC, quadratic kappa, alpha, MAE and bias: Tukey's jackknife t
          interval (:func:`~harness.agreement._bootstrap.jackknife_t_interval`) of the
          averaged figure, on the Fisher z scale for the five correlation-type figures, the
          log scale for MAE and the raw scale for bias (Student's t interval of a mean),
          with ``ci_method`` "jackknife t on Fisher z (n=..., Tukey 1958)" and
          ``details["jackknife"]``. At 20 items it covers 93-97% in ``benchmarks/coverage.py``
          where the percentile bootstrap covered 89-93% (it is too narrow at small n, and BCa
          did not help). It is used while every reference has at most
          :data:`JACKKNIFE_MAX_PAIRS` distinct (score, reference) pairs (always so on a 1-5
          scale with up to 10 raters) and the jackknife values are on the scale's domain;
          otherwise
        * the percentile interval of B bootstrap resamples of the items (the weighted
          kernels of :func:`compare_to_reference`), which covers 94-96% from 200 items on;
        * exact and within-one agreement: the Wilson interval at Kish's effective number of
          items (:func:`_effective_items`: the averaged share varies less than one
          reference's), never fewer than the mean number of items per reference.

        With more than :data:`MAX_BOOTSTRAP_REFERENCES` references the resamples and the
        jackknife average an evenly spaced subset of them.

    References
    ----------
    Tukey, J. W. (1958). Bias and confidence in not-quite large samples. *Ann. Math.
    Statist.* 29, 614. Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the
    Bootstrap*, ch. 11 and 13. Chapman & Hall.

    Examples
    --------
    >>> import numpy as np
    >>> refs = np.array([[1.5, 2.0], [2.5, 3.0], [4.0, 3.5], [5.0, 4.5]])
    >>> figs = compare_to_references([1, 3, 4, 5], refs, scale=(1, 5), n_resamples=0)
    >>> round(figs["mae"].value, 3)  # (0.25 + 0.5) / 2
    0.375
    """
    x = np.asarray(scores, dtype=float)
    refs = np.asarray(references, dtype=float)
    if refs.ndim != 2 or x.ndim != 1 or refs.shape[0] != x.shape[0]:
        raise ValueError(f"scores (n,) and references (n, m) must share n, got {x.shape} and "
                         f"{refs.shape}")
    check_resamples(n_resamples)
    m = refs.shape[1]
    covered = ~np.isnan(x)[:, None] & ~np.isnan(refs)
    # every reference's point figures at once; the first reference's results in full give
    # the statistics' names (and the reason when a figure is undefined everywhere)
    per_ref = reference_points(((x, refs[:, r]) for r in range(m)), scale=scale)
    first = compare_to_reference(x, refs[:, 0], scale=scale, n_resamples=0) if m else None
    used_rows = covered.any(axis=1)
    n_items = int(used_rows.sum())
    n_per_ref = covered.sum(axis=0)
    points: dict[str, AgreementResult] = {}
    for name in PAIRED_FIGURES:
        ok = [int(r) for r in np.flatnonzero(~np.isnan(per_ref[name]))]
        if not ok:
            reason = first[name].reason if first is not None else "no reference"
            points[name] = undefined(name, f"{reason}, against every reference",
                                     n_items=n_items, n_raters=2, n_references=0)
            continue
        vals = [float(per_ref[name][r]) for r in ok]
        points[name] = AgreementResult(
            statistic=first[name].statistic, value=float(np.mean(vals)),
            n_items=n_items, n_raters=2,
            details={"footing": "leave-one-out mean", "n_references": len(ok),
                     "per_reference": vals, "ok": ok},
        )
    if n_resamples <= 0 or n_items < 3:
        return {k: _drop_ok(v) for k, v in points.items()}

    rows = np.flatnonzero(used_rows)
    cov = covered[rows]
    boot_refs = range(m) if m <= MAX_BOOTSTRAP_REFERENCES else sorted(
        {int(i) for i in np.linspace(0, m - 1, MAX_BOOTSTRAP_REFERENCES).round()})
    boot_refs = [r for r in boot_refs if cov[:, r].sum() >= 3]
    pairs = {r: distinct_pairs(x[rows], refs[rows, r], cov[:, r]) for r in boot_refs}
    weights = pair_weights(pairs, cov, n_resamples, seed)
    reps: dict[str, list[np.ndarray]] = {name: [] for name in PAIRED_FIGURES}
    jack: dict[str, list[np.ndarray | None]] | None = {name: [] for name in JACKKNIFE_SCALES}
    loos = leave_one_out_all({r: (*pairs[r], cov[:, r]) for r in boot_refs}, scale)
    for r in boot_refs:
        mask = cov[:, r]
        uniq, inverse = pairs[r]
        figs = weighted_figures(uniq[:, 0], uniq[:, 1], weights[r], scale=scale)
        loo = loos[r] if loos is not None and jack is not None else None
        if loo is None:
            jack = None
        for name in PAIRED_FIGURES:
            if r in points[name].details.get("ok", ()):
                reps[name].append(figs.get(name))  # None: no kernel (a huge table)
                if jack is not None and name in jack:
                    full = float(per_ref[name][r])
                    jack[name].append(None if loo.get(name) is None else
                                      np.where(mask, loo[name], full))
    out: dict[str, AgreementResult] = {}
    n_mean = int(round(float(n_per_ref[n_per_ref > 0].mean()))) if (n_per_ref > 0).any() else 0
    for name, res in points.items():
        res = _drop_ok(res)
        if not res.defined:
            out[name] = res
        elif name in SHARE_FIGURES:
            n_eff = _effective_items(x, refs, covered, name, scale, max(n_mean, 1))
            out[name] = with_wilson_ci(res, n_eff, confidence)
            out[name].details["n_effective"] = n_eff
        elif not reps[name] or any(v is None for v in reps[name]):
            out[name] = replace(res, details={**res.details, "bootstrap": {
                "reason": "no bootstrap for this figure on these data"}})
        else:
            avg = np.mean(np.vstack(reps[name]), axis=0)  # NaN if undefined on any reference
            out[name] = with_percentile_ci(res, avg, n_resamples=n_resamples, seed=seed,
                                           confidence=confidence)
        if name in JACKKNIFE_SCALES and jack is not None and out[name].defined:
            out[name] = _with_jackknife_ci(out[name], jack[name], JACKKNIFE_SCALES[name],
                                           confidence)
    return out


#: Cells (items x references) encoded at once by :func:`reference_points`; at most
#: :data:`POINT_BLOCK_REFERENCES` references per block.
POINT_BLOCK_CELLS = 65_536
POINT_BLOCK_REFERENCES = 32

#: :func:`reference_points` evaluates a block with the weighted kernels while their tables
#: stay this small (distinct pairs x the largest one-hot table, and references x distinct
#: pairs); beyond (many distinct decimal scores), :func:`compare_to_reference` per reference.
MAX_POINT_TABLE_CELLS = 4_000_000

#: Undefined when either side is constant (the others need one side to vary).
RANK_FIGURES = ("spearman", "kendall_tau_b")


def reference_points(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, scale: tuple[float, float]
) -> dict[str, np.ndarray]:
    """The point figures of :func:`compare_to_reference` for many (scores, reference) pairs.

    A figure depends only on the multiset of (score, reference) value pairs, so a block of
    references is one matrix of pair counts (references x distinct pairs, the pairs shared
    by the block) fed to the weighted kernels of
    :func:`~harness.agreement._paired.weighted_figures`: O(items x references) for the
    counts, not one pass of the nine statistics per reference (a crowd's 200 sampled draws
    cost 200 such passes). The rank correlations are undefined (NaN) where a side is
    constant; the other figures are defined on 3 items once a side varies after rounding
    to the scale (the modal-score baseline: a constant score against varying references).
    A reference on which a figure might be undefined (fewer than 3 items, or both sides
    constant after rounding) or whose kernel value is not finite is computed by
    :func:`~harness.agreement._paired.point_values` (the statistics themselves), and so is every
    reference of a block whose tables would be large (see :data:`MAX_POINT_TABLE_CELLS`):
    each value equals the statistic's own up to rounding (1e-12 in the tests).

    Parameters
    ----------
    pairs : iterable of (ndarray, ndarray)
        Per reference, the scores and the reference, both of shape (n,) with the same n
        for every pair (NaN = none); consumed in blocks of
        :data:`POINT_BLOCK_CELLS` cells, so a generator is never held whole.
    scale : (min, max)
        The integer rating scale (see :func:`compare_to_reference`).

    Returns
    -------
    dict of str to ndarray of shape (m,)
        Keyed by :data:`PAIRED_FIGURES`: ``compare_to_reference(scores, reference,
        scale=scale, n_resamples=0)[name].value`` of each of the m pairs, NaN where that
        figure is undefined.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> pts = reference_points([(x, x + 0.5), (x, x[::-1])], scale=(1, 5))
    >>> pts["mae"].tolist(), pts["spearman"].tolist()
    ([0.5, 2.0], [1.0, -1.0])
    """
    it = iter(pairs)
    first = next(it, None)
    out: dict[str, list[np.ndarray]] = {name: [] for name in PAIRED_FIGURES}
    if first is not None:
        n = max(int(np.size(first[0])), 1)
        step = max(1, min(POINT_BLOCK_CELLS // n, POINT_BLOCK_REFERENCES))
        block = [first, *islice(it, step - 1)]
        while block:
            x = np.column_stack([np.asarray(a, dtype=float) for a, _ in block])
            y = np.column_stack([np.asarray(b, dtype=float) for _, b in block])
            for name, vals in _block_points(x, y, scale).items():
                out[name].append(vals)
            block = list(islice(it, step))
    return {name: np.concatenate(v) if v else np.empty(0) for name, v in out.items()}


def _block_points(x: np.ndarray, y: np.ndarray, scale: tuple[float, float]
                  ) -> dict[str, np.ndarray]:
    """:func:`reference_points` of the columns of ``x`` (scores) and ``y`` (references)."""
    m = x.shape[1]
    out = {name: np.full(m, np.nan) for name in PAIRED_FIGURES}
    safe = np.zeros(m, dtype=bool)
    ref, item = present_cells((~np.isnan(x) & ~np.isnan(y)).T)  # reference by reference
    integer_scale = all(float(v).is_integer() for v in scale)
    if ref.size and integer_scale:
        ux, ix = grid_unique(x[item, ref])
        uy, iy = grid_unique(y[item, ref])
        codes, inverse = grid_unique(ix * uy.size + iy)
        n_pairs = codes.size
        levels = int(round(scale[1] - scale[0])) + 1
        table = max(ux.size * uy.size, levels * levels)
        if n_pairs * max(table, m) <= MAX_POINT_TABLE_CELLS:
            px, py = ux[codes // uy.size], uy[codes % uy.size]
            w = np.bincount(ref * n_pairs + inverse.ravel(), minlength=m * n_pairs)
            w = w.reshape(m, n_pairs).astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):  # references with no item
                figs = weighted_figures(px, py, w, scale=scale)
            held = w > 0
            varies = [np.where(held, v, np.inf).min(axis=1) < np.where(held, v, -np.inf).max(
                axis=1) for v in (px, py, round_to_scale(px, scale), round_to_scale(py, scale))]
            # defined: every figure when one side varies after rounding (so the ICC's and
            # alpha's pooled values and kappa's rounded ones vary) on 3 items, but the rank
            # correlations only when both sides vary (else undefined: NaN here, as theirs)
            safe = (w.sum(axis=1) >= 3) & (varies[2] | varies[3])
            ranked = varies[0] & varies[1]
            for name in PAIRED_FIGURES:
                vals = figs.get(name)
                if vals is None:  # no kernel on this table: every reference the slow way
                    safe[:] = False
                    break
                safe &= np.isfinite(vals) | (~ranked if name in RANK_FIGURES else False)
            for name in PAIRED_FIGURES:
                if safe.any():
                    vals = figs[name]
                    if name in RANK_FIGURES:
                        vals = np.where(ranked, vals, np.nan)
                    out[name][safe] = vals[safe]
    for r in np.flatnonzero(~safe):
        for name, value in point_values(x[:, r], y[:, r], scale=scale).items():
            out[name][r] = value
    return out


#: :func:`grid_unique` counts values spanning at most this many grid steps, else sorts.
GRID_MAX_STEPS = 65_536


def grid_unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of a 1-D array, by counting on a grid.

    Integers, and floats that are all multiples of 1/2 (scores on a scale, means of two
    ratings), spanning at most :data:`GRID_MAX_STEPS` steps, are counted per step
    (``bincount``) instead of sorted: the same distinct values (exactly: each is its grid
    step over 2) and the same inverse, in O(n) (a block of 32 sampled references holds
    ~33,000 pairs of a few dozen distinct values). Anything else (other decimals, inf, a
    negative zero, a wide range) goes to :func:`numpy.unique`.

    Parameters
    ----------
    values : ndarray, shape (n,)
        No NaN.

    Returns
    -------
    uniq : ndarray, shape (V,)
        The sorted distinct values, of ``values``' dtype.
    inverse : ndarray of intp, shape (n,)
        ``uniq[inverse] == values``.
    """
    v = np.asarray(values).ravel()
    if v.size:
        if v.dtype.kind in "iu":
            lo = int(v.min())
            if int(v.max()) - lo <= GRID_MAX_STEPS:
                return _grid_counted(v - lo, lambda steps: (steps + lo).astype(v.dtype))
        elif v.dtype == np.float64:
            twice = v * 2.0
            lo_f, hi_f = float(twice.min()), float(twice.max())
            if (hi_f - lo_f <= GRID_MAX_STEPS and np.array_equal(twice, np.rint(twice))
                    and not (lo_f <= 0.0 <= hi_f and np.signbit(v[v == 0.0]).any())):
                return _grid_counted((twice - lo_f).astype(np.intp),
                                     lambda steps: (steps + lo_f) / 2.0)
    uniq, inverse = np.unique(v, return_inverse=True)
    return uniq, inverse.ravel()


def _grid_counted(steps: np.ndarray, value_of: Any) -> tuple[np.ndarray, np.ndarray]:
    """Distinct grid steps (as values) and each element's rank among them."""
    present = np.bincount(steps) > 0
    lookup = np.cumsum(present) - 1
    return value_of(np.flatnonzero(present)), lookup[steps].astype(np.intp, copy=False)


def distinct_pairs(x: np.ndarray, ref: np.ndarray, mask: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (score, reference) pairs of the items of ``mask``.

    Parameters
    ----------
    x, ref : ndarray, shape (n,)
        Scores and reference.
    mask : ndarray of bool, shape (n,)
        The items to take (both present).

    Returns
    -------
    uniq : ndarray, shape (U, 2)
        The distinct pairs, sorted.
    inverse : ndarray of int, shape (mask.sum(),)
        ``inverse[k]``: the pair of the k-th item of ``mask``.
    """
    ux, ix = grid_unique(x[mask])
    uy, iy = grid_unique(ref[mask])
    # one integer code per pair, in lexicographic order of (score, reference): the rows of
    # np.unique(..., axis=0) without its sort of structured rows
    codes, inverse = grid_unique(ix.ravel() * uy.size + iy.ravel())
    uniq = np.column_stack([ux[codes // max(uy.size, 1)], uy[codes % max(uy.size, 1)]])
    return uniq, inverse.ravel()


#: :func:`pair_weights` multiplies by the dense items x pairs indicator while it has at most
#: this many cells per covered (item, key) cell (a BLAS product beats the gather and
#: ``reduceat`` of the covered cells by about this factor per element).
MATMUL_CELLS_PER_COVERED = 32


def pair_weights(pairs: dict[int, tuple[np.ndarray, np.ndarray]], masks: np.ndarray,
                 n_resamples: int, seed: int) -> dict[int, np.ndarray]:
    """Item-level bootstrap resamples as counts of each reference's distinct pairs.

    One draw of the n items (rows of ``masks``) per resample, the same for every key
    (:func:`~harness.agreement._bootstrap.resample_weights` of n ones, seeded); a
    resample's weight of a pair is how many of the drawn items hold it, so the weighted
    figures on the U distinct pairs are those on the n items. The (B, n) item counts are
    drawn in blocks of bounded size (:func:`resample_weight_blocks`) and summed into
    (B, U) per key, never held whole (1,000 x 100,000 items would be 800 MB). The sum
    is, for all keys at once, one product of each block by the dense items x pairs
    indicator while it is small (at most :data:`WEIGHT_BLOCK_CELLS` cells and
    :data:`MATMUL_CELLS_PER_COVERED` per covered cell: few distinct pairs, as on an integer
    scale), else one ``np.add.reduceat`` over the covered cells sorted by pair (every pair
    holds at least one item), O(B x covered cells), in sub-blocks of at most
    :data:`WEIGHT_BLOCK_CELLS` gathered cells; numpy only (``scipy.sparse`` costs about 4x
    ``import numpy`` to import). The counts are integers, so the sums are exact whatever
    the order.

    Parameters
    ----------
    pairs : dict of int to (uniq, inverse)
        Per key, :func:`distinct_pairs` of the items of ``masks[:, key]``.
    masks : ndarray of bool, shape (n, K)
        Column ``key``: the items of that key's pairs.
    n_resamples, seed : int
        B and the seed of the item draws.

    Returns
    -------
    dict of int to ndarray of shape (B, U)
        Per key, row-major (C-contiguous) float counts.
    """
    if not pairs:
        return {}
    rows, cols, bounds = [], [], {}
    start = 0
    for r, (uniq, inverse) in pairs.items():
        rows.append(start + inverse)
        cols.append(np.flatnonzero(masks[:, r]))
        bounds[r] = (start, start + uniq.shape[0])
        start += uniq.shape[0]
    rows_, cols_ = np.concatenate(rows), np.concatenate(cols)
    n_items = masks.shape[0]
    cells = _bootstrap.WEIGHT_BLOCK_CELLS
    if n_items * start <= min(cells, MATMUL_CELLS_PER_COVERED * cols_.size):
        # few distinct pairs: one dense product by the items x pairs indicator (BLAS), in
        # single precision: every product and partial sum is an integer count of at most
        # n_items < 2**24 (n_items x pairs <= WEIGHT_BLOCK_CELLS), so it is exact, the same
        # floats as in double precision at half the cost
        indicator = np.zeros((n_items, start), dtype=np.float32)
        indicator[cols_, rows_] = 1.0

        def summed_blocks(block: np.ndarray) -> Iterable[np.ndarray]:
            yield (block.astype(np.float32) @ indicator).astype(float)
    else:
        order = np.argsort(rows_, kind="stable")
        cols_s = cols_[order]  # the covered items, grouped by pair
        starts = np.searchsorted(rows_[order], np.arange(start))
        step = max(1, cells // max(cols_s.size, 1))

        def summed_blocks(block: np.ndarray) -> Iterable[np.ndarray]:
            for lo_b in range(0, block.shape[0], step):
                sub = block[lo_b:lo_b + step]
                yield (np.add.reduceat(sub[:, cols_s], starts, axis=1) if start
                       else np.zeros((sub.shape[0], 0)))
    out: dict[int, list[np.ndarray]] = {r: [] for r in pairs}
    for block in resample_weight_blocks(np.ones(n_items), n_resamples, seed):
        for summed in summed_blocks(block):  # (b, every reference's pairs)
            for r, (lo, hi) in bounds.items():
                out[r].append(np.ascontiguousarray(summed[:, lo:hi]))  # row-major: fast @
    return {r: np.vstack(parts) for r, parts in out.items()}


#: Items needed on each side (missing some reference, meeting some) to estimate a share's
#: design effect (:func:`_effective_items`).
MIN_DESIGN_ITEMS = 10


def _effective_items(x: np.ndarray, refs: np.ndarray, covered: np.ndarray, name: str,
                     scale: tuple[float, float], n: int) -> int:
    r"""Kish's effective number of items for a share averaged over references.

    Per item i, :math:`q_i` is the share of the references covering it that the judge meets
    (exact match, or within one point, after rounding to the scale). The averaged share
    :math:`\hat p` has variance about :math:`s^2_q / n`, smaller than the binomial
    :math:`\hat p(1-\hat p)/n` of one reference because the references are averaged; the
    Wilson interval at :math:`n_{eff} = n\,\hat p(1-\hat p)/s^2_q` (Kish 1965's design
    effect) has the averaged share's width. :math:`s^2_q \le \hat p(1-\hat p)` for a
    variable in [0, 1] (Bhatia–Davis), so :math:`n_{eff} \ge n`; it is capped at the number
    of (item, reference) pairs. It is ``n`` (the single-reference Wilson interval, which
    errs wide) unless at least :data:`MIN_DESIGN_ITEMS` items miss some reference and as
    many meet some: near a share of 0 or 1 the variance rests on a handful of items (at 50
    items and 5 raters, within-one agreement covered 90.4% with the plug-in design effect).

    Kish, L. (1965). *Survey Sampling*, §8.2. Wiley.
    """
    from ._paired import round_to_scale

    rows = covered.any(axis=1)
    rx = round_to_scale(x[rows], scale)[:, None]
    rr = round_to_scale(np.where(covered[rows], refs[rows], np.nan), scale)
    hit = (rx == rr) if name == "exact_agreement" else (np.abs(rx - rr) <= 1)
    cov = covered[rows]
    q = (hit & cov).sum(axis=1) / cov.sum(axis=1)
    p = float(q.mean())
    var = float(q.var())
    # the variance needs items on both sides: near p = 0 or 1 a handful of disagreeing
    # items makes it unstable (within-one at 50 items and 5 raters covered 90% with it)
    if var <= 0.0 or min(int((q < 1).sum()), int((q > 0).sum())) < MIN_DESIGN_ITEMS:
        return n
    n_eff = q.size * p * (1.0 - p) / var
    return int(max(n, min(round(n_eff), int(cov.sum()))))


def _leave_one_out(uniq: np.ndarray, inverse: np.ndarray, mask: np.ndarray,
                   scale: tuple[float, float]) -> dict[str, np.ndarray] | None:
    """Each figure on the items of ``mask``, with each item left out.

    ``uniq`` and ``inverse`` are the items' distinct (score, reference) pairs
    (:func:`distinct_pairs`): items sharing a pair give the same value, so one weighted
    evaluation per distinct pair serves them all. Returns arrays over all rows (the value
    for rows outside ``mask`` is meaningless), or None with more than
    :data:`JACKKNIFE_MAX_PAIRS` distinct pairs.
    """
    if uniq.shape[0] > JACKKNIFE_MAX_PAIRS:
        return None
    counts = np.bincount(inverse, minlength=uniq.shape[0])
    weights = counts[None, :].astype(float) - np.eye(uniq.shape[0])
    figs = weighted_figures(uniq[:, 0], uniq[:, 1], weights, scale=scale)
    out: dict[str, np.ndarray] = {}
    for name in JACKKNIFE_SCALES:
        if figs.get(name) is not None:
            full = np.full(mask.shape[0], np.nan)
            full[mask] = figs[name][inverse]
            out[name] = full
    return out


def leave_one_out_all(pairs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]],
                      scale: tuple[float, float]) -> dict[int, dict[str, np.ndarray]] | None:
    """:func:`_leave_one_out` of several references in one weighted evaluation.

    The references' distinct pairs are put on their union (zero weight where a reference
    lacks a pair) and the leave-one-out weightings of all of them stacked into one table
    for :func:`~harness.agreement._paired.weighted_figures`: one call, not one per
    reference (25 sampled references cost 25 calls on 30-odd rows each). A figure ignores
    pairs of zero weight and every sum is exact on a half-point grid
    (:func:`_exact_pair_sums`), so each value is the reference's own, bit for bit; other
    values take :func:`_leave_one_out` per reference.

    Parameters
    ----------
    pairs : dict of int to (uniq, inverse, mask)
        Per reference, :func:`distinct_pairs` of the items of ``mask``, and ``mask``.
    scale : (min, max)
        The rating scale.

    Returns
    -------
    dict of int to dict of str to ndarray, or None
        Per reference what :func:`_leave_one_out` returns; None when a reference has more
        than :data:`JACKKNIFE_MAX_PAIRS` distinct pairs (no jackknife).
    """
    if not pairs:
        return {}
    if any(uniq.shape[0] > JACKKNIFE_MAX_PAIRS for uniq, _, _ in pairs.values()):
        return None
    union = np.unique(np.vstack([uniq for uniq, _, _ in pairs.values()]), axis=0)
    if not _exact_pair_sums(union, max(int(mask.sum()) for _, _, mask in pairs.values())):
        # other decimals: a sum over the union runs in another order than over the
        # reference's own pairs; one evaluation per reference keeps its last bits
        return {r: _leave_one_out(uniq, inverse, mask, scale)  # type: ignore[misc]
                for r, (uniq, inverse, mask) in pairs.items()}
    blocks, spans, start = [], {}, 0
    for r, (uniq, inverse, _) in pairs.items():
        # each pair's column in the union: rows of np.unique are sorted, as are uniq's
        col = np.flatnonzero((union[:, None, :] == uniq[None, :, :]).all(axis=2).any(axis=1))
        counts = np.bincount(inverse, minlength=uniq.shape[0]).astype(float)
        w = np.zeros((uniq.shape[0], union.shape[0]))
        w[:, col] = counts[None, :] - np.eye(uniq.shape[0])
        blocks.append(w)
        spans[r] = (start, start + uniq.shape[0])
        start += uniq.shape[0]
    figs = weighted_figures(union[:, 0], union[:, 1], np.vstack(blocks), scale=scale,
                            figures=JACKKNIFE_SCALES)
    out: dict[int, dict[str, np.ndarray]] = {}
    for r, (_, inverse, mask) in pairs.items():
        lo, hi = spans[r]
        out[r] = {}
        for name in JACKKNIFE_SCALES:
            if figs.get(name) is not None:
                full = np.full(mask.shape[0], np.nan)
                full[mask] = figs[name][lo:hi][inverse]
                out[r][name] = full
    return out


#: :func:`_exact_pair_sums`: the largest |value| and number of items for which every weighted
#: sum of the kernels (squares of quarter points times counts) stays exact in double precision.
EXACT_MAX_VALUE = 1e4
EXACT_MAX_ITEMS = 1_000_000


def _exact_pair_sums(pairs: np.ndarray, n_items: int) -> bool:
    """Whether the weighted kernels' sums on these pairs are exact whatever their order.

    Values on a half-point grid (any integer or half-point scale, and the mean of two
    ratings) of moderate size, weighted by integer counts of at most ``n_items`` items:
    every product and partial sum is a multiple of 1/16 below 2**53 / 16, so adding zero
    weights or reordering a sum gives the same floats.
    """
    if not pairs.size:
        return True
    twice = pairs * 2.0
    return bool(np.array_equal(twice, np.rint(twice))
                and float(np.abs(pairs).max()) <= EXACT_MAX_VALUE
                and n_items <= EXACT_MAX_ITEMS)


def _with_jackknife_ci(res: AgreementResult, loo: list[np.ndarray | None], transform: str,
                       confidence: float) -> AgreementResult:
    """Replace the percentile interval by the jackknife t interval when it is defined."""
    if not loo or any(v is None for v in loo):
        return res
    values = np.mean(np.vstack(loo), axis=0)
    ci = jackknife_t_interval(float(res.value), values, transform=transform,
                              confidence=confidence)
    if ci is None:
        return res
    label = JACKKNIFE_TRANSFORMS[transform][2]
    res = replace(res, details={**res.details, "jackknife": {
        "n": int(values.size), "scale": transform, "confidence": confidence,
        "replaces": "the bootstrap percentile interval"}})
    return res.with_ci(ci, f"jackknife t{label} (n={values.size}, Tukey 1958)")



def _drop_ok(res: AgreementResult) -> AgreementResult:
    if "ok" not in res.details:
        return res
    details = {k: v for k, v in res.details.items() if k != "ok"}
    return replace(res, details=details)
