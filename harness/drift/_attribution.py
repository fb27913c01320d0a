r"""Drift attribution: did the judge change, or the system it judges?

A frozen anchor panel (the same items, the same prompt) is re-judged on a schedule. Between
two runs of the panel nothing but the judge can move its scores, so a change there is
*judge drift*; a change in the production scores while the panel holds still is *system
drift* (the judged system, or its inputs, changed). These functions compare two runs and
attribute; they know nothing of providers, journals or files (see :mod:`._panel`).

* :func:`panel_shift` — the paired comparison of two panel runs on the same items: the
  share of items whose score moved, with a Wilson 95% CI, and the mean shift with a paired
  bootstrap 95% CI. The panel *changed* when the moved share's lower CI bound exceeds a
  tolerance (default 0.05).
* :func:`production_shift` — the change of the mean production score between two windows
  (independent items), with Welch's 95% CI.
* :func:`fingerprint_changes` — what differs between two runs' judge fingerprints.
* :func:`attribute` — the verdict (``judge``, ``system``, ``both``, ``stable``) and the
  silent-change alert (the fingerprint is unchanged but the panel's answers changed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from harness.estimate import naive_pass_rate
from harness.reports import MISSING, exact_text, interval_text, number_text, signed_text

Verdict = Literal["judge", "system", "both", "stable"]

#: The default tolerance on the share of panel items that moved.
TOLERANCE = 0.05

#: What a judge fingerprint holds, in the order changes are reported.
FINGERPRINT_FIELDS = ("provider", "model", "reply_models", "prompt_hash", "params", "identity")


def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    """A CI for JSON: None when there is none (or its bounds are undefined)."""
    if ci is None or not all(math.isfinite(c) for c in ci):
        return None
    return [float(ci[0]), float(ci[1])]


#: Decimals of the panel's shares, shifts and their CIs wherever they are said (the verdict's
#: reason, ``judgecal panel``'s table): they are compared with a tolerance, and a production
#: shift of 0.004 scale points is a change under a shift tolerance of 0 that two decimals
#: would show as 0.00.
PANEL_DIGITS = 3


def panel_ci_text(ci: tuple[float, float] | None) -> str:
    """A panel CI as ``[0.890, 1.000]`` (:data:`PANEL_DIGITS`); ``—`` without one.

    Examples
    --------
    >>> panel_ci_text((-1.0, -0.8064)), panel_ci_text((float("nan"), 1.0))
    ('[-1.000, -0.806]', '—')
    """
    return interval_text(_ci(ci), PANEL_DIGITS) or MISSING


@dataclass(frozen=True)
class PanelShift:
    """Two runs of the same anchor panel compared item by item (:func:`panel_shift`).

    Attributes
    ----------
    n_items : int
        Items with a score in both runs (the others are left out).
    n_moved : int
        Of those, items whose score moved by more than ``min_move``.
    moved_share : float
        ``n_moved / n_items``.
    ci95 : tuple of float
        Wilson score 95% CI of ``moved_share``.
    mean_shift : float
        Mean of ``after - before`` over the items.
    mean_ci95 : tuple of float
        Paired (item) bootstrap percentile 95% CI of ``mean_shift``.
    tolerance : float
        The share of moved items tolerated.
    changed : bool
        ``ci95[0] > tolerance``.
    """

    n_items: int
    n_moved: int
    moved_share: float
    ci95: tuple[float, float]
    mean_shift: float
    mean_ci95: tuple[float, float]
    tolerance: float
    min_move: float
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"n_items": self.n_items, "n_moved": self.n_moved,
                "moved_share": self.moved_share, "ci95": _ci(self.ci95),
                "mean_shift": self.mean_shift, "mean_ci95": _ci(self.mean_ci95),
                "tolerance": self.tolerance, "min_move": self.min_move,
                "changed": self.changed}


@dataclass(frozen=True)
class ProductionShift:
    """The mean production score of a current window against a baseline window.

    Attributes
    ----------
    n_baseline, n_current : int
        Items with a score in each window.
    mean_baseline, mean_current : float
    mean_shift : float
        ``mean_current - mean_baseline``.
    ci95 : tuple of float
        Welch's 95% CI of ``mean_shift`` (NaN bounds when a window has a single item).
    tolerance : float
        The shift tolerated, in scale points.
    changed : bool
        The CI lies wholly beyond ``±tolerance``.
    """

    n_baseline: int
    n_current: int
    mean_baseline: float
    mean_current: float
    mean_shift: float
    ci95: tuple[float, float]
    tolerance: float
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"n_baseline": self.n_baseline, "n_current": self.n_current,
                "mean_baseline": self.mean_baseline, "mean_current": self.mean_current,
                "mean_shift": self.mean_shift, "ci95": _ci(self.ci95),
                "tolerance": self.tolerance, "changed": self.changed}


@dataclass(frozen=True)
class Attribution:
    """Which changed, the judge or the system (:func:`attribute`).

    Attributes
    ----------
    verdict : {"judge", "system", "both", "stable"}
    panel : PanelShift
    production : ProductionShift or None
        None when no production windows were compared (the verdict is then ``judge`` or
        ``stable``).
    fingerprint_before, fingerprint_after : dict
    fingerprint_changed : list of str
        The fingerprint's fields that differ (:data:`FINGERPRINT_FIELDS`).
    silent_change : bool
        The panel changed with an unchanged fingerprint: the provider changed the judge
        silently.
    reason : str
        The verdict in one sentence, with the evidence.
    """

    verdict: Verdict
    panel: PanelShift
    production: ProductionShift | None
    fingerprint_before: dict[str, Any]
    fingerprint_after: dict[str, Any]
    fingerprint_changed: list[str] = field(default_factory=list)
    silent_change: bool = False
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The ``judgecal panel --json`` figures: verdict, panel, production, fingerprint."""
        return {"verdict": self.verdict, "reason": self.reason,
                "panel": self.panel.to_dict(),
                "production": None if self.production is None else self.production.to_dict(),
                "fingerprint": {"before": self.fingerprint_before,
                                "after": self.fingerprint_after,
                                "changed": bool(self.fingerprint_changed),
                                "fields": list(self.fingerprint_changed)},
                "silent_change": self.silent_change}


def _pairs(before: Mapping[str, float | None],
           after: Mapping[str, float | None]) -> tuple[np.ndarray, np.ndarray]:
    common = [i for i, b in before.items() if b is not None and after.get(i) is not None
              and math.isfinite(b) and math.isfinite(float(after[i]))]  # type: ignore[arg-type]
    return (np.array([before[i] for i in common], dtype=float),
            np.array([after[i] for i in common], dtype=float))


def panel_shift(before: Mapping[str, float | None], after: Mapping[str, float | None], *,
                tolerance: float = TOLERANCE, min_move: float = 0.0,
                n_resamples: int = 2000, seed: int = 0) -> PanelShift:
    r"""Compare two runs of an anchor panel on the items scored in both.

    With :math:`d_i = a_i - b_i` over the :math:`n` items scored in both runs, an item
    *moved* when :math:`|d_i| > m` (``min_move``). The moved share
    :math:`\hat p = k / n` has the Wilson score interval

    .. math:: \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n}
              + \frac{z^2}{4n^2}}}{1 + z^2/n}

    and the mean shift :math:`\bar d` a percentile CI from ``n_resamples`` paired bootstrap
    resamples of the items (each resample keeps an item's two scores together). The
    panel *changed* when the lower bound of the moved share's CI exceeds ``tolerance``:
    with 95% confidence more than that share of the items moved. It is the bias probes'
    placebo rule (issue 17 part 3; the same default tolerance 0.05) with the reference run
    in the placebo's place, stated on the CI's lower bound (the probes ask for the point
    excess to reach the tolerance and its lower bound to exceed 0): an alert is paged to
    people, so a handful of moves on a small panel must not raise one.

    Parameters
    ----------
    before, after : mapping of str to float or None
        Item id to score (samples combined) of the reference run and of the current run;
        None or NaN for an item without a valid judgment.
    tolerance : float
        The share of moved items tolerated (default 0.05), in ``[0, 1)``.
    min_move : float
        A score moved when it changed by more than this (default 0: any change).
    n_resamples : int
        Bootstrap resamples for the mean shift's CI.
    seed : int
        The bootstrap's seed (the result is deterministic).

    Returns
    -------
    PanelShift

    Raises
    ------
    ValueError
        No item is scored in both runs, or a tolerance out of range.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. *JASA* 22(158), 209-212. Efron, B. & Tibshirani, R. (1993). *An
    Introduction to the Bootstrap*, ch. 13 (percentile intervals).

    Examples
    --------
    >>> s = panel_shift({"a": 3, "b": 4, "c": 2}, {"a": 3, "b": 4, "c": 2})
    >>> s.n_moved, s.mean_shift, s.changed
    (0, 0.0, False)
    """
    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"tolerance must lie in [0, 1), got {tolerance}")
    if not min_move >= 0.0:
        raise ValueError(f"min_move must be >= 0, got {min_move}")
    b, a = _pairs(before, after)
    n = int(b.size)
    if n == 0:
        raise ValueError("the two panel runs have no item scored in both")
    d = a - b
    k = int(np.sum(np.abs(d) > min_move + 1e-9))
    share = naive_pass_rate(k, n)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    means = d[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    ci = share.ci if share.ci is not None else (0.0, 1.0)
    return PanelShift(n_items=n, n_moved=k, moved_share=k / n,
                      ci95=(float(ci[0]), float(ci[1])), mean_shift=float(d.mean()),
                      mean_ci95=(float(lo), float(hi)), tolerance=tolerance,
                      min_move=min_move, changed=bool(ci[0] > tolerance))


def production_shift(baseline: ArrayLike, current: ArrayLike, *,
                     tolerance: float = 0.0) -> ProductionShift:
    r"""The change of the mean production score between two windows, with Welch's CI.

    The windows hold different items, so the comparison is unpaired:
    :math:`\Delta = \bar y_c - \bar y_b` with the Welch (1947) interval
    :math:`\Delta \pm t_{0.975,\nu}\sqrt{s_b^2/n_b + s_c^2/n_c}`, :math:`\nu` by the
    Welch–Satterthwaite formula. The production *changed* when the interval lies wholly
    beyond :math:`\pm` ``tolerance`` (default 0: when it excludes 0).

    Parameters
    ----------
    baseline, current : array_like of float
        The judge's scores of the baseline and the current window (NaN: no valid score,
        left out).
    tolerance : float
        A shift tolerated, in scale points (>= 0).

    Returns
    -------
    ProductionShift

    Raises
    ------
    ValueError
        A window with no score, or a negative tolerance.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. *Biometrika* 34(1-2), 28-35.

    Examples
    --------
    >>> s = production_shift([3, 4, 3, 4], [4, 5, 4, 5])
    >>> s.mean_shift, s.changed
    (1.0, True)
    """
    if not tolerance >= 0.0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    yb = np.asarray(baseline, dtype=float)
    yc = np.asarray(current, dtype=float)
    yb, yc = yb[np.isfinite(yb)], yc[np.isfinite(yc)]
    if yb.size == 0 or yc.size == 0:
        raise ValueError("a production window has no valid score")
    shift = float(yc.mean() - yb.mean())
    if yb.size < 2 or yc.size < 2:
        ci = (math.nan, math.nan)
    else:
        vb, vc = yb.var(ddof=1) / yb.size, yc.var(ddof=1) / yc.size
        se = math.sqrt(vb + vc)
        if se == 0.0:
            ci = (shift, shift)
        else:
            nu = (vb + vc) ** 2 / (vb ** 2 / (yb.size - 1) + vc ** 2 / (yc.size - 1))
            half = float(stats.t.ppf(0.975, nu)) * se
            ci = (shift - half, shift + half)
    changed = bool(ci[0] > tolerance or ci[1] < -tolerance)  # NaN: never changed
    return ProductionShift(n_baseline=int(yb.size), n_current=int(yc.size),
                           mean_baseline=float(yb.mean()), mean_current=float(yc.mean()),
                           mean_shift=shift, ci95=ci, tolerance=tolerance, changed=changed)


def fingerprint_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The fields of two judge fingerprints that differ.

    Parameters
    ----------
    before, after : mapping
        Fingerprints with the keys of :data:`FINGERPRINT_FIELDS` (a missing key is None;
        ``reply_models`` compared as sets).

    Returns
    -------
    list of str
        In the order of :data:`FINGERPRINT_FIELDS`; empty when the judge is, by its
        fingerprint, the same.

    Examples
    --------
    >>> fingerprint_changes({"model": "m", "reply_models": ["m-1"]},
    ...                     {"model": "m", "reply_models": ["m-2"]})
    ['reply_models']
    """
    out = []
    for name in FINGERPRINT_FIELDS:
        b, a = before.get(name), after.get(name)
        if name == "reply_models":
            b, a = sorted(b or []), sorted(a or [])
        if b != a:
            out.append(name)
    return out


def attribute(panel: PanelShift, production: ProductionShift | None,
              fingerprint_before: Mapping[str, Any],
              fingerprint_after: Mapping[str, Any]) -> Attribution:
    """Attribute a change to the judge, the system, both, or neither.

    ========================  ======================  ==========
    panel                     production              verdict
    ========================  ======================  ==========
    changed                   changed                 ``both``
    changed                   stable or not compared  ``judge``
    stable                    changed                 ``system``
    stable                    stable or not compared  ``stable``
    ========================  ======================  ==========

    With ``both`` the judge changed and the system's change cannot be separated from it
    (the production shift is measured with the changed judge). ``silent_change`` is set
    when the panel changed while the fingerprint (the provider-reported model ids, the
    prompt's hash, the request parameters, the configured judge) did not: the provider
    changed the judge behind the same name.

    Parameters
    ----------
    panel : PanelShift
    production : ProductionShift or None
    fingerprint_before, fingerprint_after : mapping
        The judge fingerprints of the reference and the current panel run.

    Returns
    -------
    Attribution
    """
    changes = fingerprint_changes(fingerprint_before, fingerprint_after)
    prod_changed = production is not None and production.changed
    verdict: Verdict
    if panel.changed:
        verdict = "both" if prod_changed else "judge"
    else:
        verdict = "system" if prod_changed else "stable"
    silent = panel.changed and not changes
    moved = (f"{panel.n_moved} of {panel.n_items} panel items moved (share "
             f"{number_text(panel.moved_share, PANEL_DIGITS)}, 95% CI "
             f"{panel_ci_text(panel.ci95)}; tolerance "
             f"{exact_text(panel.tolerance)}), mean shift "
             f"{signed_text(panel.mean_shift, PANEL_DIGITS)}")
    prod = ("" if production is None else
            f"; production mean shift {signed_text(production.mean_shift, PANEL_DIGITS)}, "
            f"95% CI {panel_ci_text(production.ci95)}")
    what = {
        "judge": "the judge changed",
        "system": "the system changed: the panel held still while production moved",
        "both": "both: the judge changed; the system's change cannot be separated",
        "stable": "stable: neither the panel nor production moved beyond tolerance",
    }[verdict]
    if silent:
        what += " — silently: the provider changed the judge under the same fingerprint"
    elif panel.changed:
        what += f" (fingerprint changed: {', '.join(changes)})"
    return Attribution(verdict=verdict, panel=panel, production=production,
                       fingerprint_before=dict(fingerprint_before),
                       fingerprint_after=dict(fingerprint_after),
                       fingerprint_changed=changes, silent_change=silent,
                       reason=f"{what}. {moved}{prod}.")
