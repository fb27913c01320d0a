"""One way to say a figure: every output (console, ``--json`` text, Markdown, HTML, JUnit, the
GitHub step summary, the session pages and log) writes its numbers, CIs, positions and
verdicts through these functions, so the same figure reads the same everywhere. The module
sits at the package's root and imports only the standard library because every layer says
numbers (the anchors' lint, the judges' progress line, the reports, the gate, the sessions);
``harness.reports`` re-exports it.

The rules, decided once:

* **A figure** (an agreement figure, a human ceiling, a baseline, a table cell): two
  decimals, fixed — ``0.61``, ``-0.04``, ``1.00`` (:func:`number_text`). A value that rounds to
  zero is ``0.00``, never ``-0.00``.
* **A figure with its CI**: ``0.61 [0.47, 0.72]``, the interval in square brackets after the
  value, both ends with the figure's digits (:func:`figure_text`, :func:`interval_text`,
  :func:`result_text`). The confidence level is said once, in the column or the sentence
  (``value [95% CI]``), not in each cell.
* **A number compared with a bar** (the gate's checked value and its messages, a session's
  targets): up to three decimals, trailing zeros dropped — ``0.655``, ``0.7``, ``0``
  (:func:`exact_text`), so that a bound is not rounded onto the bar it missed. Signed
  differences (a gap, a loss, a gain) carry their sign: ``+0.05``, ``-0.12``
  (:func:`signed_text`; ``exact_text(x, sign=True)`` beside a bar).
* **Nothing to say**: ``—`` when there is no value (:data:`MISSING`); ``undefined (reason)``
  when a figure could not be computed (:func:`undefined_text`); ``n/a`` when a figure does not
  apply (:data:`NOT_APPLICABLE`, e.g. the alt-test with too few raters per item); ``N/A``
  for a rater's "not applicable" rating (:data:`NA_RATING`).
* **Position against the humans**: ``below``, ``within``, ``above``, ``undecided (CI
  overlaps)`` and ``— (gold unreliable)`` (:func:`position_text`).
* **Verdicts**: ``PASS``, ``FAIL``, ``INCONCLUSIVE`` (and ``ERROR`` for a gate that could
  not decide) (:func:`verdict_word`).
* **p-values**: ``< 0.001`` or three decimals (:func:`p_text`); **shares**: ``12%``
  (:func:`share_text`); **scores** (a rating on the scale): ``7``, ``3.5``
  (:func:`score_text`), a scale or a range of scores ``1–5`` (:func:`scale_text`);
  **confidence levels**: ``95%``, ``97.5%`` (:func:`percent`).
* **Costs** (US dollars): four decimals, ``$0.0123``, ``$1,204.5000``, since one call costs a
  fraction of a cent; a cost that is not zero but rounds to it is ``< $0.0001`` (not ``$0.0000``,
  which says free); a cost that could not be priced is ``unknown`` (:func:`cost_text`).
* **A judge's confidence** and a threshold on it (``selective``): four significant digits,
  ``0.8397``, ``0.9996``, ``1``, since confidences crowd near 1; a confidence said beside the
  threshold it fell below gets the digits that tell them apart (:func:`confidence_text`).

This module imports nothing but the standard library (no numpy, pandas, scipy, matplotlib
or MLflow), so the gate, the sessions and the command line can use it cheaply. It knows
figures only by their attributes (``value``, ``ci95``, ``reason``, ``defined``), not by
their classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: No value to show.
MISSING = "—"

#: A figure that does not apply here.
NOT_APPLICABLE = "n/a"

#: A rating of "not applicable" (``"NA"`` in an anchor file), as the pages and logs show it.
NA_RATING = "N/A"

#: Decimals of a figure (table cells, figures with their CI).
FIGURE_DIGITS = 2

#: Most decimals of a number compared with a bar (trailing zeros dropped).
EXACT_DIGITS = 3

#: A cost that could not be priced (a model with no known price), as :func:`cost_text` says it.
UNKNOWN_COST = "unknown"

#: What each position of a judge's figure against the human range reads as.
POSITIONS: dict[str, str] = {
    "below": "below",
    "within": "within",
    "above": "above",
    "overlaps": "undecided (CI overlaps)",
    "unreliable": f"{MISSING} (gold unreliable)",
}

#: The verdict words of a bar, a gate or a check.
VERDICTS: dict[str, str] = {
    "pass": "PASS",
    "fail": "FAIL",
    "inconclusive": "INCONCLUSIVE",
    "error": "ERROR",
}


def _finite(x: Any) -> bool:
    return x is not None and not isinstance(x, bool) and math.isfinite(float(x))


def number_text(x: float | None, digits: int = FIGURE_DIGITS) -> str:
    """A figure with fixed decimals; :data:`MISSING` for None (or a non-finite value).

    Parameters
    ----------
    x : float or None
    digits : int
        Decimals (2 for figures; 0 for a whole score, e.g. a range of ratings).

    Returns
    -------
    str

    Examples
    --------
    >>> number_text(0.614), number_text(-0.001), number_text(None), number_text(3.0, 0)
    ('0.61', '0.00', '—', '3')
    """
    if not _finite(x):
        return MISSING
    text = f"{float(x):.{digits}f}"  # type: ignore[arg-type]
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def exact_text(x: float | None, *, sign: bool = False) -> str:
    """A number compared with a bar: three decimals at most, trailing zeros dropped.

    Parameters
    ----------
    x : float or None
    sign : bool
        Write ``+`` before a positive number (a difference, a loss, a gain).

    Returns
    -------
    str

    Examples
    --------
    >>> exact_text(0.6549), exact_text(0.7), exact_text(-0.0001), exact_text(None)
    ('0.655', '0.7', '0', '—')
    >>> exact_text(0.05, sign=True), exact_text(-0.05, sign=True)
    ('+0.05', '-0.05')
    """
    if not _finite(x):
        return MISSING
    text = f"{float(x):.{EXACT_DIGITS}f}".rstrip("0").rstrip(".")  # type: ignore[arg-type]
    if text in ("-0", "", "-"):
        text = "0"
    return f"+{text}" if sign and not text.startswith("-") and text != "0" else text


def confidence_text(x: float | None, *, beside: float | None = None) -> str:
    """A judge's confidence, or a threshold on it: four significant digits.

    Parameters
    ----------
    x : float or None
    beside : float, optional
        A different number said in the same sentence (the threshold a confidence fell
        below): digits are added until the two read differently.

    Returns
    -------
    str

    Examples
    --------
    >>> confidence_text(0.83972), confidence_text(0.99961), confidence_text(1.0)
    ('0.8397', '0.9996', '1')
    >>> confidence_text(0.99985, beside=0.99991), confidence_text(0.99991)
    ('0.99985', '0.9999')
    """
    if not _finite(x):
        return MISSING
    value = float(x)  # type: ignore[arg-type]
    digits = 4
    text = f"{value:.{digits}g}"
    if _finite(beside) and float(beside) != value:  # type: ignore[arg-type]
        while digits < 17 and text == f"{float(beside):.{digits}g}":  # type: ignore[arg-type]
            digits += 1
            text = f"{value:.{digits}g}"
    return text


def signed_text(x: float | None, digits: int = FIGURE_DIGITS) -> str:
    """A difference with its sign and fixed decimals: ``+0.05``, ``-0.12``, ``0.00``.

    Examples
    --------
    >>> signed_text(0.05), signed_text(-0.123), signed_text(-0.001), signed_text(None)
    ('+0.05', '-0.12', '0.00', '—')
    """
    text = number_text(x, digits)
    if text == MISSING or text.startswith("-") or not text.strip("0."):
        return text
    return f"+{text}"


def interval_text(ci: Sequence[float] | None, digits: int = FIGURE_DIGITS) -> str:
    """A CI as ``[0.47, 0.72]``; the empty string when there is none.

    Examples
    --------
    >>> interval_text((0.471, 0.7249)), interval_text(None)
    ('[0.47, 0.72]', '')
    """
    if ci is None:
        return ""
    lo, hi = ci
    return f"[{number_text(lo, digits)}, {number_text(hi, digits)}]"


def undefined_text(reason: str | None = None) -> str:
    """``undefined (reason)``, or ``undefined`` without a reason.

    Examples
    --------
    >>> undefined_text("no variance"), undefined_text()
    ('undefined (no variance)', 'undefined')
    """
    return f"undefined ({reason})" if reason else "undefined"


def figure_text(value: float | None, ci: Sequence[float] | None = None, *,
           reason: str | None = None, digits: int = FIGURE_DIGITS) -> str:
    """A figure and its CI: ``0.61 [0.47, 0.72]``.

    Parameters
    ----------
    value : float or None
    ci : (lo, hi), optional
    reason : str, optional
        Why the figure is undefined. With ``value`` None: ``undefined (reason)``;
        without a reason, :data:`MISSING`.
    digits : int

    Returns
    -------
    str

    Examples
    --------
    >>> figure_text(0.614, (0.471, 0.72)), figure_text(0.61), figure_text(None, reason="one item")
    ('0.61 [0.47, 0.72]', '0.61', 'undefined (one item)')
    """
    if not _finite(value):
        return undefined_text(reason) if reason is not None else MISSING
    text = number_text(value, digits)
    return f"{text} {interval_text(ci, digits)}" if ci is not None else text


def result_text(res: Any, *, digits: int = FIGURE_DIGITS, reason: bool = True) -> str:
    """An agreement figure (an ``AgreementResult``, or its JSON dictionary) with its CI.

    Parameters
    ----------
    res : AgreementResult, dict or None
        Read by its ``value``, ``ci95`` and ``reason`` (attributes or keys).
    digits : int
    reason : bool
        Say why an undefined figure is undefined (``undefined (reason)``); False gives
        ``undefined`` alone (a narrow table cell; the reason is in the JSON).

    Returns
    -------
    str
        ``0.61 [0.47, 0.72]``; ``0.61 [no CI: undefined on some resamples]`` when the
        bootstrap failed; ``undefined (reason)``; :data:`MISSING` for None.

    Examples
    --------
    >>> result_text({"value": 0.5, "ci95": [0.2, 0.7]})
    '0.50 [0.20, 0.70]'
    >>> result_text({"value": None, "reason": "constant ratings"})
    'undefined (constant ratings)'
    """
    if res is None:
        return MISSING
    get = res.get if isinstance(res, Mapping) else (lambda k, d=None: getattr(res, k, d))
    value = get("value")
    if not _finite(value):
        why = get("reason") or "no reason given"
        return undefined_text(why if reason else None)
    ci = get("ci95")
    text = figure_text(value, ci, digits=digits)
    details = get("details") or {}
    if ci is None and isinstance(details, Mapping) and (details.get("bootstrap") or {}).get(
            "reason"):
        text += " [no CI: undefined on some resamples]"
    return text


def band_text(band: Mapping[str, Any] | None, digits: int = FIGURE_DIGITS) -> str:
    """A human ceiling: ``0.62 (0.40–0.74)``, its median and its range or 95% band
    (``|bias| 0.10 (0.02–0.30)`` for bias); :data:`MISSING` without one.

    Examples
    --------
    >>> band_text({"median": 0.62, "min": 0.4, "max": 0.741}), band_text({})
    ('0.62 (0.40–0.74)', '—')
    """
    if not band or band.get("median") is None:
        return MISSING
    of = "|bias| " if band.get("of") == "|bias|" else ""
    return (f"{of}{number_text(band['median'], digits)} "
            f"({number_text(band.get('min'), digits)}–{number_text(band.get('max'), digits)})")


def range_text(lo: float | None, hi: float | None, digits: int = FIGURE_DIGITS) -> str:
    """A range of figures: ``0.40–0.78``.

    Examples
    --------
    >>> range_text(0.4, 0.78)
    '0.40–0.78'
    """
    return f"{number_text(lo, digits)}–{number_text(hi, digits)}"


def position_text(pos: str | None) -> str:
    """A judge's figure against the human range, as the tables say it.

    Examples
    --------
    >>> position_text("overlaps"), position_text("below"), position_text(None)
    ('undecided (CI overlaps)', 'below', '—')
    """
    return POSITIONS.get(pos or "", pos or MISSING)


def verdict_word(outcome: str | None) -> str:
    """``PASS``, ``FAIL``, ``INCONCLUSIVE`` or ``ERROR`` for an outcome.

    Examples
    --------
    >>> verdict_word("pass"), verdict_word("inconclusive"), verdict_word(None)
    ('PASS', 'INCONCLUSIVE', '—')
    """
    if not outcome:
        return MISSING
    return VERDICTS.get(outcome, outcome.upper())


def verdict_line(outcome: str, n_bars: int, *, n_failed: int = 0, n_undecided: int = 0,
                 where: str = "", detail: str = "", gold_unreliable: bool = False) -> str:
    """A gate's one-line verdict: ``PASS: all 2 bar(s) met``, ``FAIL: 1 of 2 bar(s) not
    met``, ``INCONCLUSIVE (exit 4): …``, ``JUDGE FAILURE: …``.

    Parameters
    ----------
    outcome : {"pass", "fail", "inconclusive", "error"}
        ``error``: too many invalid or failed judgments (exit 3).
    n_bars, n_failed, n_undecided : int
        The bars checked, failed and inconclusive.
    where : str
        What the bars were checked on (``2 question(s) and the total``), said after a pass.
    detail : str
        Said after a failure (``; must-pass bias probe(s): …``, `` (on q1)``) or a judge
        failure (`` on q1``).
    gold_unreliable : bool
        Inconclusive because the human gold is not reliable (said instead of the bars).

    Returns
    -------
    str

    Examples
    --------
    >>> verdict_line("pass", 2), verdict_line("fail", 2, n_failed=1)
    ('PASS: all 2 bar(s) met', 'FAIL: 1 of 2 bar(s) not met')
    >>> verdict_line("inconclusive", 2, n_undecided=1)
    'INCONCLUSIVE (exit 4): 1 of 2 bar(s) undecided at this number of anchors'
    """
    if outcome == "pass":
        return f"{verdict_word('pass')}: all {n_bars} bar(s) met" + (f" on {where}" if where
                                                                     else "")
    if outcome == "fail":
        return f"{verdict_word('fail')}: {n_failed} of {n_bars} bar(s) not met{detail}"
    if outcome == "inconclusive":
        head = f"{verdict_word('inconclusive')} (exit 4)"
        if gold_unreliable:
            return f"{head}: the human anchors are not reliable enough to judge a judge"
        return f"{head}: {n_undecided} of {n_bars} bar(s) undecided at this number of anchors"
    return f"JUDGE FAILURE: too many invalid or failed judgments{detail}"


def p_text(p: float | None) -> str:
    """A p-value: ``< 0.001`` or three decimals.

    Examples
    --------
    >>> p_text(0.0004), p_text(0.0312)
    ('< 0.001', '0.031')
    """
    if not _finite(p):
        return MISSING
    return "< 0.001" if float(p) < 0.001 else f"{float(p):.3f}"  # type: ignore[arg-type]


def share_text(x: float | None, digits: int = 0, *, sign: bool = False) -> str:
    """A share as a percentage: ``12%`` (``12.5%`` with one digit); with ``sign``, a change
    in a share signed as :func:`signed_text` signs a difference (``+12.5%``, ``-3.0%``,
    ``0.0%``).

    Examples
    --------
    >>> share_text(0.125), share_text(0.125, 1), share_text(None)
    ('12%', '12.5%', '—')
    >>> share_text(0.125, 1, sign=True), share_text(-0.0001, 1, sign=True)
    ('+12.5%', '0.0%')
    """
    if not _finite(x):
        return MISSING
    text = f"{float(x):.{digits}%}"  # type: ignore[arg-type]
    if not text.strip("-0.%"):  # rounds to zero: never "-0.0%" or "+0.0%"
        return text.lstrip("-")
    return f"+{text}" if sign and not text.startswith("-") else text


def share_interval_text(ci: Sequence[float] | None, digits: int = 0, *,
                        sign: bool = False) -> str:
    """A CI of a share as ``[4.0%, 21.0%]`` (signed with ``sign``); the empty string when there
    is none.

    Examples
    --------
    >>> share_interval_text((0.04, 0.21), 1, sign=True), share_interval_text(None)
    ('[+4.0%, +21.0%]', '')
    """
    if ci is None:
        return ""
    lo, hi = ci
    return f"[{share_text(lo, digits, sign=sign)}, {share_text(hi, digits, sign=sign)}]"


def score_text(x: float) -> str:
    """A score on a rating scale, compactly: ``7`` for 7.0, ``3.5`` for 3.5.

    Examples
    --------
    >>> score_text(7.0), score_text(3.5)
    ('7', '3.5')
    """
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def cost_text(usd: float | None) -> str:
    """A cost in US dollars: ``$0.0123``; ``< $0.0001`` for a cost that is not zero but rounds
    to it; ``unknown`` when it could not be priced.

    Four decimals because a call costs a fraction of a cent (one call of a small model on a
    short item is a few thousandths of a cent); a whole run reads the same way
    (``$12.3456``), with thousands separated. ``unknown`` rather than :data:`MISSING`: the run
    made calls, but some model has no known price.

    Parameters
    ----------
    usd : float or None
        None (or a non-finite value): unknown.

    Returns
    -------
    str

    Examples
    --------
    >>> cost_text(0.01234), cost_text(0.0), cost_text(0.00003), cost_text(None)
    ('$0.0123', '$0.0000', '< $0.0001', 'unknown')
    >>> cost_text(1204.5)
    '$1,204.5000'
    """
    if not _finite(usd):
        return UNKNOWN_COST
    x = float(usd)  # type: ignore[arg-type]
    text = f"${abs(x):,.4f}"
    if text == "$0.0000":  # never "-$0.0000"
        return "< $0.0001" if x > 0 else text
    return f"-{text}" if x < 0 else text


def listed_text(names: Sequence[str], limit: int = 10) -> str:
    """Names in a message: all of them, or the first ``limit`` and how many there are.

    Examples
    --------
    >>> listed_text(["a", "b"]), listed_text([f"r{k}" for k in range(12)], limit=3)
    ('a, b', 'r0, r1, r2, … (12 in all)')
    """
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … ({len(names)} in all)"


def scale_text(lo: float, hi: float) -> str:
    """A rating scale, or a range of scores on one: ``1–5``, ``0.5–3.5`` (an en dash).

    Examples
    --------
    >>> scale_text(1.0, 5.0), scale_text(0.5, 3.5)
    ('1–5', '0.5–3.5')
    """
    return f"{score_text(lo)}–{score_text(hi)}"


def percent(confidence: float) -> str:
    """``95%``, ``97.5%``: a confidence level for labels.

    Examples
    --------
    >>> percent(0.95), percent(1 - 0.05 / 2)
    ('95%', '97.5%')
    """
    return f"{confidence * 100:.4g}%"
