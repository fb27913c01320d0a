"""MLflow-valid names: metric/param/tag keys, prompt names; agreement figures as metrics."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.agreement import AgreementResult

# MLflow accepts alphanumerics, "_", "-", ".", " ", "/" (and ":" except on Windows) in
# metric, param and tag keys; keys must not resolve to another path ("a//b", "../x").
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\- /]")
_MAX_KEY = 250  # mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH

# mlflow.prompt.constants.PROMPT_NAME_RULE
_BAD_PROMPT_CHARS = re.compile(r"[^a-zA-Z0-9_.-]")


def mlflow_key(name: str) -> str:
    """``name`` made a valid MLflow metric/param/tag key.

    Characters MLflow rejects become ``_``; empty, ``.`` and ``..`` path segments are
    dropped or escaped so the key cannot resolve to another path; at most 250 characters.
    A valid key is returned unchanged.

    Parameters
    ----------
    name : str

    Returns
    -------
    str

    Examples
    --------
    >>> mlflow_key("holdout/icc_ci_lo")
    'holdout/icc_ci_lo'
    >>> mlflow_key("ICC(2,1)")
    'ICC_2_1_'
    >>> mlflow_key("/a//b/../c")
    'a/b/__/c'
    """
    key = _BAD_KEY_CHARS.sub("_", str(name))
    parts = [("__" if p == ".." else p) for p in key.split("/") if p not in ("", ".")]
    key = "/".join(parts) or "_"
    if key.startswith(".."):
        key = "_" + key
    return key[:_MAX_KEY]


def prompt_registry_name(name: str) -> str:
    """The MLflow Prompt Registry name of a judgecal prompt.

    MLflow allows only ``[a-zA-Z0-9_.-]`` in prompt names. judgecal prompt names
    (``^[A-Za-z0-9][A-Za-z0-9._-]*$``) already satisfy this, so the mapping is the identity
    for them; any other character becomes ``_``. The original name is kept in the version
    tag ``judgecal_name``.

    Parameters
    ----------
    name : str

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For an empty name.

    Examples
    --------
    >>> prompt_registry_name("recipes-overall")
    'recipes-overall'
    >>> prompt_registry_name("team/judge v2")
    'team_judge_v2'
    """
    if not name:
        raise ValueError("a prompt name must not be empty")
    return _BAD_PROMPT_CHARS.sub("_", name)


def metrics_from_figures(
    figures: Mapping[str, AgreementResult], prefix: str = ""
) -> dict[str, float]:
    """Agreement figures as MLflow metrics: value and 95% CI bounds of each defined figure.

    For a figure ``name``: ``{prefix}{name}`` = value, ``{prefix}{name}_ci_lo`` and
    ``{prefix}{name}_ci_hi`` when it has a CI. Undefined figures (``value is None``) and
    non-finite bounds are left out. Keys go through :func:`mlflow_key`.

    Parameters
    ----------
    figures : mapping of str to AgreementResult
    prefix : str, optional
        E.g. ``"holdout/"`` or ``"cal_"``.

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> from harness.agreement import AgreementResult, undefined
    >>> figs = {"icc": AgreementResult("icc", 0.71, ci95=(0.6, 0.8)),
    ...         "kappa": undefined("kappa", "zero variance")}
    >>> metrics_from_figures(figs, prefix="holdout/")
    {'holdout/icc': 0.71, 'holdout/icc_ci_lo': 0.6, 'holdout/icc_ci_hi': 0.8}
    """
    out: dict[str, float] = {}
    for name, result in figures.items():
        if result is None or result.value is None or not math.isfinite(result.value):
            continue
        base = f"{prefix}{name}"
        out[mlflow_key(base)] = float(result.value)
        if result.ci95 is not None:
            lo, hi = result.ci95
            if lo is not None and math.isfinite(lo):
                out[mlflow_key(f"{base}_ci_lo")] = float(lo)
            if hi is not None and math.isfinite(hi):
                out[mlflow_key(f"{base}_ci_hi")] = float(hi)
    return out
