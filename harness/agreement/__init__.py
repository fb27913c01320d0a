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

from harness._lazy import lazy_exports

# Imported on first use: a command that needs no statistic (``judgecal --help``) does not
# pay for scipy or pandas.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "._alpha_boot": ("alpha_interval_bootstrap", "alpha_interval_ci"),
    "._alt_test": ("ALIGNMENTS", "DEFAULT_EPSILON", "AltTestResult", "RaterTest", "alt_test"),
    "._bootstrap": ("bootstrap_ci",),
    "._correlation": ("kendall_tau_b", "pearson", "spearman"),
    "._errors": ("confusion_counts", "confusion_matrix", "mae", "mean_bias"),
    "._icc": ("ICC_FORMS", "icc", "icc_all", "icc_oneway", "icc_oneway_forms"),
    "._kappa": ("cohen_kappa", "fleiss_kappa", "gwet_ac1", "gwet_ac2"),
    "._krippendorff": ("krippendorff_alpha",),
    "._loo": ("compare_to_references",),
    "._multiple": ("holm",),
    "._paired": ("PAIRED_FIGURES", "compare_to_reference", "round_to_scale"),
    "._percent": ("percent_agreement",),
    "._result": ("AgreementResult", "jsonable", "undefined"),
})
