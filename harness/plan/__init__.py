"""Planning labels: how many anchors (and raters) decide a figure, before or after labelling.

* :func:`anchors_to_decide`: for a gate bar whose CI straddles it, how many more anchors
  (at the current raters) would likely decide it — the item bootstrap grown to larger
  samples (:func:`half_width`) and a doubling-then-bisection search (:func:`items_for`).
* :func:`make_plan` (``judgecal plan``): before any labelling, the items that give a CI
  half-width W on each figure, and the items for 80% alt-test power, by simulation from a
  documented generative model (:class:`Model`; :func:`model_for` from assumed values,
  :func:`pilot_model` from a pilot anchor set).

Statistics only: nothing here prints.
"""

from ._design import (
    EXPECT_KEYS,
    PLAN_FIGURES,
    TARGET_POWER,
    Model,
    Plan,
    PlanError,
    alt_test_power,
    make_plan,
    model_for,
    pilot_model,
    simulated_half_width,
)
from ._search import CAP, anchors_to_decide, distinct_rows, half_width, items_for

__all__ = [
    "CAP",
    "EXPECT_KEYS",
    "PLAN_FIGURES",
    "TARGET_POWER",
    "Model",
    "Plan",
    "PlanError",
    "alt_test_power",
    "anchors_to_decide",
    "distinct_rows",
    "half_width",
    "items_for",
    "make_plan",
    "model_for",
    "pilot_model",
    "simulated_half_width",
]
