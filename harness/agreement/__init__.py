"""Agreement statistics: inter-rater reliability, judge vs human agreement, and their CIs.

One function per statistic, each returning an :class:`AgreementResult`.

Two-rater statistics take two sequences, ``f(a, b, **params)``: :func:`cohen_kappa`,
:func:`spearman`, :func:`kendall_tau_b`, :func:`pearson`.
All others take an items x raters matrix, ``f(matrix, **params)``, with ``None``/NaN for a
missing rating: :func:`icc`, :func:`fleiss_kappa`, :func:`krippendorff_alpha`,
:func:`gwet_ac1`, :func:`gwet_ac2`, :func:`percent_agreement`.

Judge-vs-consensus figures: :func:`mae`, :func:`mean_bias`, :func:`confusion_matrix`, and
:func:`compare_to_reference` for all of them at once with bootstrap CIs.
Item-level bootstrap CIs for any statistic: :func:`bootstrap_ci`.
Can the judge replace a human rater: :func:`alt_test` (the alternative annotator test).
Multiple testing: :func:`holm`.
"""

from ._alpha_boot import alpha_interval_bootstrap, alpha_interval_ci
from ._alt_test import ALIGNMENTS, DEFAULT_EPSILON, AltTestResult, RaterTest, alt_test
from ._bootstrap import bootstrap_ci
from ._correlation import kendall_tau_b, pearson, spearman
from ._errors import confusion_matrix, mae, mean_bias
from ._icc import ICC_FORMS, icc, icc_all, icc_oneway
from ._kappa import cohen_kappa, fleiss_kappa, gwet_ac1, gwet_ac2
from ._krippendorff import krippendorff_alpha
from ._loo import compare_to_references
from ._multiple import holm
from ._paired import PAIRED_FIGURES, compare_to_reference, round_to_scale
from ._percent import percent_agreement
from ._result import AgreementResult, jsonable, undefined

__all__ = [
    "ALIGNMENTS",
    "DEFAULT_EPSILON",
    "ICC_FORMS",
    "PAIRED_FIGURES",
    "AgreementResult",
    "AltTestResult",
    "RaterTest",
    "alpha_interval_bootstrap",
    "alpha_interval_ci",
    "alt_test",
    "bootstrap_ci",
    "cohen_kappa",
    "compare_to_reference",
    "compare_to_references",
    "confusion_matrix",
    "fleiss_kappa",
    "gwet_ac1",
    "gwet_ac2",
    "holm",
    "icc",
    "icc_all",
    "icc_oneway",
    "jsonable",
    "kendall_tau_b",
    "krippendorff_alpha",
    "mae",
    "mean_bias",
    "pearson",
    "percent_agreement",
    "round_to_scale",
    "spearman",
    "undefined",
]
