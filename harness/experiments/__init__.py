"""Experiment files: one TOML file names the judge, the prompt and the anchor set of a run.

See ``experiments/README.md`` for the format. :func:`load_experiment` validates a file with
pydantic and reports every problem with the file, the line and the key.
"""

from ._config import (
    AnchorsSection,
    BudgetSection,
    Experiment,
    ExperimentError,
    GateSection,
    JudgeSection,
    PromptSection,
    ReportSection,
    RevisionSection,
    RunSection,
    ScorecardSection,
    ScoringSection,
    StoppingSection,
    TargetSection,
    TrackingSection,
    load_experiment,
)

__all__ = [
    "AnchorsSection",
    "BudgetSection",
    "Experiment",
    "ExperimentError",
    "GateSection",
    "JudgeSection",
    "PromptSection",
    "ReportSection",
    "RevisionSection",
    "RunSection",
    "ScorecardSection",
    "ScoringSection",
    "StoppingSection",
    "TargetSection",
    "TrackingSection",
    "load_experiment",
]
