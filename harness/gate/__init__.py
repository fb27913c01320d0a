"""The CI gate: may this judge ship?

A gate judges one split (the holdout by default) with a fixed prompt version, measures its
agreement with the human consensus, and checks it against bars: minimums for
higher-is-better figures (``icc``, ``spearman``, ...), maximums for MAE and ``|bias|``, the
largest allowed loss against a baseline version, and the largest share of invalid
judgments. Bars come from the experiment's ``[gate]`` table and the command line.

Reading
    :func:`load_gate` (experiment file + bars) -> :func:`run_gate` -> :class:`GateResult`;
    :func:`check` does both and raises :class:`GateFailed` on a failed bar (the
    ``judge_gate`` pytest fixture, see :mod:`harness.gate.pytest_plugin`).
Writing
    :func:`gate_table` / :func:`table_text` (console), ``GateResult.to_dict`` (JSON),
    :func:`junit_xml` / :func:`write_junit`, :func:`markdown` / :func:`write_summary`
    (also appended to ``$GITHUB_STEP_SUMMARY``).
Promoting
    :func:`promote` points the MLflow Prompt Registry alias ``production`` at a version
    whose gate passed.
Judges
    A prompt version is not a judge: a version (or a baseline) calibrated with another
    provider, model, endpoint or parameters is refused unless ``allow_judge_change``
    (:class:`JudgeCheck`); every result records the judge it ran with.

Holdout ledger
    Every evaluation of a holdout is recorded (:func:`holdout_ledger`, :func:`record_look`;
    the journal's ``holdout_looks``); with m distinct versions looked at, the CIs are at
    ``1 - 0.05/m`` (:func:`holdout_confidence`, Bonferroni over the looks).

Outcomes
    Every bar ends ``pass``, ``fail`` or ``inconclusive`` (its CI straddles the bar, or the
    figure is undefined); an inconclusive bar says about how many more anchors would decide
    it (:func:`plan_bar`, :mod:`harness.plan`). A regression bar fails only on a loss beyond
    the allowed one that is significant (:func:`loss_test`: one-sided paired bootstrap,
    Holm across the regression bars, :func:`holm_family`), and is inconclusive when the
    test is underpowered (:class:`LossTest`). The gate: fail if any bar fails, else
    inconclusive if any is (or the report finds the human gold unreliable, unless
    ``allow_unreliable_gold``), else pass. ``on="point"`` keeps two outcomes.

Scorecards
    On a scorecard experiment (anchors with criteria) every bar names its question or the
    total (``tone.icc``, ``total.icc``; :func:`split_name`); :func:`run_gate` then runs
    :func:`run_scorecard_gate`: each question gated as its one-question experiment, the
    total on the judge's totals, one :class:`ScorecardGateResult`.

Exit codes: 0 pass, 1 a bar not met, 2 usage or input error (:class:`GateInputError`),
3 judge or provider failure (:class:`GateJudgeError`, or too many invalid judgments),
4 inconclusive (:data:`EXIT_INCONCLUSIVE`).
See ``docs/gate.md`` and ``docs/ci.md``.
"""

from harness._lazy import lazy_exports

# Imported on first use: the pytest plugin (harness.gate.pytest_plugin, loaded by every pytest
# run where judgecal is installed) imports this package, and should cost nothing until used.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "._bars": (
        "ON_CHOICES", "OUTCOMES", "Bar", "BarError", "BarResult", "GateSettings", "LossTest",
        "ceiling_of", "direction", "evaluate_bar", "evaluate_regression", "gate_settings",
        "holm_family", "parse_assignment", "split_name",
    ),
    "._errors": ("GateError", "GateInputError", "GateJudgeError"),
    "._gate": ("GateFailed", "check", "load_gate", "run_gate"),
    "._leaderboard": ("JudgesValidation", "validate_judges"),
    "._ledger": (
        "HOLDOUT_LOOKS_HASH_TAG", "HOLDOUT_LOOKS_TAG", "holdout_ledger", "holdout_look_tags",
        "record_look",
    ),
    "._outputs": (
        "STEP_SUMMARY_ENV", "GateErrorOutcome", "gate_table", "junit_xml", "markdown",
        "outcome_text", "promoted_lines", "table_text", "write_junit", "write_summary",
    ),
    "._promote": ("PRODUCTION_ALIAS", "promote"),
    "._result": (
        "EXIT_BELOW_BAR", "EXIT_INCONCLUSIVE", "EXIT_INPUT", "EXIT_JUDGE", "EXIT_PASS",
        "HOLDOUT_ALPHA", "BaselineRun", "GateResult", "HoldoutLooks", "InvalidCheck", "JudgeCheck",
        "ScorecardGateResult", "TotalGate", "VersionRef", "holdout_confidence",
    ),
    "._scorecard": (
        "check_scorecard_bars", "is_scorecard_gate", "run_scorecard_gate", "scorecard_versions",
    ),
    "._stats": ("loss_test", "plan_bar"),
    "._versions": ("OfflineJudge", "check_examples", "gate_judge", "resolve_version"),
})
