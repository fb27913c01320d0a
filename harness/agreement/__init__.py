"""Agreement statistics: inter-rater reliability, judge vs human agreement, and their CIs.

One function per statistic, each returning an :class:`AgreementResult`.

Two-rater statistics take two sequences, ``f(a, b, **params)``: :func:`cohen_kappa`,
:func:`spearman`, :func:`kendall_tau_b`, :func:`pearson`.
All others take an items x raters matrix, ``f(matrix, **params)``, with ``None``/NaN for a
missing rating: :func:`icc`, :func:`fleiss_kappa`, :func:`krippendorff_alpha`,
:func:`gwet_ac1`, :func:`gwet_ac2`, :func:`percent_agreement`.

Judge-vs-consensus error figures: :func:`mae`, :func:`mean_bias`, :func:`confusion_matrix`.
Item-level bootstrap CIs for any statistic: :func:`bootstrap_ci`.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._result import AgreementResult, undefined

# public name -> private module that defines it (imported on first use)
_EXPORTS = {
    "icc": "_icc",
    "icc_all": "_icc",
    "ICC_FORMS": "_icc",
    "spearman": "_correlation",
    "kendall_tau_b": "_correlation",
    "pearson": "_correlation",
    "percent_agreement": "_percent",
    "mae": "_errors",
    "mean_bias": "_errors",
    "confusion_matrix": "_errors",
    "cohen_kappa": "_kappa",
    "fleiss_kappa": "_kappa",
    "gwet_ac1": "_kappa",
    "gwet_ac2": "_kappa",
    "krippendorff_alpha": "_krippendorff",
    "bootstrap_ci": "_bootstrap",
    "compare_to_reference": "_paired",
    "PAIRED_FIGURES": "_paired",
    "round_to_scale": "_paired",
}

__all__ = ["AgreementResult", "undefined", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.agreement' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

