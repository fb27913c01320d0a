"""Is a judge run usable? The share of judgments without a score, against the allowed share.

One check for every command that judges (``judge``, ``calibrate``, ``validate``, ``gate``):
invalid replies (never parsed) and failed calls (the provider kept failing) both leave an
item without a judge score, so both count against ``max_invalid``; a run that a budget or
the circuit breaker stopped is not usable either, whatever its share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.judges import RunResult
from harness.reports import share_text


@dataclass
class InvalidCheck:
    """The share of judgments without a usable score, against the allowed share.

    Attributes
    ----------
    n : int
        Judgments (items x samples).
    n_invalid, n_failed : int
        Replies that never parsed; calls the provider kept failing.
    share : float
        ``(n_invalid + n_failed) / n``.
    max_share : float
    passed : bool
        ``share <= max_share`` and at least one judgment is valid.
    first_error : str, optional
        The first error message, for the report.
    causes : list of (str, int)
        The distinct provider errors and parse failures, counted, most common first
        (:meth:`harness.judges.RunResult.failure_causes`).
    """

    n: int
    n_invalid: int
    n_failed: int
    share: float
    max_share: float
    passed: bool
    first_error: str | None = None
    causes: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def of(cls, result: RunResult, max_share: float) -> InvalidCheck:
        """The check of one run.

        Parameters
        ----------
        result : RunResult
        max_share : float
            The largest allowed share of invalid or failed judgments, in [0, 1].

        Returns
        -------
        InvalidCheck

        Examples
        --------
        >>> from harness.judges import RunResult
        >>> r = RunResult([], None, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0)
        >>> InvalidCheck.of(r, 0.05).passed  # nothing judged: nothing to trust
        False
        """
        n = len(result.judgments)
        bad = result.n_invalid + result.n_failed
        share = bad / n if n else 1.0
        first = next((j.error for j in result.judgments
                      if j.status in ("invalid", "failed") and j.error), None)
        return cls(n=n, n_invalid=result.n_invalid, n_failed=result.n_failed, share=share,
                   max_share=max_share,
                   passed=result.n_ok > 0 and share <= max_share + 1e-12,
                   first_error=first, causes=result.failure_causes())

    @property
    def name(self) -> str:
        return f"invalid share <= {self.max_share:g}"

    @property
    def counts_text(self) -> str:
        """``"2 invalid and 1 failed of 21 judgments (14.3%)"``."""
        return (f"{self.n_invalid} invalid and {self.n_failed} failed of {self.n} judgments "
                f"({share_text(self.share, 1)})")

    @property
    def message(self) -> str:
        text = f"{self.counts_text}; allowed {share_text(self.max_share, 1)}"
        if self.causes and not self.passed:
            text += "; causes: " + self.causes_text()
        return text

    def causes_text(self, limit: int = 5) -> str:
        """The causes as ``"N× cause; M× cause"`` (at most ``limit``, then how many more)."""
        shown = [f"{n}× {cause}" for cause, n in self.causes[:limit]]
        if len(self.causes) > limit:
            shown.append(f"{len(self.causes) - limit} more cause(s) in the judgments CSV")
        return "; ".join(shown)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"name": self.name, "n": self.n, "n_invalid": self.n_invalid,
                "n_failed": self.n_failed, "share": self.share, "max": self.max_share,
                "passed": self.passed, "message": self.message,
                "first_error": self.first_error,
                "causes": [{"cause": c, "n": n} for c, n in self.causes]}


def unusable_reason(result: RunResult, what: str, max_share: float | None = None
                    ) -> str | None:
    """Why a run cannot be used for agreement figures, or None when it can.

    Parameters
    ----------
    result : RunResult
    what : str
        What was judged, for the message (e.g. ``"recipes v2 on the calibration split"``).
    max_share : float, optional
        The allowed share of invalid or failed judgments. None: only a stopped run or one
        without a single valid judgment is unusable (the gate, where the share is a bar of
        its own).

    Returns
    -------
    str or None
        A sentence naming the stop (budget, circuit breaker) or the share, with the causes.
    """
    check = InvalidCheck.of(result, 1.0 if max_share is None else max_share)
    causes = f"; causes: {check.causes_text()}" if check.causes else ""
    if result.stopped:
        done = result.n_ok + result.n_invalid + result.n_failed
        return (f"the judge run of {what} stopped: {result.stopped} ({done} of "
                f"{len(result.judgments)} judgments finished and journaled; a re-run "
                f"continues from there){causes}")
    if result.n_ok == 0:
        return f"no valid judgment for {what}: {check.counts_text}{causes}"
    if max_share is not None and not check.passed:
        return f"too many judgments without a score for {what}: {check.message}"
    return None


__all__ = ["InvalidCheck", "unusable_reason"]
