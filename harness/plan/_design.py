r"""Plan an anchor set before labelling: items and raters for a CI half-width, alt-test power.

The generative model
--------------------
Every item :math:`i` has a true score :math:`T_i \sim N(0, 1)`. Each of the :math:`k`
human raters reports it with independent noise, :math:`X_{ij} = T_i + e_{ij}`,
:math:`e_{ij} \sim N(0, \sigma_e^2)`; the judge with its own,
:math:`J_i = T_i + d_i`, :math:`d_i \sim N(0, \sigma_d^2)`. The consensus is the raters'
mean, :math:`C_i = T_i + \bar e_i` with :math:`\mathrm{var}(\bar e_i) = \sigma_e^2 / k`.
Scores are continuous (no rounding to the scale) and raters and judge have no bias.

Then

* the single human rater's reliability is :math:`\mathrm{ICC}_h = 1 / (1 + \sigma_e^2)`;
* the judge's ICC(2,1) with the consensus is (two columns, equal means)
  :math:`\mathrm{ICC} = 2 / (2 + \sigma_d^2 + \sigma_e^2 / k)`;
* its Pearson correlation with the consensus is
  :math:`r = 1 / \sqrt{(1 + \sigma_d^2)(1 + \sigma_e^2 / k)}`, and its Spearman
  correlation :math:`\rho_S = (6 / \pi) \arcsin(r / 2)` (bivariate normal).

``--expect icc=V`` (or ``spearman=V``, ``pearson=V``) sets the judge's expected figure at
the given number of raters; ``--expect human_icc=H`` the raters' reliability
(:math:`\sigma_e^2 = 1/H - 1`). Without ``human_icc`` the judge is taken to be as noisy as
one rater (:math:`\sigma_d = \sigma_e`) and both are solved from the judge's figure. From
a pilot anchor set, :math:`\mathrm{ICC}_h` is the set's one-way ICC(1) (unequal ratings
per item allowed) and :math:`k` its median number of raters per item.

What is simulated
-----------------
For a number of items n, ``R`` data sets are drawn from the model (seeded). The half-width
of a figure at n is half the width of the central 95% range of the figure over the data
sets (the width a correct CI has on average); :func:`harness.plan._search.items_for`
finds the smallest n whose half-width is at most W. The alt-test's power at n is the share
of data sets on which :func:`harness.agreement.alt_test` passes (winning rate >= 0.5) at
the given :math:`\varepsilon`; the planner finds the smallest n with power >= 80%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata

from harness.reports import exact_text

from ._search import CAP, items_for

#: Figures the planner sizes (judge vs consensus).
PLAN_FIGURES: tuple[str, ...] = ("icc", "spearman", "pearson")
#: Expectations ``--expect`` accepts.
EXPECT_KEYS: tuple[str, ...] = (*PLAN_FIGURES, "human_icc")
#: Power the alt-test sizing aims at.
TARGET_POWER = 0.8


class PlanError(ValueError):
    """Expectations the model cannot meet, or bad planning options."""


@dataclass(frozen=True)
class Model:
    """The generative model's parameters (see the module docstring).

    Attributes
    ----------
    sigma_e : float
        The human raters' noise (SD), true scores having SD 1.
    sigma_d : float
        The judge's noise (SD).
    """

    sigma_e: float
    sigma_d: float

    def human_icc(self) -> float:
        """A single rater's reliability, ``1 / (1 + sigma_e^2)``."""
        return 1.0 / (1.0 + self.sigma_e**2)

    def expected(self, k: int) -> dict[str, float]:
        """The judge's figures against the consensus of ``k`` raters, in closed form.

        Examples
        --------
        >>> {k: round(v, 3) for k, v in Model(1.0, 1.0).expected(3).items()}
        {'icc': 0.6, 'spearman': 0.594, 'pearson': 0.612}
        """
        ve = self.sigma_e**2 / k
        r = 1.0 / math.sqrt((1.0 + self.sigma_d**2) * (1.0 + ve))
        return {"icc": 2.0 / (2.0 + self.sigma_d**2 + ve),
                "spearman": 6.0 / math.pi * math.asin(r / 2.0), "pearson": r}

    def to_dict(self) -> dict[str, float]:
        """A JSON-ready dictionary."""
        return {"sigma_true": 1.0, "sigma_rater": self.sigma_e, "sigma_judge": self.sigma_d,
                "human_icc": self.human_icc()}


def _noise_for(figure: str, value: float, k: int, ve: float | None) -> tuple[float, float]:
    """(sigma_e^2, sigma_d^2) giving ``figure = value`` at k raters; ``ve`` fixes sigma_e^2."""
    r = 2.0 * math.sin(math.pi * value / 6.0) if figure == "spearman" else value
    if figure == "icc":
        # 2 / (2 + sd2 + ve/k) = v  ->  sd2 + ve/k = 2/v - 2
        total = 2.0 / value - 2.0
        if ve is None:  # sd2 = ve
            ve = total / (1.0 + 1.0 / k)
        return ve, total - ve / k
    # r^2 = 1 / ((1 + sd2)(1 + ve/k))
    if ve is None:  # sd2 = ve = s: (1 + s)(1 + s/k) = 1/r^2
        a, b, c = 1.0 / k, 1.0 + 1.0 / k, 1.0 - 1.0 / r**2
        s = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
        return s, s
    return ve, 1.0 / (r**2 * (1.0 + ve / k)) - 1.0


def model_for(expect: dict[str, float], k: int) -> Model:
    """The model that gives the expected figures at ``k`` raters.

    Parameters
    ----------
    expect : dict
        At most one judge figure (``icc``, ``spearman`` or ``pearson``) in (0, 1), and
        optionally ``human_icc`` in (0, 1). With only ``human_icc`` the judge is as noisy
        as one rater.
    k : int
        Raters per item (at least 2).

    Returns
    -------
    Model

    Raises
    ------
    PlanError
        Out-of-range values, two judge figures, or a judge figure the human noise alone
        already makes impossible.

    Examples
    --------
    >>> m = model_for({"icc": 0.6}, 3)
    >>> round(m.expected(3)["icc"], 6), m.sigma_d == m.sigma_e
    (0.6, True)
    """
    if k < 2:
        raise PlanError(f"--raters must be at least 2, got {k}")
    for key, v in expect.items():
        if key not in EXPECT_KEYS:
            raise PlanError(f"--expect {key}: unknown; one of {', '.join(EXPECT_KEYS)}")
        if not 0.0 < v < 1.0:
            raise PlanError(f"--expect {key}={v:g}: must be strictly between 0 and 1")
    figures = [f for f in PLAN_FIGURES if f in expect]
    if len(figures) > 1:
        raise PlanError(f"--expect: give one judge figure, not {' and '.join(figures)}")
    ve = 1.0 / expect["human_icc"] - 1.0 if "human_icc" in expect else None
    if not figures:
        if ve is None:
            raise PlanError("--expect needs a judge figure (e.g. icc=0.6) or human_icc=H")
        return Model(math.sqrt(ve), math.sqrt(ve))
    fig = figures[0]
    ve2, vd2 = _noise_for(fig, expect[fig], k, ve)
    if vd2 < 0:
        best = Model(math.sqrt(ve2), 0.0).expected(k)[fig]
        raise PlanError(f"--expect {fig}={expect[fig]:g} is out of reach with human_icc="
                        f"{expect['human_icc']:g} and {k} raters: a noiseless judge gets "
                        f"{exact_text(best)} against that consensus")
    return Model(math.sqrt(ve2), math.sqrt(vd2))


# --------------------------------------------------------------------------- simulation


def simulate(model: Model, n: int, k: int, reps: int, seed: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """``reps`` data sets of ``n`` items: human ratings (reps, n, k) and judge (reps, n)."""
    rng = np.random.default_rng(seed)
    t = rng.standard_normal((reps, n, 1))
    humans = t + model.sigma_e * rng.standard_normal((reps, n, k))
    judge = t[..., 0] + model.sigma_d * rng.standard_normal((reps, n))
    return humans, judge


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def _icc21_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ICC(2,1) of two columns, one value per row of (reps, n) arrays."""
    n, k = x.shape[1], 2.0
    grand = (x.mean(axis=1) + y.mean(axis=1)) / 2.0
    rows = (x + y) / 2.0
    ss_rows = k * ((rows - grand[:, None]) ** 2).sum(axis=1)
    ss_cols = n * ((x.mean(axis=1) - grand) ** 2 + (y.mean(axis=1) - grand) ** 2)
    ss_tot = ((x - grand[:, None]) ** 2 + (y - grand[:, None]) ** 2).sum(axis=1)
    mse = (ss_tot - ss_rows - ss_cols) / (n - 1)
    msr, msc = ss_rows / (n - 1), ss_cols
    return (msr - mse) / (msr + mse + k * (msc - mse) / n)


def figure_values(figure: str, humans: np.ndarray, judge: np.ndarray) -> np.ndarray:
    """The judge's figure against the consensus on each simulated data set."""
    cons = humans.mean(axis=2)
    if figure == "icc":
        return _icc21_rows(judge, cons)
    if figure == "spearman":
        return _pearson_rows(rankdata(judge, axis=1), rankdata(cons, axis=1))
    if figure == "pearson":
        return _pearson_rows(judge, cons)
    raise PlanError(f"no planner for {figure!r}")  # pragma: no cover


def simulated_half_width(model: Model, figure: str, n: int, k: int, *, reps: int = 400,
                         seed: int = 0, confidence: float = 0.95) -> float:
    """The half-width of the central ``confidence`` range of a figure over ``reps`` data
    sets of ``n`` items and ``k`` raters (:func:`simulate`)."""
    values = figure_values(figure, *simulate(model, n, k, reps, seed))
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values[np.isfinite(values)], [tail, 1.0 - tail])
    return float(hi - lo) / 2.0


def alt_test_power(model: Model, n: int, k: int, *, epsilon: float, reps: int = 100,
                   seed: int = 0) -> float:
    """The share of simulated data sets on which the alt-test passes (winning rate >= 0.5)."""
    from harness.agreement import alt_test

    humans, judge = simulate(model, n, k, reps, seed)
    passed = 0
    for r in range(reps):
        res = alt_test(humans[r], judge[r], epsilon=epsilon)
        passed += bool(res.passed)
    return passed / reps


# --------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """What a plan found: items per figure for the half-width, and for the alt-test's power.

    Attributes
    ----------
    model : Model
    raters : list of int
        The numbers of raters planned for.
    half_width : float
    epsilon : float
    figures : dict
        Figure -> raters (as str) -> ``{"items", "expected", "half_width_at_items"}``;
        ``items`` None beyond the cap.
    alt_test : dict
        Raters (as str) -> ``{"items", "power_at_items"}``.
    source : str
        ``assumed`` or the pilot anchor set.
    pilot : dict, optional
        What the pilot gave (items, raters, human ICC).
    """

    model: Model
    raters: list[int]
    half_width: float
    epsilon: float
    figures: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    alt_test: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "assumed"
    pilot: dict[str, Any] | None = None
    seed: int = 0
    cap: int = CAP

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document; ``figures.<f>`` holds the first raters' row flat."""
        first = str(self.raters[0])
        figs = {f: {**rows[first], "by_raters": rows} for f, rows in self.figures.items()}
        return {"judgecal_plan": 1, "source": self.source, "pilot": self.pilot,
                "model": self.model.to_dict(), "raters": self.raters,
                "half_width": self.half_width, "confidence": 0.95, "cap": self.cap,
                "seed": self.seed, "figures": figs,
                "alt_test": ({**self.alt_test[first], "epsilon": self.epsilon,
                              "power": TARGET_POWER, "by_raters": self.alt_test}
                             if self.alt_test else None)}


def make_plan(model: Model, raters: list[int], *, half_width: float, epsilon: float = 0.2,
              figures: tuple[str, ...] = PLAN_FIGURES, reps: int = 400,
              power_reps: int = 100, seed: int = 0, cap: int = CAP,
              alt_test: bool = True, source: str = "assumed",
              pilot: dict[str, Any] | None = None) -> Plan:
    """Items per figure for a CI half-width, and items for 80% alt-test power.

    Parameters
    ----------
    model : Model
        From :func:`model_for` (or a pilot).
    raters : list of int
        Numbers of raters per item to plan for (each at least 2; the alt-test needs 3).
    half_width : float
        The CI half-width W wanted on each figure (in (0, 1)).
    epsilon : float
        The alt-test's ε.
    figures : tuple of str
    reps, power_reps : int
        Simulated data sets per size for the half-widths, and for the power.
    seed : int
    cap : int
        The most items considered (None beyond).
    alt_test : bool
        Size the alt-test too.
    source : str
    pilot : dict, optional

    Returns
    -------
    Plan
    """
    if not 0.0 < half_width < 1.0:
        raise PlanError(f"--half-width must be strictly between 0 and 1, got {half_width:g}")
    if not 0.0 <= epsilon < 1.0:
        raise PlanError(f"--epsilon must be in [0, 1), got {epsilon:g}")
    plan = Plan(model, list(raters), half_width, epsilon, source=source, pilot=pilot,
                seed=seed, cap=cap)
    for f in figures:
        plan.figures[f] = {}
        for k in raters:
            def width(n: int, f: str = f, k: int = k) -> float:
                return simulated_half_width(model, f, n, k, reps=reps, seed=seed)

            n = items_for(width, half_width, start=10, cap=cap)
            plan.figures[f][str(k)] = {
                "items": n, "raters": k, "expected": model.expected(k)[f],
                "half_width_at_items": width(n) if n is not None else None}
    if alt_test:
        for k in raters:
            row: dict[str, Any] = {"items": None, "raters": k, "power_at_items": None}
            if k >= 3:
                def short(n: int, k: int = k) -> float:  # "width" = shortfall of power
                    return 1.0 - alt_test_power(model, n, k, epsilon=epsilon,
                                                reps=power_reps, seed=seed)

                n = items_for(short, 1.0 - TARGET_POWER + 1e-9, start=10, cap=min(cap, 2000))
                row["items"] = n
                row["power_at_items"] = 1.0 - short(n) if n is not None else None
            else:
                row["reason"] = "the alt-test needs at least 3 raters per item"
            plan.alt_test[str(k)] = row
    return plan


def oneway_icc(scores: np.ndarray) -> float | None:
    r"""One rater's reliability from a possibly sparse items x raters matrix (NaN: missing).

    The one-way random-effects ICC(1) for unequal numbers of ratings per item:
    :math:`(MSB - MSW) / (MSB + (n_0 - 1) MSW)` with
    :math:`n_0 = (N - \sum_i n_i^2 / N) / (a - 1)` over the :math:`a` items that have at
    least two ratings (:math:`N` ratings in all). None when fewer than 3 such items.
    """
    scores = np.asarray(scores, dtype=float)
    rows = [r[~np.isnan(r)] for r in scores]
    rows = [r for r in rows if r.size >= 2]
    a = len(rows)
    if a < 3:
        return None
    sizes = np.array([r.size for r in rows], dtype=float)
    total = sizes.sum()
    grand = sum(r.sum() for r in rows) / total
    ssb = sum(r.size * (r.mean() - grand) ** 2 for r in rows)
    ssw = sum(((r - r.mean()) ** 2).sum() for r in rows)
    msb, msw = ssb / (a - 1), ssw / (total - a)
    n0 = (total - (sizes**2).sum() / total) / (a - 1)
    den = msb + (n0 - 1.0) * msw
    return float((msb - msw) / den) if den > 0 else None


def pilot_model(scores: np.ndarray) -> tuple[Model, dict[str, Any]]:
    """The model from a pilot's ratings (items x raters, NaN missing).

    One rater's reliability is the pilot's one-way ICC(1) (:func:`oneway_icc`, valid for
    sparse designs too), which sets the rater noise; the judge is taken to be as noisy as
    one rater; the raters per item are the pilot's median.

    Returns
    -------
    tuple of (Model, dict)
        The model, and what the pilot gave (``items``, ``raters``, ``human_icc``).

    Raises
    ------
    PlanError
        Fewer than 3 items with two ratings, or a reliability not in (0, 1).
    """
    scores = np.asarray(scores, dtype=float)
    per_item = (~np.isnan(scores)).sum(axis=1)
    value = oneway_icc(scores)
    if value is None or not 0.0 < value < 1.0:
        why = "fewer than 3 items with two ratings" if value is None else \
            f"one-way ICC(1) = {exact_text(value)}"
        raise PlanError(f"the pilot's human reliability cannot set the model ({why}): "
                        "use --expect human_icc=H instead")
    ve = 1.0 / value - 1.0
    k = int(np.median(per_item[per_item > 0])) if (per_item > 0).any() else 0
    return Model(math.sqrt(ve), math.sqrt(ve)), {
        "items": int(scores.shape[0]), "raters": k, "human_icc": value,
        "human_icc_method": "one-way ICC(1)",
        "human_icc_items": int(sum(1 for n in per_item if n >= 2))}
