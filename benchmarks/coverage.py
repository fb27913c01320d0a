r"""Self-validation: do judgecal's 95% intervals cover the truth 95% of the time?

Run from the project root::

    uv run python benchmarks/coverage.py            # the full table (~40 min on 2 cores)
    uv run python benchmarks/coverage.py --no-full  # without the full-consensus rows (~31 min)
    uv run python benchmarks/coverage.py --quick    # a small version (~2 min)
    uv run python benchmarks/coverage.py --json out.json

Prints Markdown tables; ``benchmarks/README.md`` records the latest figures.

Generative model
----------------
Items ``i = 1..n``, human raters ``r = 1..k``, one judge. With the scale centre ``mu``
(3 on a 1-5 scale):

.. math::

    T_i \sim N(0, \sigma_T^2), \quad b_r \sim N(0, \sigma_b^2), \quad
    e_{ir} \sim N(0, \sigma_e^2), \quad u_i \sim N(0, \sigma_u^2) \\
    X_{ir} = g(\mu + T_i + b_r + e_{ir}), \qquad J_i = g(\mu + \lambda T_i + c + u_i)

all independent. ``g`` is the identity in the *continuous* case and, in the *ordinal* case,
rounding to the nearest scale point (halves up) clipped to the scale, i.e.
:func:`harness.agreement.round_to_scale`, so scores are integers 1-5 as judgecal's users
have them. The rater biases ``b_r`` are drawn afresh for every replication (raters are a
random sample of raters); the consensus is the mean of the ``k`` ratings,
``C_i = mean_r X_ir`` (as the report forms it when the table has no consensus column).

Defaults: sigma_T = 1, sigma_b = 0.3, sigma_e = 0.7, lambda = 0.9, c = 0.2, sigma_u = 0.6.

True values: human reliability (population, raters random)
-----------------------------------------------------------
Write ``Y`` for one rating, ``h(T) = E[Y | T]`` and ``q(b) = E[Y | b]``. Two ratings of the
same item by two different random raters are independent given ``T``, so

.. math::

    \rho_2 = \frac{Var\,h(T)}{Var\,Y}, \qquad
    \rho_3 = \frac{Var\,h(T)}{Var\,Y - Var\,q(b)}

In the continuous case these are the closed forms
:math:`\rho_2 = \sigma_T^2 / (\sigma_T^2 + \sigma_b^2 + \sigma_e^2)` and
:math:`\rho_3 = \sigma_T^2 / (\sigma_T^2 + \sigma_e^2)`; in the ordinal case the three
variances are one-dimensional normal integrals (``Y | T`` is ``g`` of a normal with variance
sigma_b^2 + sigma_e^2, ``Y | b`` of one with variance sigma_T^2 + sigma_e^2), computed by
Gauss-Hermite quadrature. The truths:

* ICC(2,1) = rho_2 (absolute agreement, random raters); ICC(2,k) = SB(rho_2, k) with the
  Spearman-Brown map ``SB(p, k) = k p / (1 + (k - 1) p)``.
* ICC(3,1) = rho_3 (consistency: rater offsets are not error); ICC(3,k) = SB(rho_3, k).
* ICC(1,1) = rho_2, ICC(1,k) = SB(rho_2, k): the correlation of two ratings of an item by
  two random raters, which is what the one-way model estimates when raters differ per item.
  On this crossed design the one-way model is misspecified (the same k offsets are shared
  by every item); its coverage shows what that costs.
* Krippendorff's alpha (interval) = rho_2 (as n grows, D_o = 2 (Var Y - Cov), D_e = 2 Var Y).

True values: the judge against the consensus (conditional on the panel)
-----------------------------------------------------------------------
The report's judge intervals resample items with the raters held fixed, so they estimate
the figure *for this panel of raters*; the truth is conditional on the drawn ``b_1..b_k``
and is recomputed for every replication. Given ``T`` the judge and the consensus are
independent, so their joint law is a mixture over ``T`` (Gauss-Hermite quadrature): ``J | T``
and each ``X_r | T`` are (rounded) normals, ``C | T`` their mean (a convolution of the k
rater distributions in the ordinal case). With ``d = E J - E C``:

* ICC(2,1) of the pair (the limit of the two-way estimator; Lin's concordance):
  :math:`2\,Cov(J, C) / (Var J + Var C + d^2)`.
* Krippendorff's alpha (interval, two coders): :math:`(2\,Cov - d^2/2)/(Var J + Var C + d^2/2)`.
* bias = d; MAE = E|J - C|. Continuous: ``J - C ~ N(d, s^2)``,
  :math:`s^2 = (\lambda-1)^2\sigma_T^2 + \sigma_u^2 + \sigma_e^2/k`, so
  :math:`MAE = s\sqrt{2/\pi}\,e^{-d^2/2s^2} + d\,(1 - 2\Phi(-d/s))`, with
  :math:`d = c - \bar b`.
* Spearman and Kendall. Continuous: (J, C) is bivariate normal with
  :math:`r = \lambda\sigma_T^2 / \sqrt{(\lambda^2\sigma_T^2 + \sigma_u^2)(\sigma_T^2 +
  \sigma_e^2/k)}`, so Spearman = (6/pi) asin(r/2) and Kendall = (2/pi) asin(r). Ordinal
  (ties): Spearman with mid-ranks tends to the correlation of the mid-distribution functions
  G(x) = P(X < x) + P(X = x)/2; Kendall's tau-b to
  (P_concordant - P_discordant) / sqrt((1 - sum p_a^2)(1 - sum p_c^2)), both computed from the
  joint table.
* Quadratic-weighted kappa, exact and within-one agreement are of both series rounded to the
  scale (as the report does): computed from the joint table of the rounded values.

True values: the like-for-like judge figures (what the report's ``figures`` give)
---------------------------------------------------------------------------------
The report compares the judge with the reference each human met: for each rater j, the mean
of the *other* k - 1 raters, ``C_i^(-j) = mean_{r != j} X_ir``, and averages each figure over
the k choices of j (``harness.agreement.compare_to_references``). Each of the k figures is a
smooth function of sample moments (or a U-statistic) of the pairs (J_i, C_i^(-j)), so it
converges to the value above for the panel ``b_{-j}`` (the drawn offsets without b_j), and
their mean converges to the mean of those limits:

.. math::

    F^{LOO}(b_1..b_k) = \frac1k \sum_{j=1}^k F(b_{-j})

with ``F`` any of the formulas above applied to a panel of k - 1 raters
(:func:`judge_truth_loo`). A consensus of k - 1 raters is noisier than one of k, so the
like-for-like ICC, alpha, kappa and rank figures are lower and MAE higher than the
full-consensus ones (the point of the footing).

So every truth is a closed form or a one-dimensional integral; ``tests/test_coverage_sim.py``
checks each against a very large simulation (a different seed) to within its sampling error.

What is measured
----------------
For each cell (continuous/ordinal x n items x k raters) and replication: the human figures as
``harness.reports._agreement._human_section`` computes them (``icc_all`` with its F-test
intervals; Krippendorff's alpha with ``alpha_interval_bootstrap``, the percentile
bootstrap over items), plus alpha with :func:`harness.agreement._alpha_boot.alpha_interval_ci`
(the two-way random-effects interval, for the report to adopt); and the judge's figures as
``_judge_section`` computes them: ``figures`` =
``compare_to_references(judge, references, scale=(1, 5), n_resamples=1000, seed=0)`` with the
k leave-one-out consensuses as references (the jackknife t interval on Fisher z / log /
identity scale while a reference has at most 200 distinct pairs, else the percentile
bootstrap; the Wilson interval for exact and within-one agreement), scored against
:func:`judge_truth_loo`; and, labelled "full consensus", ``figures_full_consensus`` =
``compare_to_reference(judge, consensus, ...)`` (percentile bootstrap; Kendall falls back
to its Fisher z interval when the table of distinct pairs is too large) against
:func:`judge_truth`. Coverage is the share
of replications whose 95% interval contains the truth, among those with an interval; "no CI"
counts the others. ``ICC(1,1)``/``ICC(1,k)`` of
``icc_oneway`` equal those of ``icc_all`` on complete data and are not repeated. Alpha among
humans is not simulated in the continuous case: with n k distinct values its bootstrap falls
back to the generic scipy path (about 0.25 s per resample at n = 200, k = 5).

The gate's false-ship rate with ``--on lower-bound``: for each like-for-like judge figure (what
the gate checks), a bar just on the
wrong side of the truth (``min`` bar = truth + 0.01 for higher-is-better figures, ``max`` bar
= truth - 0.01 for MAE and |bias|), evaluated with :func:`harness.gate.evaluate_bar`; a pass is
a false ship. The lower end of a 95% two-sided interval is a 97.5% one-sided bound, so the
nominal rate is at most 2.5%.

The alt-test (:func:`harness.agreement.alt_test`, epsilon = 0.2): a judge worse than the raters
(``ALT_JUDGES["worse"]``) and one better (``ALT_JUDGES["better"]``). Its truth for a panel is,
per rater j, the gap rho_f - rho_h between the probabilities that the judge, resp. j, aligns at
least as well with the other raters' mean (ties count for both), from a 10,000-item simulation
with the same panel (:func:`alt_test_truth`). A pass when the judge is worse than every rater by
more than epsilon is a false pass (target <= 5%); passes when it is at least as good as every
rater measure power.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from scipy import special

from harness.agreement import (
    AgreementResult,
    alpha_interval_bootstrap,
    compare_to_reference,
    compare_to_references,
    icc_all,
    krippendorff_alpha,
    round_to_scale,
)
from harness.agreement._alpha_boot import alpha_interval_ci
from harness.reports import leave_one_out_consensus

SCALE = (1.0, 5.0)
HUMAN_FIGURES = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)",
                 "alpha", "alpha (alpha_interval_ci)")
JUDGE_FIGURES = ("spearman", "kendall_tau_b", "icc", "weighted_kappa", "krippendorff_alpha",
                 "exact_agreement", "within_one", "mae", "bias")
GATE_MARGIN = 0.01
_GH_NODES = 120


@dataclass(frozen=True)
class Model:
    """Parameters of the generative model (see the module docstring)."""

    sigma_t: float = 1.0
    sigma_b: float = 0.3
    sigma_e: float = 0.7
    lam: float = 0.9
    offset: float = 0.2
    sigma_u: float = 0.6
    center: float = 3.0
    ordinal: bool = True


@dataclass
class Simulation:
    """One simulated data set: humans (n x k), judge (n,), and the drawn rater biases (k,)."""

    humans: np.ndarray
    judge: np.ndarray
    biases: np.ndarray
    true_scores: np.ndarray


def simulate(model: Model, n: int, k: int, rng: np.random.Generator,
             biases: np.ndarray | None = None) -> Simulation:
    """Draw one data set of ``n`` items rated by ``k`` humans and the judge.

    ``biases`` fixes the panel (the raters' offsets ``b_r``) instead of drawing it.
    """
    t = rng.normal(0.0, model.sigma_t, n)
    b = rng.normal(0.0, model.sigma_b, k) if biases is None else np.asarray(biases, float)
    x = model.center + t[:, None] + b[None, :] + rng.normal(0.0, model.sigma_e, (n, k))
    j = model.center + model.lam * t + model.offset + rng.normal(0.0, model.sigma_u, n)
    if model.ordinal:
        x, j = round_to_scale(x, SCALE), round_to_scale(j, SCALE)
    return Simulation(humans=x, judge=j, biases=b, true_scores=t)


# --------------------------------------------------------------------------- truths


@functools.cache
def _standard_nodes() -> tuple[np.ndarray, np.ndarray]:
    z, w = np.polynomial.hermite_e.hermegauss(_GH_NODES)
    return z, w / math.sqrt(2.0 * math.pi)


def _nodes(sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for E[f(Z)], Z ~ N(0, sd^2)."""
    z, w = _standard_nodes()
    return sd * z, w


def _category_probs(mean: np.ndarray, sd: float) -> np.ndarray:
    """P(g(N(mean, sd^2)) = a) for a = 1..5 (rounding halves up, clipped), shape (..., 5)."""
    lo, hi = SCALE
    cuts = np.arange(lo + 0.5, hi, 1.0)
    cdf = special.ndtr((cuts - np.asarray(mean)[..., None]) / sd)
    zeros = np.zeros(cdf.shape[:-1] + (1,))
    return np.diff(np.concatenate([zeros, cdf, zeros + 1.0], axis=-1), axis=-1)


def _moments(mean: np.ndarray, sd: float, ordinal: bool) -> tuple[np.ndarray, np.ndarray]:
    """E[g(S)] and E[g(S)^2] for S ~ N(mean, sd^2)."""
    if not ordinal:
        return np.asarray(mean, dtype=float), np.asarray(mean, dtype=float) ** 2 + sd**2
    p = _category_probs(mean, sd)
    v = np.arange(SCALE[0], SCALE[1] + 1.0)
    return p @ v, p @ v**2


def spearman_brown(p: float, k: int) -> float:
    """Reliability of the mean of k ratings from the single-rating reliability p."""
    return k * p / (1.0 + (k - 1) * p)


def human_truth(model: Model, k: int) -> dict[str, float]:
    """Population values of the human reliability figures (module docstring)."""
    m = model
    total_sd = math.sqrt(m.sigma_t**2 + m.sigma_b**2 + m.sigma_e**2)
    e1, e2 = _moments(np.array(m.center), total_sd, m.ordinal)
    var_y = float(e2 - e1**2)
    tz, tw = _nodes(m.sigma_t)
    h, _ = _moments(m.center + tz, math.hypot(m.sigma_b, m.sigma_e), m.ordinal)
    var_h = float(tw @ h**2 - (tw @ h) ** 2)
    bz, bw = _nodes(m.sigma_b) if m.sigma_b > 0 else (np.zeros(1), np.ones(1))
    q, _ = _moments(m.center + bz, math.hypot(m.sigma_t, m.sigma_e), m.ordinal)
    var_q = float(bw @ q**2 - (bw @ q) ** 2)
    rho2, rho3 = var_h / var_y, var_h / (var_y - var_q)
    return {
        "ICC(1,1)": rho2, "ICC(2,1)": rho2, "ICC(3,1)": rho3,
        "ICC(1,k)": spearman_brown(rho2, k), "ICC(2,k)": spearman_brown(rho2, k),
        "ICC(3,k)": spearman_brown(rho3, k), "alpha": rho2, "alpha (alpha_interval_ci)": rho2,
    }


def _consensus_given_t(model: Model, tz: np.ndarray, biases: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Ordinal case: the values of the mean of k ratings and P(C = value | T) per node."""
    k = biases.size
    p = _category_probs(model.center + tz[:, None] + biases[None, :], model.sigma_e)  # (N,k,5)
    dist = np.ones((tz.size, 1))
    for r in range(k):
        new = np.zeros((tz.size, dist.shape[1] + 4))
        for a in range(5):
            new[:, a:a + dist.shape[1]] += dist * p[:, r, a:a + 1]
        dist = new
    values = (SCALE[0] * k + np.arange(dist.shape[1])) / k
    return values, dist


def _rounded_table_figures(table: np.ndarray) -> dict[str, float]:
    """Kappa (quadratic), exact and within-one agreement from a 5 x 5 joint table."""
    q = table.shape[0]
    pos = np.arange(q)
    diff = pos[:, None] - pos[None, :]
    weights = 1.0 - diff**2 / (q - 1) ** 2
    po = float((table * weights).sum())
    pe = float(table.sum(axis=1) @ weights @ table.sum(axis=0))
    return {"weighted_kappa": (po - pe) / (1.0 - pe),
            "exact_agreement": float(table[diff == 0].sum()),
            "within_one": float(table[np.abs(diff) <= 1].sum())}


def _mid_cdf(p: np.ndarray) -> np.ndarray:
    return np.cumsum(p) - p / 2.0


def _table_figures(table: np.ndarray) -> dict[str, float]:
    """Spearman (mid-ranks) and Kendall tau-b limits from a joint table over sorted values."""
    pa, pc = table.sum(axis=1), table.sum(axis=0)
    ga, gc = _mid_cdf(pa), _mid_cdf(pc)
    mga, mgc = pa @ ga, pc @ gc
    cov = float(ga @ table @ gc - mga * mgc)
    spear = cov / math.sqrt((pa @ ga**2 - mga**2) * (pc @ gc**2 - mgc**2))
    # P(A' > a, C' > c) and P(A' > a, C' < c) for an independent second draw
    gt_gt = np.zeros_like(table)
    gt_gt[:-1, :-1] = table[::-1, ::-1].cumsum(0).cumsum(1)[::-1, ::-1][1:, 1:]
    gt_lt = np.zeros_like(table)
    gt_lt[:-1, 1:] = table[::-1, :].cumsum(0)[::-1, :].cumsum(1)[1:, :-1]
    p_c = 2.0 * float((table * gt_gt).sum())
    p_d = 2.0 * float((table * gt_lt).sum())
    tau = (p_c - p_d) / math.sqrt((1.0 - pa @ pa) * (1.0 - pc @ pc))
    return {"spearman": spear, "kendall_tau_b": tau}


def judge_truth(model: Model, biases: np.ndarray) -> dict[str, float]:
    """Values of the judge-vs-consensus figures for this panel of raters (module docstring)."""
    m = model
    k = biases.size
    tz, tw = _nodes(m.sigma_t)
    j_mean = m.center + m.lam * tz + m.offset
    if m.ordinal:
        pj = _category_probs(j_mean, m.sigma_u)  # (N, 5)
        jv = np.arange(SCALE[0], SCALE[1] + 1.0)
        cv, pcond = _consensus_given_t(m, tz, biases)
        table = np.einsum("n,na,nc->ac", tw, pj, pcond)
        pa, pc = table.sum(axis=1), table.sum(axis=0)
        ej, ec = pa @ jv, pc @ cv
        var_j, var_c = pa @ jv**2 - ej**2, pc @ cv**2 - ec**2
        cov = float(jv @ table @ cv - ej * ec)
        out = _table_figures(table)
        d = float(ej - ec)
        out["mae"] = float((np.abs(jv[:, None] - cv[None, :]) * table).sum())
        rc = round_to_scale(cv, SCALE)
        onehot = (rc[:, None] == jv[None, :]).astype(float)  # (values, 5)
        rounded = table @ onehot
    else:
        var_j = m.lam**2 * m.sigma_t**2 + m.sigma_u**2
        var_c = m.sigma_t**2 + m.sigma_e**2 / k
        cov = m.lam * m.sigma_t**2
        r = cov / math.sqrt(var_j * var_c)
        d = m.offset - float(biases.mean())
        s = math.sqrt((m.lam - 1.0) ** 2 * m.sigma_t**2 + m.sigma_u**2 + m.sigma_e**2 / k)
        out = {"spearman": 6.0 / math.pi * math.asin(r / 2.0),
               "kendall_tau_b": 2.0 / math.pi * math.asin(r),
               "mae": s * math.sqrt(2.0 / math.pi) * math.exp(-(d**2) / (2 * s**2))
               + d * (1.0 - 2.0 * float(special.ndtr(-d / s)))}
        pj = _category_probs(j_mean, m.sigma_u)
        pcr = _category_probs(m.center + tz + biases.mean(), m.sigma_e / math.sqrt(k))
        rounded = np.einsum("n,na,nc->ac", tw, pj, pcr)
    out["bias"] = d
    out["icc"] = 2.0 * cov / (var_j + var_c + d**2)
    out["krippendorff_alpha"] = (2.0 * cov - d**2 / 2.0) / (var_j + var_c + d**2 / 2.0)
    out.update(_rounded_table_figures(rounded))
    return {name: float(out[name]) for name in JUDGE_FIGURES}


def judge_truth_loo(model: Model, biases: np.ndarray) -> dict[str, float]:
    """Values of the like-for-like judge figures for this panel (module docstring).

    The mean over j of :func:`judge_truth` against the consensus of the raters other than j.
    """
    per = [judge_truth(model, np.delete(biases, j)) for j in range(biases.size)]
    return {name: float(np.mean([p[name] for p in per])) for name in JUDGE_FIGURES}


# --------------------------------------------------------------------------- figures


def human_figures(sim: Simulation, *, n_resamples: int = 1000, seed: int = 0,
                  with_alpha: bool = True) -> dict[str, AgreementResult]:
    """The human reliability figures with their CIs, as the agreement report computes them."""
    iccs = icc_all(sim.humans, missing="listwise", confidence=0.95)
    out = {name: iccs[name] for name in HUMAN_FIGURES if name in iccs}
    if with_alpha:
        alpha = krippendorff_alpha(sim.humans, level="interval")
        if alpha.defined and n_resamples > 0:
            alpha = alpha_interval_bootstrap(sim.humans, alpha, n_resamples=n_resamples,
                                             seed=seed, confidence=0.95)
        out["alpha"] = alpha
        if n_resamples > 0:
            out["alpha (alpha_interval_ci)"] = alpha_interval_ci(
                sim.humans, n_resamples=n_resamples, seed=seed, confidence=0.95)
    return out


def loo_references(humans: np.ndarray) -> np.ndarray:
    """The report's like-for-like references on a complete crossed table: column j holds the
    mean of the raters other than j (``harness.reports.like_for_like_references``)."""
    return np.column_stack([leave_one_out_consensus(humans, j) for j in range(humans.shape[1])])


def judge_figures(sim: Simulation, *, n_resamples: int = 1000, seed: int = 0
                  ) -> dict[str, AgreementResult]:
    """The judge's figures with their CIs as the report's ``figures`` give them: against each
    leave-one-out consensus, averaged (``compare_to_references``)."""
    return compare_to_references(sim.judge, loo_references(sim.humans), scale=SCALE,
                                 n_resamples=n_resamples, seed=seed, confidence=0.95)


def judge_figures_full(sim: Simulation, *, n_resamples: int = 1000, seed: int = 0
                       ) -> dict[str, AgreementResult]:
    """The report's ``figures_full_consensus``: the judge against the mean of all k raters."""
    consensus = sim.humans.mean(axis=1)
    return compare_to_reference(sim.judge, consensus, scale=SCALE, n_resamples=n_resamples,
                                seed=seed, confidence=0.95)


# --------------------------------------------------------------------------- alt-test

#: Judges for the alt-test: one worse than the raters by more than epsilon = 0.2, one better.
ALT_JUDGES = {"worse": {"sigma_u": 1.6, "lam": 0.9, "offset": 0.2},
              "better": {"sigma_u": 0.3, "lam": 1.0, "offset": 0.0}}
ALT_EPSILON = 0.2
_ALT_TRUTH_ITEMS = 10_000


def advantage_gaps(sim: Simulation) -> np.ndarray:
    """Per rater j: the share of items where the judge aligns at least as well with the other
    raters' mean as j does, minus the share where j does at least as well as the judge.

    Alignment is ``-|x - mean of the others|`` (ties count for both), the alt-test's default;
    compared as ``|(k-1) x - sum of the others|``, exact for integer scores.
    """
    x, j = sim.humans, sim.judge
    m = x.shape[1] - 1
    others = x.sum(axis=1, keepdims=True) - x
    a_f = np.abs(j[:, None] * m - others)
    a_h = np.abs(x * m - others)
    tol = 1e-9 * max(1.0, float(np.abs(x).max())) * m
    return (a_f <= a_h + tol).mean(axis=0) - (a_h <= a_f + tol).mean(axis=0)


def alt_test_truth(model: Model, biases: np.ndarray, *, epsilon: float = ALT_EPSILON,
                   seed: int = 1) -> dict[str, Any]:
    """The alt-test's truth for this panel, from one large simulation (another seed).

    ``rho_f - rho_h`` per rater (the population advantage gap) and the verdict: "worse" when
    the judge is worse than every rater by more than ``epsilon`` (H0 true for every rater:
    a pass is a false pass), "better" when it is at least as good as every rater (H1 true
    with a margin of epsilon: a pass counts towards power), else "between".
    """
    big = simulate(model, _ALT_TRUTH_ITEMS, biases.size, np.random.default_rng(seed), biases)
    gaps = advantage_gaps(big)
    truth = "worse" if np.all(gaps < -epsilon) else "better" if np.all(gaps >= 0) else "between"
    return {"gaps": gaps.tolist(), "truth": truth}


def alt_test_outcome(sim: Simulation, model: Model, *, epsilon: float = ALT_EPSILON
                     ) -> dict[str, Any] | None:
    """The alt-test on a simulated data set and its truth for the data set's panel.

    Returns ``{"passed": bool | None, "truth": "worse" | "better" | "between", "gaps": [...],
    "winning_rate": float | None}``, or None when ``harness.agreement.alt_test`` does not
    exist (the table then says "not measured").
    """
    try:
        from harness.agreement import alt_test
    except ImportError:
        return None
    res = alt_test(sim.humans, sim.judge, epsilon=epsilon)
    out = alt_test_truth(model, sim.biases, epsilon=epsilon)
    out.update(passed=res.passed, winning_rate=res.winning_rate)
    return out


def run_alt_cell(model: Model, n: int, k: int, reps: int, *, seed: int) -> dict[str, Any]:
    """False-pass rate (worse judge) and power (better judge) of the alt-test in one cell."""
    out: dict[str, Any] = {"case": "ordinal" if model.ordinal else "continuous", "n": n,
                           "k": k, "reps": reps}
    t0 = time.perf_counter()
    for name, params in ALT_JUDGES.items():
        judge_model = replace(model, **params)
        rng = np.random.default_rng([seed, n, k, int(model.ordinal), len(name)])
        counts = {"worse": [0, 0], "better": [0, 0], "between": [0, 0], "undecided": 0}
        for _ in range(reps):
            res = alt_test_outcome(simulate(judge_model, n, k, rng), judge_model)
            if res is None:
                return {**out, "measured": False}
            if res["passed"] is None:
                counts["undecided"] += 1
                continue
            counts[res["truth"]][0] += int(res["passed"])
            counts[res["truth"]][1] += 1
        out[name] = counts
    out["measured"] = True
    out["seconds"] = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- one cell


@dataclass
class Tally:
    """Coverage counts of one figure in one cell."""

    covered: int = 0
    with_ci: int = 0
    no_ci: int = 0
    missed_low: int = 0  # the interval lies entirely below the truth
    missed_high: int = 0
    methods: dict[str, int] | None = None
    false_ship: int = 0
    gate_checked: int = 0

    def add(self, res: AgreementResult, truth: float) -> None:
        if res.ci95 is None:
            self.no_ci += 1
            return
        lo, hi = res.ci95
        self.with_ci += 1
        if lo <= truth <= hi:
            self.covered += 1
        elif hi < truth:
            self.missed_low += 1
        else:
            self.missed_high += 1
        method = (res.ci_method or "").split(" (")[0]
        self.methods = self.methods or {}
        self.methods[method] = self.methods.get(method, 0) + 1

    @property
    def coverage(self) -> float | None:
        return self.covered / self.with_ci if self.with_ci else None


def _gate_false_ship(name: str, res: AgreementResult, truth: float) -> bool | None:
    """Whether ``--on lower-bound`` ships a bar just on the wrong side of the truth."""
    from harness.gate import Bar, evaluate_bar

    if name == "mae":
        bar = Bar("max", name, truth - GATE_MARGIN)
    elif name == "bias":
        if abs(truth) <= GATE_MARGIN:
            return None
        bar = Bar("max", name, abs(truth) - GATE_MARGIN)
    else:
        bar = Bar("min", name, truth + GATE_MARGIN)
    return evaluate_bar(bar, res, "lower-bound").passed


def run_cell(model: Model, n: int, k: int, reps: int, *, seed: int, n_resamples: int = 1000,
             with_full: bool = True) -> dict[str, Any]:
    """Replicate one cell and tally coverage and false ships per figure.

    ``judge`` holds the like-for-like figures the report shows (and the gate checks);
    ``judge_full`` (if ``with_full``) the full-consensus ones, coverage only.
    """
    rng = np.random.default_rng([seed, n, k, int(model.ordinal)])
    htruth = human_truth(model, k)
    with_alpha = model.ordinal
    human = {name: Tally() for name in HUMAN_FIGURES if with_alpha or name != "alpha"}
    judge = {name: Tally() for name in JUDGE_FIGURES}
    full = {name: Tally() for name in JUDGE_FIGURES} if with_full else None
    t0 = time.perf_counter()
    for _ in range(reps):
        sim = simulate(model, n, k, rng)
        for name, res in human_figures(sim, n_resamples=n_resamples,
                                       with_alpha=with_alpha).items():
            human[name].add(res, htruth[name])
        jtruth = judge_truth_loo(model, sim.biases)
        for name, res in judge_figures(sim, n_resamples=n_resamples).items():
            judge[name].add(res, jtruth[name])
            shipped = _gate_false_ship(name, res, jtruth[name])
            if shipped is not None:
                judge[name].gate_checked += 1
                judge[name].false_ship += int(shipped)
        if full is not None:
            ftruth = judge_truth(model, sim.biases)
            for name, res in judge_figures_full(sim, n_resamples=n_resamples).items():
                full[name].add(res, ftruth[name])
    out = {"case": "ordinal" if model.ordinal else "continuous", "n": n, "k": k,
           "reps": reps, "seconds": time.perf_counter() - t0,
           "human_truth": htruth,
           "human": {name: asdict(t) for name, t in human.items()},
           "judge": {name: asdict(t) for name, t in judge.items()}}
    if full is not None:
        out["judge_full"] = {name: asdict(t) for name, t in full.items()}
    return out


# --------------------------------------------------------------------------- tables


def _pct(num: int, den: int) -> str:
    return "—" if not den else f"{100.0 * num / den:.1f}"


def _flag(num: int, den: int) -> str:
    if not den:
        return "—"
    c = 100.0 * num / den
    return f"**{c:.1f}**" if not 93.0 <= c <= 97.0 else f"{c:.1f}"


def alt_markdown(alt_cells: list[dict[str, Any]]) -> list[str]:
    """The alt-test table: false passes of the worse judge, passes (power) of the better one."""
    if not alt_cells or not all(c.get("measured") for c in alt_cells):
        return ["Not measured: `harness.agreement.alt_test` does not exist (the hook is "
                "`alt_test_outcome` in benchmarks/coverage.py)."]
    lines = ["| cell | worse judge: data sets truly worse by > ε | false passes (%) "
             "| better judge: data sets truly better | power (%) | no verdict |",
             "|---|---|---|---|---|---|"]
    for c in alt_cells:
        w, b = c["worse"]["worse"], c["better"]["better"]
        undecided = c["worse"]["undecided"] + c["better"]["undecided"]
        lines.append(f"| {c['case']} n={c['n']} k={c['k']} | {w[1]} of {c['reps']} | "
                     f"{_pct(w[0], w[1])} | {b[1]} of {c['reps']} | {_pct(b[0], b[1])} | "
                     f"{undecided} |")
    return lines


def markdown(cells: list[dict[str, Any]], alt_cells: list[dict[str, Any]] | None = None
             ) -> str:
    """The coverage and false-ship tables (coverage outside 93-97% in bold)."""
    cols = [f"{c['case'][:4]} n={c['n']} k={c['k']}" for c in cells]
    head = "| figure (CI method) | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols)
    lines = ["### Coverage of the 95% intervals (%); misses below/above the truth in brackets",
             "", head]

    def method_of(section: str, name: str) -> str:
        seen: dict[str, int] = {}
        for c in cells:
            for mth, cnt in (c[section].get(name, {}).get("methods") or {}).items():
                seen[mth] = seen.get(mth, 0) + cnt
        return ", ".join(sorted(seen)) or "—"

    sections = [("human", HUMAN_FIGURES), ("judge", JUDGE_FIGURES)]
    if all("judge_full" in c for c in cells):
        sections.append(("judge_full", JUDGE_FIGURES))
    labels = {"human": "human", "judge": "judge (like-for-like)",
              "judge_full": "judge (full consensus)"}
    for section, names in sections:
        for name in names:
            row = []
            for c in cells:
                t = c[section].get(name)
                if t is None:
                    row.append("n/a")
                    continue
                txt = (f"{_flag(t['covered'], t['with_ci'])} "
                       f"({t['missed_low']}/{t['missed_high']})")
                if t["no_ci"]:
                    txt += f" no CI {t['no_ci']}"
                row.append(txt)
            label = f"{labels[section]}: {name} ({method_of(section, name)})"
            lines.append(f"| {label} | " + " | ".join(row) + " |")
    lines += ["", "### Gate false-ship rate with --on lower-bound (%), like-for-like figures, "
              "bar 0.01 beyond the truth", "", head]
    for name in JUDGE_FIGURES:
        row = [_pct(c["judge"][name]["false_ship"], c["judge"][name]["gate_checked"])
               for c in cells]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    lines += ["", f"### Alt-test (epsilon = {ALT_EPSILON}): false-pass rate and power", ""]
    lines += alt_markdown(alt_cells or [])
    lines += ["", "Truths (human figures are population values; judge figures vary with the "
              "drawn panel):", ""]
    truths = {(c["case"], c["k"]): c["human_truth"] for c in cells}
    for (case, k), truth in truths.items():
        ht = ", ".join(f"{k_} {v:.3f}" for k_, v in truth.items())
        lines.append(f"- {case} k={k}: {ht}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Coverage of judgecal's 95% intervals.")
    parser.add_argument("--quick", action="store_true",
                        help="100 replications, n = 20 and 50, k = 3 (< 1 min)")
    parser.add_argument("--reps", type=int, default=None, help="replications per cell (800)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap B (1000)")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--json", metavar="FILE", help="also write every count as JSON")
    parser.add_argument("--no-full", action="store_true",
                        help="skip the full-consensus judge rows")
    parser.add_argument("--sizes", type=int, nargs="+", help="only these n (20 50 200)")
    parser.add_argument("--raters", type=int, nargs="+", help="only these k (3 5)")
    parser.add_argument("--kind", choices=("ordinal", "continuous"), help="only this model")
    args = parser.parse_args(argv)
    reps = args.reps or (100 if args.quick else 800)
    sizes = tuple(args.sizes or ((20, 50) if args.quick else (20, 50, 200)))
    ks = tuple(args.raters or ((3,) if args.quick else (3, 5)))
    kinds = (True, False) if args.kind is None else (args.kind == "ordinal",)
    print(f"# coverage.py: {reps} replications per cell, B={args.resamples}, seed {args.seed}; "
          f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} cpus, {time.strftime('%Y-%m-%d')}", file=sys.stderr)
    cells, alt_cells = [], []
    t0 = time.perf_counter()
    for ordinal in kinds:
        for k in ks:
            for n in sizes:
                model = replace(Model(), ordinal=ordinal)
                cell = run_cell(model, n, k, reps, seed=args.seed, n_resamples=args.resamples,
                                with_full=not args.no_full)
                alt = run_alt_cell(model, n, k, reps, seed=args.seed)
                print(f"  {cell['case']} n={n} k={k}: {cell['seconds']:.1f} s, alt-test "
                      f"{alt.get('seconds', 0.0):.1f} s", file=sys.stderr)
                cells.append(cell)
                alt_cells.append(alt)
    print(markdown(cells, alt_cells))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"model": asdict(Model()), "cells": cells, "alt_test": alt_cells}, fh,
                      indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
