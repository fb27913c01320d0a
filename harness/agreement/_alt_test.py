"""The alternative annotator test (alt-test): can the judge replace one of the human raters?

Calderon, N., Reichart, R. & Dror, R. (2025). The Alternative Annotator Test for
LLM-as-a-Judge: How to Statistically Justify Replacing Human Annotators with LLMs. *ACL 2025*,
16051-16081 (arXiv:2501.10970).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ._dist import binom_half_pmf, fdr_by, rankdata, t_cdf
from ._matrix import as_matrix, present_cells
from ._result import AgreementResult, undefined

Alignment = Literal["absolute", "exact", "rank"]
#: How the judge's and a rater's labels are scored against the other raters on an item.
ALIGNMENTS: tuple[str, ...] = ("absolute", "exact", "rank")
#: The paper's cost-benefit penalty for expert raters (0.15 skilled, 0.1 crowd workers).
DEFAULT_EPSILON = 0.2
#: The false discovery rate controlled across raters (Benjamini-Yekutieli).
FDR_Q = 0.05
#: Raters left once the tested rater is left out, for an item to count.
MIN_OTHER_RATERS = 2
#: From this many items on, the one-sided t-test (the paper's normality requirement, §3.3 and
#: its FAQ); below it the Wilcoxon signed-rank test.
T_TEST_MIN_ITEMS = 30
#: Fewest items a rater's test may use; below it the rater is left out with a reason.
MIN_ITEMS = 10
#: The winning rate at which the judge passes (it wins against at least half of the raters).
PASS_WINNING_RATE = 0.5


@dataclass(frozen=True)
class RaterTest:
    """The alt-test against one human rater (left out; the others are the reference).

    Attributes
    ----------
    rater : str
    n_items : int
        Items the test used: scored by the judge and by the rater, with at least
        :data:`MIN_OTHER_RATERS` other raters.
    p_judge : float
        Share of those items on which the judge aligns with the others at least as well as
        the rater (the paper's :math:`\\hat\\rho^f_j`, the advantage probability).
    p_rater : float
        Share on which the rater aligns at least as well as the judge
        (:math:`\\hat\\rho^h_j`); ties count for both.
    p_value : float
        One-sided p-value of :math:`H_0: \\rho^f_j \\le \\rho^h_j - \\varepsilon`, before the
        FDR step.
    rejected : bool
        :math:`H_0` rejected after Benjamini-Yekutieli: the judge "wins" against this rater.
    test : {"t", "wilcoxon"}
        The one-sided paired t-test (30 items or more) or the Wilcoxon signed-rank test.
    """

    rater: str
    n_items: int
    p_judge: float
    p_rater: float
    p_value: float
    rejected: bool
    test: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"rater": self.rater, "n_items": self.n_items, "p_judge": self.p_judge,
                "p_rater": self.p_rater, "p_value": self.p_value, "rejected": self.rejected,
                "test": self.test}


@dataclass(frozen=True)
class AltTestResult:
    """The outcome of :func:`alt_test`.

    Attributes
    ----------
    epsilon : float
        The cost-benefit penalty :math:`\\varepsilon`.
    q : float
        The false discovery rate controlled across raters.
    winning_rate : float or None
        :math:`\\omega`: the share of tested raters for whom :math:`H_0` was rejected.
        ``None`` when no rater could be tested; ``reason`` then says why.
    advantage_probability : float or None
        :math:`\\rho`: the mean of ``p_judge`` over the tested raters (for ranking judges).
    passed : bool or None
        ``winning_rate >= 0.5``; ``None`` when undefined.
    per_rater : tuple of RaterTest
        The tested raters, in the order of the input columns.
    excluded : tuple of dict
        Raters that could not be tested: ``{"rater", "n_items", "reason"}``.
    alignment : {"absolute", "exact", "rank"}
    reason : str, optional
        Why the test is undefined.
    n_items : int
        Items with a judge score and at least ``MIN_OTHER_RATERS + 1`` human ratings.
    """

    epsilon: float
    q: float
    winning_rate: float | None
    advantage_probability: float | None
    passed: bool | None
    per_rater: tuple[RaterTest, ...] = ()
    excluded: tuple[dict[str, Any], ...] = ()
    alignment: str = "absolute"
    reason: str | None = None
    n_items: int = 0
    min_items: int = MIN_ITEMS
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.winning_rate is None and not self.reason:
            raise ValueError("alt_test: an undefined result needs a reason")
        for v in (self.winning_rate, self.advantage_probability):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"alt_test: non-finite figure {v!r}")

    @property
    def defined(self) -> bool:
        """True when at least one rater was tested."""
        return self.winning_rate is not None

    def to_dict(self) -> dict[str, Any]:
        """The ``"alt_test"`` JSON object of the reports."""
        return {
            "epsilon": self.epsilon, "q": self.q, "winning_rate": self.winning_rate,
            "advantage_probability": self.advantage_probability, "passed": self.passed,
            "per_rater": [r.to_dict() for r in self.per_rater],
            "excluded": [dict(e) for e in self.excluded],
            "alignment": self.alignment, "n_items": self.n_items,
            "min_items": self.min_items, "reason": self.reason,
        }

    def as_figure(self) -> AgreementResult:
        """The winning rate as an :class:`AgreementResult` (statistic ``"alt_test"``, no CI).

        This is the figure a gate bar (``--min alt_test=0.5``) reads.
        """
        details = {"advantage_probability": self.advantage_probability,
                   "passed": self.passed, "epsilon": self.epsilon, "q": self.q}
        if not self.defined:
            assert self.reason is not None
            return undefined("alt_test", self.reason, n_items=self.n_items,
                             n_raters=len(self.per_rater), **details)
        assert self.winning_rate is not None
        return AgreementResult("alt_test", self.winning_rate, n_items=self.n_items,
                               n_raters=len(self.per_rater), details=details)


def _check(epsilon: float, q: float, alignment: str) -> None:
    if not (isinstance(epsilon, float | int) and not isinstance(epsilon, bool)
            and 0.0 <= epsilon < 1.0):
        raise ValueError(f"epsilon must be a number in [0, 1), got {epsilon!r}")
    if not (isinstance(q, float | int) and not isinstance(q, bool) and 0.0 < q < 1.0):
        raise ValueError(f"q must be a number in (0, 1), got {q!r}")
    if alignment not in ALIGNMENTS:
        raise ValueError(f"unknown alignment {alignment!r}; use one of {', '.join(ALIGNMENTS)}")


def _scaled_ranks(x: np.ndarray) -> np.ndarray:
    """Mid-ranks down each column among its non-missing values, scaled to ``(r - 0.5) / n``."""
    ranks = rankdata(x, axis=0)  # NaN stays NaN
    n = (~np.isnan(x)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ranks - 0.5) / n


def _cell_indicators(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, judge: np.ndarray,
                     usable: np.ndarray, n: int, alignment: str
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``W_f`` and ``W_h`` of each observed cell (item ``rows``, rater ``cols``, ``vals``).

    All raters at once, from per-item counts and sums of the observed cells: O(ratings).
    With ``k`` other raters on an item and ``T`` their sum, the alignment of a label ``x``
    is ``-|x - T/k|``; compared as ``|k x - T|`` (same order, exact for integer scores).
    Ties count for both.
    """
    k = np.bincount(rows, minlength=n).astype(float) - 1.0
    if alignment == "exact":
        # others agreeing with the judge / with the rater (k, the denominator, is shared)
        eq = vals == judge[rows]
        n_eq_judge = np.bincount(rows[eq], minlength=n)[rows] - eq
        labels, code = np.unique(vals, return_inverse=True)
        code = code.ravel()
        keys = rows * labels.size + code
        n_eq_rater = np.bincount(keys, minlength=n * labels.size)[keys] - 1
        a_f, a_h = n_eq_judge.astype(float), n_eq_rater.astype(float)
        tol = 0.0
    else:
        total = np.bincount(rows, weights=vals, minlength=n)[rows] - vals  # the others' sum
        k_cell = k[rows]
        a_f = -np.abs(judge[rows] * k_cell - total)
        a_h = -np.abs(vals * k_cell - total)
        scale = np.nanmax(np.abs(np.concatenate([[0.0], vals, np.nan_to_num(judge)])))
        tol = 1e-9 * max(1.0, float(scale)) * max(1.0, float(np.max(k, initial=1.0)))
    w_f = usable & (a_f >= a_h - tol)
    w_h = usable & (a_h >= a_f - tol)
    return w_f, w_h


def _column_t_pvalues(d: np.ndarray, cols: np.ndarray, m: int, epsilon: float) -> np.ndarray:
    """One-sided one-sample t-test of ``mean(d) < epsilon`` per rater (vectorised).

    ``d`` and ``cols``: the usable cells' differences and raters, in item order within a
    rater. Equals ``scipy.stats.ttest_rel(w_h, w_f + epsilon, alternative="less")``; a
    rater with no spread gets p = 0 when its mean is below ``epsilon`` (as scipy does),
    else 1.
    """
    n = np.bincount(cols, minlength=m).astype(float)
    mean = np.bincount(cols, weights=d, minlength=m) / np.maximum(n, 1)
    ss = np.bincount(cols, weights=(d - mean[cols]) ** 2, minlength=m)
    sd = np.sqrt(ss / np.maximum(n - 1, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (mean - epsilon) / (sd / np.sqrt(n))
        p = t_cdf(t, np.maximum(n - 1, 1))
    return np.where(sd > 0, p, np.where(mean < epsilon, 0.0, 1.0))


def signed_rank_less(x: np.ndarray) -> float:
    """Exact one-sided p-value of the Wilcoxon signed-rank test, H1: location below 0.

    Zero differences are dropped (Wilcoxon's convention); tied magnitudes get mid-ranks.
    Under H0 every sign is + or - with probability 1/2 independently, so the statistic
    :math:`W^+` (the sum of the ranks of the positive differences) is a sum over the tie
    groups of ``rank * Binomial(size, 1/2)``; its null distribution is the convolution of
    those scaled binomials, exact given the ties. This is the permutation distribution that
    ``scipy.stats.wilcoxon`` enumerates for small samples with ties, at a fraction of the
    cost (the alt-test's differences take only three values, so ties are the rule).

    Parameters
    ----------
    x : ndarray
        The paired differences (here :math:`d_i - \\varepsilon`).

    Returns
    -------
    float
        :math:`P(W^+ \\le w^+_{obs})`; NaN when every difference is zero.

    Examples
    --------
    >>> round(signed_rank_less(np.array([-1.2, -0.2, -0.2, 0.8])), 4)
    0.3125
    """
    x = np.asarray(x, dtype=float)
    x = x[x != 0]
    if x.size == 0:
        return math.nan
    doubled = np.rint(2 * rankdata(np.abs(x))).astype(np.int64)  # mid-ranks x 2
    observed = int(doubled[x > 0].sum())
    dist = np.ones(1)
    values, counts = np.unique(doubled, return_counts=True)
    for value, count in zip(values, counts, strict=True):
        step = np.zeros(count * value + 1)
        step[::value] = binom_half_pmf(int(count))
        dist = np.convolve(dist, step)
    return float(min(1.0, dist[: observed + 1].sum()))


def alt_test(
    ratings: Any,
    judge_scores: Sequence[float] | np.ndarray,
    *,
    rater_ids: Sequence[str] | None = None,
    epsilon: float = DEFAULT_EPSILON,
    q: float = FDR_Q,
    alignment: Alignment = "absolute",
    min_items: int = MIN_ITEMS,
) -> AltTestResult:
    r"""The alternative annotator test of Calderon, Reichart & Dror (ACL 2025).

    For each human rater :math:`h_j` (Algorithm 1 of the paper):

    1. Leave :math:`h_j` out. On each item :math:`i` scored by the judge :math:`f` and by
       :math:`h_j` with at least two other raters, score how well each aligns with the
       others: :math:`S(f, i, j)` and :math:`S(h_j, i, j)`.
    2. Indicators :math:`W^f_{i,j} = 1[S(f,i,j) \ge S(h_j,i,j)]` and
       :math:`W^h_{i,j} = 1[S(h_j,i,j) \ge S(f,i,j)]` (ties count for both);
       :math:`\hat\rho^f_j` and :math:`\hat\rho^h_j` are their means over the items
       (``p_judge``, ``p_rater``).
    3. Test :math:`H_0: \rho^f_j \le \rho^h_j - \varepsilon` against
       :math:`H_1: \rho^f_j > \rho^h_j - \varepsilon` with :math:`d_i = W^h_{i,j} -
       W^f_{i,j}`: the one-sided paired t-test
       :math:`t = (\bar d - \varepsilon) / (s_d / \sqrt{n_j})` with :math:`n_j - 1` degrees
       of freedom (paper eq. 2; ``ttest_1samp(d, epsilon, alternative="less")``) when
       :math:`n_j \ge 30`, else the Wilcoxon signed-rank test of :math:`d - \varepsilon`
       (``alternative="less"``, exact given the ties: :func:`signed_rank_less`), as the
       paper advises below 30 items.

    Then the Benjamini-Yekutieli procedure at ``q`` over the raters' p-values
    (``scipy.stats.false_discovery_control(method="by")``: valid under any dependence, the
    tests share raters). The winning rate :math:`\omega` is the share of raters whose
    :math:`H_0` is rejected, and the judge passes when :math:`\omega \ge 0.5`. The average
    advantage probability :math:`\rho = \frac1m \sum_j \hat\rho^f_j` compares judges.

    Parameters
    ----------
    ratings : array-like
        Items x human raters, ``None``/NaN for a missing rating (the judge is not in it).
    judge_scores : array-like
        The judge's score per item (NaN: no valid judgment; the item is left out).
    rater_ids : sequence of str, optional
        Column names (default ``"0"``, ``"1"``, ...).
    epsilon : float
        The cost-benefit penalty, in [0, 1): 0.2 for expert raters (default), 0.15 for
        skilled, 0.1 for crowd workers (the paper's §3.4).
    q : float
        The false discovery rate (0.05).
    alignment : {"absolute", "exact", "rank"}
        ``"absolute"``: :math:`-|x - \bar h_{-j}|`, the distance to the others' mean. It
        orders labels exactly as the paper's negative RMSE against the others does, since
        :math:`\mathrm{RMSE}^2 = (x - \bar h)^2 + \mathrm{var}(h)` and the variance is the
        same for the judge and the rater. ``"exact"``: the share of the others who gave the
        same label (the paper's accuracy, for nominal scales). ``"rank"``: ``"absolute"`` on
        each rater's (and the judge's) mid-ranks over the items they scored, scaled to
        :math:`(r - 0.5) / n` so raters who scored different numbers of items compare (the
        paper's FAQ, "What if I care about ranking").
    min_items : int
        Fewest items a rater's test may use (default 10): the paper asks for 30 (the
        t-test) and allows a non-parametric test below; under 10 items the signed-rank
        test has too little resolution to pass a rater through the FDR step. A rater with
        fewer items is excluded, with the reason.

    Returns
    -------
    AltTestResult
        Undefined (``winning_rate`` None, with ``reason``) when no rater can be tested.

    Raises
    ------
    ValueError
        Shapes that do not match; ``epsilon``, ``q``, ``alignment`` or ``min_items`` out of
        range.

    References
    ----------
    Calderon, N., Reichart, R. & Dror, R. (2025). The Alternative Annotator Test for
    LLM-as-a-Judge. *ACL 2025*, 16051-16081. arXiv:2501.10970.
    Benjamini, Y. & Yekutieli, D. (2001). The control of the false discovery rate in
    multiple testing under dependency. *Ann. Statist.* 29(4), 1165-1188.

    Examples
    --------
    >>> humans = [[1, 2, 2], [3, 3, 4], [5, 4, 5], [2, 2, 1]] * 8
    >>> judge = [2, 3, 5, 2] * 8
    >>> res = alt_test(humans, judge, rater_ids=["a", "b", "c"])
    >>> res.winning_rate, res.passed, [r.n_items for r in res.per_rater]
    (1.0, True, [32, 32, 32])
    """
    _check(epsilon, q, alignment)
    if isinstance(min_items, bool) or not isinstance(min_items, int) or min_items < 2:
        raise ValueError(f"min_items must be an integer >= 2, got {min_items!r}")
    scores = as_matrix(ratings)
    judge = np.asarray(judge_scores, dtype=float)
    n, m = scores.shape
    if judge.shape != (n,):
        raise ValueError(f"judge_scores needs one score per item ({n}), got shape {judge.shape}")
    ids = [str(r) for r in (rater_ids if rater_ids is not None else range(m))]
    if len(ids) != m:
        raise ValueError(f"{len(ids)} rater ids for {m} raters")
    base = {"epsilon": float(epsilon), "q": float(q), "alignment": alignment,
            "min_items": min_items}
    present = ~np.isnan(scores)
    has_judge = ~np.isnan(judge)
    enough = present.sum(axis=1) >= MIN_OTHER_RATERS + 1
    n_items = int((has_judge & enough).sum())
    if m < MIN_OTHER_RATERS + 1:
        return AltTestResult(**base, winning_rate=None, advantage_probability=None,
                             passed=None, n_items=n_items,
                             reason=f"the alt-test needs at least {MIN_OTHER_RATERS + 1} human "
                                    f"raters (one left out, {MIN_OTHER_RATERS} others), got {m}")
    if alignment == "rank":
        scores = _scaled_ranks(scores)
        judge = _scaled_ranks(judge[:, None])[:, 0]
    rows, cols = present_cells(present)  # the ratings, item by item: O(ratings) from here
    usable = (has_judge & enough)[rows]
    w_f, w_h = _cell_indicators(rows, cols, scores[rows, cols], judge, usable, n, alignment)
    rows, cols, w_f, w_h = rows[usable], cols[usable], w_f[usable], w_h[usable]
    n_j = np.bincount(cols, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_judge = np.bincount(cols, weights=w_f, minlength=m) / n_j
        p_rater = np.bincount(cols, weights=w_h, minlength=m) / n_j
    d = w_h.astype(float) - w_f.astype(float)

    tested = np.flatnonzero(n_j >= min_items)
    counts = n_j.tolist()
    reasons = {c: f"{c} item(s) with a judge score and at least {MIN_OTHER_RATERS} other "
                  f"raters; the test needs {min_items}" for c in set(counts) if c < min_items}
    excluded = tuple({"rater": ids[j], "n_items": counts[j], "reason": reasons[counts[j]]}
                     for j in np.flatnonzero(n_j < min_items).tolist())
    if tested.size == 0:
        most = int(n_j.max()) if m else 0
        return AltTestResult(
            **base, winning_rate=None, advantage_probability=None, passed=None,
            excluded=excluded, n_items=n_items,
            reason=f"no rater has {min_items} items scored by the judge and by at least "
                   f"{MIN_OTHER_RATERS} other raters, the most is {most}; the paper asks for "
                   "30 or more per rater",
        )
    p_t = _column_t_pvalues(d, cols, m, epsilon)
    by_rater = np.argsort(cols, kind="stable")  # each rater's cells in item order
    starts = np.searchsorted(cols[by_rater], np.arange(m + 1))
    p_values = np.empty(tested.size)
    tests: list[str] = []
    for k, j in enumerate(tested):
        if n_j[j] >= T_TEST_MIN_ITEMS:
            p_values[k] = p_t[j]
            tests.append("t")
        else:
            own = by_rater[starts[j]:starts[j + 1]]
            p_values[k] = signed_rank_less(d[own] - epsilon)
            tests.append("wilcoxon")
    p_values = np.where(np.isnan(p_values), 1.0, p_values)  # all zero differences: no test
    adjusted = fdr_by(p_values)
    rejected = adjusted <= q
    per_rater = tuple(
        RaterTest(rater=ids[j], n_items=int(n_j[j]), p_judge=float(p_judge[j]),
                  p_rater=float(p_rater[j]), p_value=float(p_values[k]),
                  rejected=bool(rejected[k]), test=tests[k])
        for k, j in enumerate(tested)
    )
    omega = float(rejected.mean())
    return AltTestResult(
        **base, winning_rate=omega,
        advantage_probability=float(np.mean(p_judge[tested])),
        passed=omega >= PASS_WINNING_RATE, per_rater=per_rater, excluded=excluded,
        n_items=n_items,
    )
