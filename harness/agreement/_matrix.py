"""Input coercion shared by the statistics: ratings matrices and rater pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def as_matrix(data: Any) -> np.ndarray:
    """Coerce an items x raters table into a 2-D float array with NaN for missing.

    Accepts nested sequences (``None`` = missing), numpy arrays and pandas DataFrames.
    """
    if hasattr(data, "to_numpy"):
        data = data.to_numpy(dtype=float, na_value=np.nan)
    if isinstance(data, np.ndarray) and data.dtype.kind == "f":
        arr = data
    else:
        arr = np.array(
            [[np.nan if v is None else v for v in row] for row in data]
            if not isinstance(data, np.ndarray)
            else data,
            dtype=float,
        )
    if arr.ndim != 2:
        raise ValueError(f"expected an items x raters matrix, got an array of shape {arr.shape}")
    return arr


def as_pair(a: Sequence[Any], b: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Coerce two raters' ratings into float arrays of equal length (NaN = missing)."""
    x, y = _as_vector(a), _as_vector(b)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError(
            f"the two raters need equal-length 1-D ratings, got shapes {x.shape} and {y.shape}"
        )
    return x, y


def _as_vector(values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(float, copy=False)
    return np.array([np.nan if v is None else v for v in values], dtype=float)
