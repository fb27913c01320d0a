"""Corrected population estimates: what a judged population really scores, given the judge errs.

A judge scores thousands of unlabelled production items; the anchors (items with human
ratings, judged by the same judge) measure its errors. The statistics here correct the
judge's figures with the anchors and give confidence intervals that cover the humans' value:

* means: prediction-powered inference (:func:`ppi_mean`, Angelopoulos et al. 2023) and its
  power-tuned form (:func:`ppi_plusplus_mean`, PPI++, Angelopoulos, Duchi & Zrnic 2024);
* pass rates: the Rogan-Gladen correction (:func:`rogan_gladen`) with an interval that
  includes the uncertainty of the judge's sensitivity and specificity;
* :func:`effective_labels`: how many human labels the corrected estimate is worth.

:func:`estimate_population` puts them together on arrays; :func:`estimate_experiment` reads
an experiment's anchors (journal or judgments file) and a production judgments file
(``judgecal estimate``). The statistics modules import nothing of providers or files.
"""

from ._inputs import (
    SPLITS,
    AnchorScores,
    CallsNeededError,
    EstimateInputError,
    EstimateJudgeError,
    EstimateReport,
    ProductionScores,
    anchor_scores,
    estimate_experiment,
    production_scores,
)
from ._population import METHODS, PopulationEstimate, estimate_population
from ._ppi import (
    MeanEstimate,
    classical_mean,
    effective_labels,
    naive_mean,
    power_tuning,
    ppi_mean,
    ppi_plusplus_mean,
)
from ._rogan_gladen import (
    PassRateEstimate,
    naive_pass_rate,
    rogan_gladen,
    sensitivity_specificity,
)

__all__ = [
    "METHODS",
    "SPLITS",
    "AnchorScores",
    "CallsNeededError",
    "EstimateInputError",
    "EstimateJudgeError",
    "EstimateReport",
    "MeanEstimate",
    "PassRateEstimate",
    "PopulationEstimate",
    "ProductionScores",
    "anchor_scores",
    "classical_mean",
    "effective_labels",
    "estimate_experiment",
    "estimate_population",
    "naive_mean",
    "naive_pass_rate",
    "power_tuning",
    "ppi_mean",
    "ppi_plusplus_mean",
    "production_scores",
    "rogan_gladen",
    "sensitivity_specificity",
]
