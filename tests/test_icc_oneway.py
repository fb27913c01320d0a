"""One-way ICC for unbalanced designs (raters nested in items)."""

import numpy as np
import pandas as pd
import pytest

from harness.agreement import icc, icc_oneway

# "Unbalanced one-way ANOVA, all ratings" column of ../shared/data/recipes/PROVENANCE.md,
# computed there by hand from every rating of the 50 experimental items (fillers excluded).
PROVENANCE_ICC1 = {
    "grammar": 0.403,
    "fluency": 0.447,
    "verbosity": 0.432,
    "structure": 0.354,
    "success": 0.358,
    "overall": 0.445,
}


@pytest.mark.parametrize("criterion", sorted(PROVENANCE_ICC1))
def test_matches_the_recipe_study_unbalanced_anova(shared_dir, criterion):
    ratings = pd.read_csv(shared_dir / "data" / "recipes" / "ratings.csv")
    sub = ratings[(ratings.criterion == criterion)
                  & ~ratings.condition.isin(["coherence", "grammaticality"])]
    matrix = sub.pivot(index="item_id", columns="rater_id", values="score")
    assert matrix.shape[0] == 50
    res = icc_oneway(matrix)
    assert round(res.value, 3) == PROVENANCE_ICC1[criterion]
    lo, hi = res.ci95
    assert lo < res.value < hi
    assert res.details["n_ratings"] == int(matrix.notna().sum().sum())


def test_equals_the_balanced_one_way_forms_on_complete_data():
    rng = np.random.default_rng(4)
    m = rng.integers(1, 6, (25, 4)).astype(float) + (np.arange(25) % 3)[:, None]
    for average, form in ((False, "ICC(1,1)"), (True, "ICC(1,k)")):
        a, b = icc_oneway(m, average=average), icc(m, form=form)
        assert a.value == pytest.approx(b.value, abs=1e-12)
        assert a.ci95 == pytest.approx(b.ci95, abs=1e-12)
        assert a.details["n0"] == pytest.approx(4.0)


def test_items_with_one_rating_are_dropped_and_degenerate_input_is_undefined():
    data = [[4, 5, None], [2, None, None], [None, 3, 3], [5, 4, 5], [1, 2, None]]
    res = icc_oneway(data)
    assert res.n_items == 4 and res.details["n_dropped"] == 1
    res = icc_oneway([[1, None], [None, 2], [3, 3]])
    assert res.value is None and "fewer than 3 items" in res.reason
    res = icc_oneway([[2, 2], [2, 2, ], [2, 2]])
    assert res.value is None and "identical" in res.reason
