"""Gate bars: parsing ``METRIC=VALUE``, merging file and command-line bars, evaluating them."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness._numbers import parse_number
from harness.agreement import PAIRED_FIGURES, AgreementResult
from harness.experiments import GateSection
from harness.experiments._config import _bar_name
from harness.reports import (
    CLOSER_TO_ZERO_IS_BETTER,
    FIGURE_LABELS,
    LOWER_IS_BETTER,
    exact_text,
    p_text,
    percent,
    undefined_text,
)

BarKind = Literal["min", "max", "max_regression"]
On = Literal["point", "lower-bound"]
ON_CHOICES: tuple[str, ...] = ("point", "lower-bound")
Outcome = Literal["pass", "fail", "inconclusive"]
OUTCOMES: tuple[str, ...] = ("pass", "fail", "inconclusive")
SPLITS: tuple[str, ...] = ("calibration", "holdout", "all")

_ASSIGN = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*(\S+)\s*$")
_OPTION = {"min": "--min", "max": "--max", "max_regression": "--max-regression"}


#: Figures a gate can bar beyond the paired ones: the alt-test's winning rate (higher is
#: better). It has no CI: it is already the outcome of FDR-controlled tests at q = 0.05, so
#: a ``lower-bound`` gate checks its point value.
EXTRA_FIGURES: tuple[str, ...] = ("alt_test",)
#: Figures without a CI, checked on their point value under ``--on lower-bound`` too.
NO_CI_FIGURES = frozenset({"alt_test"})


class BarError(ValueError):
    """A bar that cannot be used: bad syntax, unknown metric, wrong direction."""


def direction(metric: str) -> Literal["higher", "lower", "closer_to_zero"]:
    """Which way a figure is better.

    Parameters
    ----------
    metric : str
        A figure key (``icc``, ``mae``, ...).

    Returns
    -------
    {"higher", "lower", "closer_to_zero"}

    Examples
    --------
    >>> direction("icc"), direction("mae"), direction("bias")
    ('higher', 'lower', 'closer_to_zero')
    """
    if metric in LOWER_IS_BETTER:
        return "lower"
    if metric in CLOSER_TO_ZERO_IS_BETTER:
        return "closer_to_zero"
    return "higher"


def metric_label(metric: str) -> str:
    """How a figure is named in bar names: its key, ``|bias|`` for bias.

    Examples
    --------
    >>> metric_label("icc"), metric_label("bias")
    ('icc', '|bias|')
    """
    return "|bias|" if metric in CLOSER_TO_ZERO_IS_BETTER else metric


@dataclass(frozen=True)
class Bar:
    """One bar: a figure and the value it must reach (``min``), stay under (``max``), or
    the most it may lose against the baseline version (``max_regression``).

    Attributes
    ----------
    kind : {"min", "max", "max_regression"}
    metric : str
        The figure key (see :data:`harness.agreement.PAIRED_FIGURES`).
    threshold : float
        The bar, or the allowed loss for ``max_regression``.
    """

    kind: BarKind
    metric: str
    threshold: float
    criterion: str | None = None

    @property
    def name(self) -> str:
        """A short name, e.g. ``icc >= 0.7`` or ``mae <= 0.9`` or ``icc regression <= 0.05``;
        on a scorecard question (or the total) the criterion comes first: ``tone.icc >= 0.6``.

        Examples
        --------
        >>> Bar("min", "icc", 0.7).name, Bar("max", "bias", 0.25).name
        ('icc >= 0.7', '|bias| <= 0.25')
        >>> Bar("max_regression", "spearman", 0.05).name
        'spearman regression <= 0.05'
        >>> Bar("min", "icc", 0.6, criterion="tone").name
        'tone.icc >= 0.6'
        """
        return self.label if self.criterion is None else f"{self.criterion}.{self.label}"

    @property
    def key(self) -> str:
        """The bar's figure as written in ``--min``: ``icc`` or ``tone.icc``."""
        return self.metric if self.criterion is None else f"{self.criterion}.{self.metric}"

    @property
    def label(self) -> str:
        """The name without the criterion (``icc >= 0.6``)."""
        label = metric_label(self.metric)
        if self.kind == "min":
            return f"{label} >= {self.threshold:g}"
        if self.kind == "max":
            return f"{label} <= {self.threshold:g}"
        return f"{label} regression <= {self.threshold:g}"


@dataclass
class GateSettings:
    """Everything that decides a gate: its bars and how they are checked.

    Attributes
    ----------
    bars : list of Bar
        In the order min, max, max_regression; one per (kind, metric).
    on : {"point", "lower-bound"}
        ``lower-bound``: the CI decides, with three outcomes — pass when its
        conservative end clears the bar (the lower end for ``min`` bars, the upper end for
        ``max`` bars), fail when its other end misses it too, inconclusive when it
        straddles the bar. ``point``: two outcomes, on the point estimate.
    max_invalid : float
        The largest share of invalid or failed judgments (above: exit 3).
    baseline : str, optional
        The version (``v1``) or alias the regression bars compare against.
    split : {"calibration", "holdout", "all"}
        The split judged.
    probes : bool
        Fail on a must-pass bias probe that failed (or was never run) for the version and
        judge gated (``judgecal probe``; :func:`harness.probes.probe_gate_reasons`).
    """

    bars: list[Bar] = field(default_factory=list)
    on: On = "lower-bound"
    max_invalid: float = 0.05
    baseline: str | None = None
    split: str = "holdout"
    probes: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"bars": [{"kind": b.kind, "metric": b.metric, "threshold": b.threshold,
                          "name": b.name,
                          **({"criterion": b.criterion} if b.criterion is not None else {})}
                         for b in self.bars],
                "on": self.on, "max_invalid": self.max_invalid, "baseline": self.baseline,
                "split": self.split, "probes": self.probes}


def parse_assignment(text: str, kind: BarKind) -> tuple[str, float]:
    """Parse ``METRIC=VALUE`` (as given to ``--min``, ``--max``, ``--max-regression``).

    On a scorecard the figure is qualified by the question (or ``total``):
    ``CRITERION.METRIC=VALUE``.

    Parameters
    ----------
    text : str
        E.g. ``"icc=0.7"`` or ``"tone.icc=0.6"``.
    kind : {"min", "max", "max_regression"}
        Which option it came from (for the messages).

    Returns
    -------
    tuple of (str, float)
        The figure key (``icc``, or ``tone.icc`` when qualified) and the value.

    Raises
    ------
    BarError
        Not of the form ``METRIC=VALUE``, an unknown metric or a value that is not a number.

    Examples
    --------
    >>> parse_assignment("ICC = 0.7", "min")
    ('icc', 0.7)
    >>> parse_assignment("rho=0.6", "min")
    ('spearman', 0.6)
    >>> parse_assignment("resolved.kappa=0.6", "min")
    ('resolved.weighted_kappa', 0.6)
    """
    option = _OPTION[kind]
    m = _ASSIGN.match(text)
    if not m:
        example = "mae=0.9" if kind == "max" else "icc=0.7"
        raise BarError(f"{option} expects METRIC=VALUE (e.g. {option} {example}), got {text!r}")
    name, raw = m.group(1), m.group(2)
    value = _number(raw, f"{option} {text}")
    return _metric(name, option), value


def split_name(key: str) -> tuple[str | None, str]:
    """``tone.icc`` -> ``("tone", "icc")``; ``icc`` -> ``(None, "icc")``.

    Examples
    --------
    >>> split_name("total.icc"), split_name("mae")
    (('total', 'icc'), (None, 'mae'))
    """
    if "." in key:
        criterion, metric = key.split(".", 1)
        return criterion, metric
    return None, key


def _number(raw: Any, where: str) -> float:
    try:  # a TOML number, or text from the command line (no 1_0, nan, inf)
        value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) \
            else parse_number(str(raw).strip())
    except (TypeError, ValueError):
        raise BarError(f"{where}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise BarError(f"{where}: {raw!r} is not a finite number")
    return value


def _metric(name: str, where: str) -> str:
    """The bar's key, ``metric`` or ``criterion.metric``, normalised."""
    try:
        key = _bar_name(str(name))
    except ValueError as exc:
        raise BarError(f"{where}: {exc}") from None
    metric = split_name(key)[1]
    if metric not in PAIRED_FIGURES and metric not in EXTRA_FIGURES:  # pragma: no cover
        raise BarError(f"{where}: {name!r} is not a judge-vs-human figure")
    return key


def _check_direction(bar: Bar, where: str) -> None:
    d = direction(bar.metric)
    if bar.kind == "min" and d != "higher":
        what = "lower is better" if d == "lower" else "closer to zero is better (|bias|)"
        raise BarError(
            f"{where}: {bar.metric} is a figure where {what}; a minimum makes no sense — "
            f"use --max {bar.key}=VALUE (or max = {{ {bar.key} = VALUE }} in [gate]); "
            "with --on lower-bound it is checked on the upper end of the 95% CI"
        )
    if bar.kind == "max" and d == "higher":
        raise BarError(
            f"{where}: {bar.metric} is a figure where higher is better; use --min "
            f"{bar.key}=VALUE (or min = {{ {bar.key} = VALUE }} in [gate])"
        )
    if bar.kind == "max_regression" and bar.metric in NO_CI_FIGURES:
        raise BarError(
            f"{where}: no regression bar on {bar.metric} (the alt-test's winning rate is not "
            "compared between versions); use --min alt_test=VALUE"
        )
    if bar.kind == "max_regression" and bar.threshold < 0:
        raise BarError(f"{where}: the allowed regression must be >= 0, got {bar.threshold:g}")


def _as_pairs(values: Mapping[str, float] | Iterable[str] | None, kind: BarKind
              ) -> list[tuple[str, float]]:
    if values is None:
        return []
    if isinstance(values, Mapping):
        option = _OPTION[kind]
        return [(_metric(k, f"{option} {k}"), _number(v, f"{option} {k}"))
                for k, v in values.items()]
    if isinstance(values, str):
        values = [values]
    return [parse_assignment(v, kind) for v in values]


def gate_settings(
    section: GateSection | None = None,
    *,
    min: Mapping[str, float] | Iterable[str] | None = None,  # noqa: A002 - the option name
    max: Mapping[str, float] | Iterable[str] | None = None,  # noqa: A002 - the option name
    max_regression: Mapping[str, float] | Iterable[str] | None = None,
    on: str | None = None,
    max_invalid: float | None = None,
    baseline: str | None = None,
    split: str | None = None,
    probes: bool | None = None,
    source: str = "[gate]",
) -> GateSettings:
    """The gate's settings: the experiment's ``[gate]`` table, with command-line bars added.

    A command-line bar for a (kind, metric) the file also sets replaces the file's; the
    others are added. ``on``, ``max_invalid``, ``baseline`` and ``split`` override the
    file's when given.

    Parameters
    ----------
    section : GateSection, optional
        The experiment's ``[gate]`` table (default: an empty one).
    min, max, max_regression : mapping or iterable of str, optional
        Bars as ``{"icc": 0.7}`` or as ``["icc=0.7"]``.
    on : {"point", "lower-bound"}, optional
        Default: the file's ``[gate] on`` (whose own default is ``GateSection.on``).
    max_invalid : float, optional
        A share in [0, 1].
    baseline : str, optional
        A version (``v1``) or an alias.
    split : {"calibration", "holdout", "all"}, optional
    probes : bool, optional
        Default: the file's ``[gate] probes``.
    source : str
        Names the file's table in messages.

    Returns
    -------
    GateSettings

    Raises
    ------
    BarError
        Bad syntax, unknown metric, a bar in the wrong direction (``min`` on MAE), a
        regression bar without a baseline, or an out-of-range option.

    Examples
    --------
    >>> s = gate_settings(GateSection(min={"icc": 0.7}), min=["icc=0.8", "rho=0.6"],
    ...                   max={"mae": 0.9})
    >>> [b.name for b in s.bars]
    ['icc >= 0.8', 'spearman >= 0.6', 'mae <= 0.9']
    """
    section = section or GateSection()
    merged: dict[tuple[BarKind, str], tuple[float, str]] = {}
    kinds: tuple[BarKind, ...] = ("min", "max", "max_regression")
    for kind in kinds:
        for key, value in getattr(section, kind).items():
            merged[(kind, _metric(key, f"{source} {kind}"))] = (float(value),
                                                                 f"{source} {kind}")
    cli = {"min": min, "max": max, "max_regression": max_regression}
    for kind in kinds:
        for key, value in _as_pairs(cli[kind], kind):
            merged[(kind, key)] = (value, f"{_OPTION[kind]} {key}")
    bars = []
    for (kind, key), (value, where) in sorted(merged.items(),
                                              key=lambda kv: kinds.index(kv[0][0])):
        criterion, metric = split_name(key)
        bar = Bar(kind, metric, value, criterion)
        _check_direction(bar, where)
        bars.append(bar)
    on = on if on is not None else section.on
    if on not in ON_CHOICES:
        raise BarError(f"--on must be one of {', '.join(ON_CHOICES)}, got {on!r}")
    share = section.max_invalid if max_invalid is None else _number(max_invalid,
                                                                     "--max-invalid")
    if not 0.0 <= share <= 1.0:
        raise BarError(f"--max-invalid must be a share between 0 and 1, got {share:g}")
    split = split or section.split
    if split not in SPLITS:
        raise BarError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    baseline = baseline or section.baseline
    if any(b.kind == "max_regression" for b in bars) and not baseline:
        raise BarError("a --max-regression bar needs a baseline: --baseline vM (or an alias), "
                       "or baseline = \"vM\" in [gate]")
    return GateSettings(bars=bars, on=on, max_invalid=share, baseline=baseline, split=split,
                        probes=section.probes if probes is None else probes)


# --------------------------------------------------------------------------- evaluation


@dataclass
class LossTest:
    """The paired test of a regression bar: is the candidate's loss against the baseline real?

    Attributes
    ----------
    loss : float
        The point loss (positive: the candidate is worse), on the items both versions scored.
    ci : tuple of float
        Its paired-bootstrap CI at the gate's confidence.
    p_value : float
        One-sided bootstrap p-value of H0 "no loss" (loss <= 0): the share of resampled
        losses at or below 0, ``(1 + #{loss* <= 0}) / (B + 1)``.
    se : float
        The bootstrap standard error of the loss.
    n_items : int
    alpha : float
        The family-wise level (``1 - confidence``: 0.05, or tightened by holdout looks).
    family : int
        How many regression bars are tested together (Holm's m).
    p_holm : float, optional
        ``p_value`` after Holm's adjustment across the family; set by :func:`holm_family`.
    upper : float
        The one-sided upper ``1 - alpha/family`` bound of the loss (percentile).
    detectable : float
        The smallest loss this test would detect with 80% power at one-sided level
        ``alpha / family`` (the first Holm step): ``(z[1 - alpha/m] + z[0.8]) * se``.
    """

    loss: float
    ci: tuple[float, float]
    p_value: float
    se: float
    n_items: int
    alpha: float
    family: int
    upper: float
    detectable: float
    p_holm: float | None = None

    @property
    def significant(self) -> bool:
        """The loss is significantly above 0 after Holm's adjustment."""
        p = self.p_value if self.p_holm is None else self.p_holm
        return p <= self.alpha

    def anchors_to_detect(self, drop: float) -> int | None:
        """About how many more anchors would make ``drop`` detectable (80% power).

        The standard error shrinks as 1/√n, so the detectable loss reaches ``drop`` at
        ``n' = n (detectable / drop)²``; None when ``drop`` is not positive or n' is beyond
        the planner's cap.
        """
        from harness.plan import CAP

        if drop <= 0 or self.n_items <= 0:
            return None
        needed = math.ceil(self.n_items * (self.detectable / drop) ** 2 - 1e-9)
        if needed > CAP:
            return None
        return max(0, needed - self.n_items)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"loss": self.loss, "ci": list(self.ci), "p_value": self.p_value,
                "p_holm": self.p_holm, "alpha": self.alpha, "family": self.family,
                "significant": self.significant, "se": self.se, "upper": self.upper,
                "smallest_detectable": self.detectable, "n_items": self.n_items}


def holm_family(tests: Iterable[LossTest | None]) -> None:
    """Adjust the regression bars' p-values together (Holm), in place.

    Parameters
    ----------
    tests : iterable of LossTest or None
        One per regression bar of a gate; None (not testable) is skipped.
    """
    from harness.agreement import holm

    family = [t for t in tests if t is not None]
    for t, p in zip(family, holm([t.p_value for t in family]), strict=True):
        t.p_holm = float(p)


@dataclass
class BarResult:
    """The verdict on one bar.

    Attributes
    ----------
    bar : Bar
    on : {"point", "lower-bound"}
        How it was checked.
    value : float or None
        The judge's figure (for a regression bar: on the items both versions scored).
    ci95 : tuple of float, optional
        Its 95% CI.
    checked : float or None
        What was compared with the threshold: the point, the conservative CI end (``|bias|``
        for bias), or the point loss against the baseline (positive: worse).
    passed : bool
    message : str
        One line saying why it passed or failed.
    baseline : str, optional
        The baseline version's label.
    baseline_value : float, optional
        The baseline version's figure (regression bars: on the shared items).
    ceiling : dict, optional
        The human ceiling of the figure: ``median``, ``min``, ``max``.
    ceiling_method : str, optional
    position : str, optional
        below / within / above the human range.
    checked_ci95 : tuple of float, optional
        Regression bars: the paired-bootstrap 95% CI of the loss.
    confidence : float
        The level of ``ci95`` and ``checked_ci95`` (0.95, or tightened by holdout looks).
    outcome : {"pass", "fail", "inconclusive"}
        ``inconclusive``: the CI straddles the bar, or the figure (or its CI) is undefined.
        Defaults to ``pass`` or ``fail`` from ``passed``.
    more_anchors_to_decide : int, optional
        For an inconclusive bar: about how many more anchors, at the current number of
        raters, would likely decide it (None: not computed, or more than the planner's cap).
    planned : bool
        The planner ran (so a None ``more_anchors_to_decide`` means "beyond the cap").
    test : LossTest, optional
        Regression bars under ``lower-bound``: the paired significance test of the loss.
    """

    bar: Bar
    on: str
    value: float | None
    ci95: tuple[float, float] | None
    checked: float | None
    passed: bool
    message: str
    baseline: str | None = None
    baseline_value: float | None = None
    ceiling: dict[str, Any] | None = None
    ceiling_method: str | None = None
    position: str | None = None
    checked_ci95: tuple[float, float] | None = None
    confidence: float = 0.95
    outcome: str | None = None
    more_anchors_to_decide: int | None = None
    planned: bool = False
    test: LossTest | None = None

    def __post_init__(self) -> None:
        if self.outcome is None:
            self.outcome = "pass" if self.passed else "fail"
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")
        self.passed = self.outcome == "pass"

    @property
    def inconclusive(self) -> bool:
        """The CI straddles the bar (or the figure is undefined): more anchors may decide."""
        return self.outcome == "inconclusive"

    def decide_text(self) -> str | None:
        """``about 40 more anchors would decide ICC(2,1) >= 0.7`` for an inconclusive bar."""
        if not self.inconclusive or not self.planned:
            return None
        label = FIGURE_LABELS.get(self.bar.metric, self.bar.metric)
        if self.bar.kind == "max_regression":
            what = f"the {label} regression <= {self.bar.threshold:g} vs {self.baseline}"
        elif self.bar.kind == "min":
            what = f"{label} >= {self.bar.threshold:g}"
        else:
            shown = f"|{label}|" if self.bar.metric in CLOSER_TO_ZERO_IS_BETTER else label
            what = f"{shown} <= {self.bar.threshold:g}"
        if self.more_anchors_to_decide is None:
            from harness.plan import CAP

            return (f"more than {CAP:,} anchors in all would be needed to decide {what} "
                    "(the figure sits on the bar)")
        n = self.more_anchors_to_decide
        return f"about {n} more anchor{'s' if n != 1 else ''} would decide {what}"

    @property
    def name(self) -> str:
        """The bar's name, with how it was checked, e.g. ``icc >= 0.7 (lower 95% bound)``."""
        pct = percent(self.confidence)
        if self.bar.kind == "max_regression":
            how = "" if self.on == "point" else " (paired test)"
            return f"{self.bar.name} vs {self.baseline}{how}"
        how = "point" if self.on == "point" else (
            f"lower {pct} bound" if self.bar.kind == "min" else f"upper {pct} bound")
        return f"{self.bar.name} ({how})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "name": self.name, "kind": self.bar.kind, "metric": self.bar.metric,
            "threshold": self.bar.threshold, "on": self.on, "value": self.value,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "checked": self.checked,
            "checked_ci95": list(self.checked_ci95) if self.checked_ci95 is not None else None,
            "passed": self.passed, "message": self.message,
            "baseline": self.baseline, "baseline_value": self.baseline_value,
            "ceiling": self.ceiling, "ceiling_method": self.ceiling_method,
            "position": self.position, "confidence": self.confidence,
            "outcome": self.outcome,
            **({"test": self.test.to_dict()} if self.test is not None else {}),
            **({"more_anchors_to_decide": self.more_anchors_to_decide,
                "to_decide": self.decide_text()} if self.inconclusive else {}),
        }


#: A figure compared with a bar, in messages: three decimals, trailing zeros dropped.
_fmt = exact_text


def evaluate_bar(
    bar: Bar,
    figure: AgreementResult,
    on: str,
    *,
    ceiling: dict[str, Any] | None = None,
    ceiling_method: str | None = None,
    position: str | None = None,
    baseline: str | None = None,
    baseline_figure: AgreementResult | None = None,
    confidence: float = 0.95,
) -> BarResult:
    """Check a ``min`` or ``max`` bar against the judge's figure.

    Parameters
    ----------
    bar : Bar
        A ``min`` or ``max`` bar.
    figure : AgreementResult
        The judge's figure, with its 95% CI.
    on : {"point", "lower-bound"}
        ``lower-bound``: the lower CI end for ``min`` bars, the upper end for ``max`` bars
        (for bias: the largest ``|bias|`` of the two ends). Figures without a CI
        (:data:`NO_CI_FIGURES`: the alt-test's winning rate, itself the outcome of tests
        with FDR control) are checked on their point value either way.
    ceiling, ceiling_method, position
        The human ceiling of the figure, shown beside it.
    baseline : str, optional
        The baseline version's label, shown beside it.
    baseline_figure : AgreementResult, optional
        The baseline version's figure.

    Returns
    -------
    BarResult
        Under ``point``: pass or fail on the point (an undefined figure fails). Under
        ``lower-bound``: pass when the conservative CI end clears the bar, fail when the
        other end misses it too, inconclusive when the CI straddles it or the figure (or
        its CI) is undefined.

    Examples
    --------
    >>> from harness.agreement import AgreementResult
    >>> f = AgreementResult("icc", 0.75, ci95=(0.62, 0.85))
    >>> evaluate_bar(Bar("min", "icc", 0.7), f, "point").outcome
    'pass'
    >>> r = evaluate_bar(Bar("min", "icc", 0.7), f, "lower-bound")
    >>> r.outcome, r.passed, r.checked
    ('inconclusive', False, 0.62)
    >>> evaluate_bar(Bar("min", "icc", 0.9), f, "lower-bound").outcome
    'fail'
    """
    label = FIGURE_LABELS.get(bar.metric, bar.metric)
    base_value = baseline_figure.value if baseline_figure is not None else None
    common = {"baseline": baseline, "baseline_value": base_value, "ceiling": ceiling,
              "ceiling_method": ceiling_method, "position": position,
              "confidence": confidence}
    value, ci = figure.value, figure.ci95
    ci = (float(ci[0]), float(ci[1])) if ci is not None else None
    if value is None:
        if on == "point":
            return BarResult(bar, on, None, ci, None, False,
                             f"{label} is {undefined_text(figure.reason)}: the bar cannot be met",
                             **common)
        return BarResult(bar, on, None, ci, None, False,
                         f"{label} is {undefined_text(figure.reason)}: the bar cannot be decided",
                         outcome="inconclusive", **common)
    abs_bias = bar.metric in CLOSER_TO_ZERO_IS_BETTER
    if bar.metric in NO_CI_FIGURES:
        checked = value
        what = f"{label} {_fmt(value)}" + ("" if on == "point" else
                                           " (no CI: FDR-controlled tests, point checked)")
    elif on == "point":
        checked = abs(value) if abs_bias else value
        what = f"{label} {_fmt(value)}"
    else:
        if ci is None:
            why = (figure.details.get("bootstrap", {}) or {}).get("reason") or "not computed"
            return BarResult(bar, on, value, None, None, False,
                             f"{label} {_fmt(value)} has no {percent(confidence)} CI ({why}); "
                             "the bar cannot be decided on the CI", outcome="inconclusive",
                             **common)
        if bar.kind == "min":
            checked, other, end = ci[0], ci[1], "lower"
        elif abs_bias:
            checked = max(abs(ci[0]), abs(ci[1]))
            other = 0.0 if ci[0] <= 0.0 <= ci[1] else min(abs(ci[0]), abs(ci[1]))
            end = "largest |bias| in the"
        else:
            checked, other, end = ci[1], ci[0], "upper"
        pct = percent(confidence)
        what = f"{label}: {end} {pct} bound {_fmt(checked)} (point {_fmt(value)})"
        # three outcomes: the conservative end clears the bar, or even the other end
        # misses it, or the CI straddles it
        clears = checked >= bar.threshold if bar.kind == "min" else checked <= bar.threshold
        misses = other < bar.threshold if bar.kind == "min" else other > bar.threshold
        if not clears and not misses:
            shown = f"|{label}|" if abs_bias else label
            lo, hi = (other, checked) if bar.kind != "min" else (checked, other)
            return BarResult(bar, on, value, ci, checked, False,
                             f"{shown} {pct} CI [{_fmt(lo)}, {_fmt(hi)}] (point {_fmt(value)})"
                             f" straddles the bar {bar.threshold:g}: inconclusive",
                             outcome="inconclusive", **common)
        if misses:
            verb = "is below" if bar.kind == "min" else "is above"
            end_other = "upper" if bar.kind == "min" else (
                "smallest |bias| in the" if abs_bias else "lower")
            return BarResult(bar, on, value, ci, checked, False,
                             f"{label}: even the {end_other} {pct} bound {_fmt(other)} (point "
                             f"{_fmt(value)}) {verb} the bar {bar.threshold:g}", **common)
    if bar.kind == "min":
        passed = checked >= bar.threshold
        verb = "reaches" if passed else "is below"
    else:
        passed = checked <= bar.threshold
        verb = "is within" if passed else "is above"
    if abs_bias and on == "point":
        what = f"|bias| {_fmt(checked)} ({label} {_fmt(value)})"
    return BarResult(bar, on, value, ci, checked, passed,
                     f"{what} {verb} the bar {bar.threshold:g}", **common)


def evaluate_regression(
    bar: Bar,
    candidate: AgreementResult,
    baseline_figure: AgreementResult,
    *,
    baseline: str,
    n_items: int,
    on: str = "point",
    test: LossTest | None = None,
    ceiling: dict[str, Any] | None = None,
    ceiling_method: str | None = None,
    confidence: float = 0.95,
) -> BarResult:
    """Check a ``max_regression`` bar: the candidate may lose at most ``threshold``.

    The loss is ``baseline - candidate`` for higher-is-better figures, ``candidate -
    baseline`` for MAE and ``|candidate| - |baseline|`` for bias (positive: worse); both
    figures are computed on the same items (those both versions scored).

    Parameters
    ----------
    bar : Bar
        A ``max_regression`` bar.
    candidate, baseline_figure : AgreementResult
        The two versions' figures on the shared items.
    baseline : str
        The baseline version's label.
    n_items : int
        How many items both versions scored.
    on : {"point", "lower-bound"}
        ``point``: fail when the point loss exceeds the allowed loss. ``lower-bound`` (the
        default of the gate): a regression must be real to fail, and a pass must be
        within the test's power (``test``):

        * **fail** when the loss exceeds the allowed loss *and* is significant (one-sided
          paired bootstrap, Holm-adjusted across the gate's regression bars, at
          ``1 - confidence``);
        * **pass** when the loss is within the allowed loss and either a loss of that
          size would be detected here (the smallest detectable loss is at most the
          allowed one) or the loss's one-sided upper bound is within it;
        * **inconclusive** otherwise ("underpowered: the smallest loss detectable here is
          X"), or when the loss cannot be tested.
    test : LossTest, optional
        The paired test of the loss (:func:`harness.gate.loss_test`), Holm-adjusted.
    ceiling, ceiling_method
        The human ceiling of the figure, shown beside it.

    Returns
    -------
    BarResult

    Examples
    --------
    >>> from harness.agreement import AgreementResult
    >>> bar = Bar("max_regression", "icc", 0.05)
    >>> r = evaluate_regression(bar, AgreementResult("icc", 0.70),
    ...                         AgreementResult("icc", 0.80), baseline="v1", n_items=30)
    >>> r.passed, round(r.checked, 2)
    (False, 0.1)
    """
    label = FIGURE_LABELS.get(bar.metric, bar.metric)
    common = {"baseline": baseline, "baseline_value": baseline_figure.value,
              "ceiling": ceiling, "ceiling_method": ceiling_method,
              "checked_ci95": test.ci if test is not None else None,
              "confidence": confidence, "test": test}
    cand, base = candidate.value, baseline_figure.value
    if cand is None or base is None:
        which = "the candidate's" if cand is None else f"{baseline}'s"
        reason = candidate.reason if cand is None else baseline_figure.reason
        return BarResult(bar, on, cand, None, None, False,
                         f"{which} {label} is {undefined_text(reason)}: no comparison",
                         outcome="fail" if on == "point" else "inconclusive", **common)
    d = direction(bar.metric)
    if d == "higher":
        loss = base - cand
    elif d == "lower":
        loss = cand - base
    else:
        loss = abs(cand) - abs(base)
    change = f"{label} {_fmt(base)} ({baseline}) -> {_fmt(cand)} on {n_items} shared items"
    allowed = bar.threshold + 1e-12
    if on == "point":
        what = f"worse by {_fmt(loss)}" if loss > 0 else "no regression"
        passed = loss <= allowed
        if loss > 0:
            what += (", within" if passed else ", more than") + f" the allowed {bar.threshold:g}"
        return BarResult(bar, on, cand, None, loss, passed, f"{change}: {what}", **common)
    if test is None:
        return BarResult(bar, on, cand, None, loss, False,
                         f"{change}: the loss cannot be tested (too few shared items, or no "
                         "resamples); it cannot be decided", outcome="inconclusive", **common)
    p = test.p_value if test.p_holm is None else test.p_holm
    p_text = (f"one-sided p = {_p(test.p_value)}"
              + (f", Holm-adjusted over {test.family} bars {_p(p)}" if test.family > 1 else ""))
    power = (f"the smallest loss detectable here is {_fmt(test.detectable)} "
             f"(80% power, n = {test.n_items})")
    if loss > allowed:
        if test.significant:
            return BarResult(bar, on, cand, None, loss, False,
                             f"{change}: worse by {_fmt(loss)}, more than the allowed "
                             f"{bar.threshold:g}, and significant ({p_text})", **common)
        result = BarResult(bar, on, cand, None, loss, False,
                           f"{change}: worse by {_fmt(loss)}, more than the allowed "
                           f"{bar.threshold:g} but not significant ({p_text}); underpowered: "
                           f"{power}", outcome="inconclusive", **common)
        result.more_anchors_to_decide = test.anchors_to_detect(loss)
        result.planned = True
        return result
    what = "no regression" if loss <= 0 else f"worse by {_fmt(loss)}"
    if test.detectable <= allowed:
        return BarResult(bar, on, cand, None, loss, True,
                         f"{change}: {what}, within the allowed {bar.threshold:g}; a loss of "
                         f"{bar.threshold:g} would be detected here ({power})", **common)
    if test.upper <= allowed:
        return BarResult(bar, on, cand, None, loss, True,
                         f"{change}: {what}; the loss's upper bound {_fmt(test.upper)} is "
                         f"within the allowed {bar.threshold:g}", **common)
    result = BarResult(bar, on, cand, None, loss, False,
                       f"{change}: {what}, but underpowered: {power}, more than the allowed "
                       f"{bar.threshold:g}", outcome="inconclusive", **common)
    result.more_anchors_to_decide = test.anchors_to_detect(bar.threshold)
    result.planned = True
    return result


_p = p_text


def ceiling_of(judge_section: Mapping[str, Any], metric: str
               ) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """The human ceiling, its method and the judge's position for one figure of a report.

    Parameters
    ----------
    judge_section : mapping
        ``AgreementReport.judge``.
    metric : str

    Returns
    -------
    tuple
        ``(ceiling, method, position)``; the ceiling None when it could not be computed.
    """
    band = dict(judge_section["ceiling"].get(metric) or {})
    ceiling = band if band.get("median") is not None else None
    return ceiling, judge_section.get("ceiling_method"), judge_section["position"].get(metric)
