"""The result type shared by every agreement statistic."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AgreementResult:
    """The outcome of one agreement statistic.

    Attributes
    ----------
    statistic : str
        Name of the statistic, e.g. ``"icc"`` or ``"cohen_kappa"``; forms and variants are
        spelled out, e.g. ``"ICC(2,1)"`` goes in ``details["form"]``.
    value : float or None
        The estimate. ``None`` when the statistic is undefined for this input; ``reason``
        then says why. It is never NaN.
    ci95 : tuple of float, optional
        95% confidence interval ``(lo, hi)`` when one was computed.
    n_items : int
        Items (units) that entered the computation, after any listwise deletion.
    n_raters : int
        Raters (columns) that entered the computation.
    reason : str, optional
        Why the statistic is undefined (``value is None``), e.g. "zero variance".
    ci_method : str, optional
        How ``ci95`` was obtained, e.g. ``"F-test"``, ``"Fisher z"``, ``"bootstrap percentile"``.
    details : dict
        Extra figures specific to the statistic (F, degrees of freedom, mean squares, ...).
    """

    statistic: str
    value: float | None
    ci95: tuple[float, float] | None = None
    n_items: int = 0
    n_raters: int = 0
    reason: str | None = None
    ci_method: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(
                f"{self.statistic}: non-finite value {self.value!r}; use undefined() instead"
            )
        if self.value is None and not self.reason:
            raise ValueError(f"{self.statistic}: an undefined result needs a reason")

    @property
    def defined(self) -> bool:
        """True when the statistic has a value."""
        return self.value is not None

    def with_ci(self, ci95: tuple[float, float] | None, method: str) -> AgreementResult:
        """Return a copy carrying ``ci95`` (obtained by ``method``)."""
        from dataclasses import replace

        return replace(self, ci95=ci95, ci_method=method if ci95 is not None else None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "statistic": self.statistic,
            "value": self.value,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "ci_method": self.ci_method,
            "n_items": self.n_items,
            "n_raters": self.n_raters,
            "reason": self.reason,
            "details": jsonable(self.details),
        }

    def __float__(self) -> float:
        if self.value is None:
            raise ValueError(f"{self.statistic} is undefined: {self.reason}")
        return float(self.value)


def undefined(
    statistic: str, reason: str, *, n_items: int = 0, n_raters: int = 0, **details: Any
) -> AgreementResult:
    """An undefined result: no value, and the reason why."""
    return AgreementResult(
        statistic=statistic,
        value=None,
        n_items=n_items,
        n_raters=n_raters,
        reason=reason,
        details=details,
    )


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays, tuples and non-finite floats made plain JSON."""
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:  # most leaves: as they are
        return obj
    if kind is float:
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
