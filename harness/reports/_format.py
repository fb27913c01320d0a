"""Formatting shared by every report: labels for confidence levels."""

from __future__ import annotations


def percent(confidence: float) -> str:
    """``95%``, ``97.5%``: a confidence level for labels.

    Examples
    --------
    >>> percent(0.95), percent(1 - 0.05 / 2)
    ('95%', '97.5%')
    """
    return f"{confidence * 100:.4g}%"
