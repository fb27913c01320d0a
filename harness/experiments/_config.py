"""The experiment file schema and its loader with line-numbered errors."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harness._state import default_state_dir


class _Section(BaseModel):
    # allow_inf_nan=False: `threshold = nan` or `max_cost = inf` is a file:line error, never
    # a bar that every comparison silently fails (or passes).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ExperimentSection(_Section):
    name: str = Field(min_length=1)
    description: str | None = None


class AnchorsSection(_Section):
    path: Path
    split: Literal["calibration", "holdout", "all"] = "calibration"
    #: One question of a scorecard anchor set (or ``"total"``); None: the whole set.
    criterion: str | None = None


class PromptSection(_Section):
    name: str = Field(min_length=1)
    version: str = "latest"
    dir: Path = Path("prompts")
    #: On a scorecard judged per criterion: the prompt of each question (default
    #: ``<name>-<criterion id>``).
    criteria: dict[str, str] = Field(default_factory=dict)

    def for_criterion(self, criterion: str) -> str:
        """The prompt name of one question of a scorecard."""
        return self.criteria.get(criterion, f"{self.name}-{criterion}")

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if v != "latest" and not re.fullmatch(r"v?\d+", v):
            raise ValueError("must be 'latest' or a version like 'v2'")
        return v if v == "latest" or v.startswith("v") else f"v{v}"


class JudgeSection(_Section):
    provider: Literal["local", "openai", "anthropic"]
    model: str = Field(min_length=1)
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=512, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    top_logprobs: int = Field(default=20, ge=1, le=20)
    seed: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(
                "must be the NAME of an environment variable holding the key, not the key"
            )
        return v


class ScoringSection(_Section):
    mode: Literal["structured", "logprob"] | None = None
    samples: int = Field(default=1, ge=1, le=100)
    aggregate: Literal["mean", "median", "mode"] = "mean"
    parse_retries: int = Field(default=2, ge=0, le=10)
    # logprob mode: the least probability mass on the scale's tokens for a valid judgment
    min_score_mass: float = Field(default=0.5, gt=0.0, le=1.0)


class RunSection(_Section):
    concurrency: int = Field(default=8, ge=1, le=1024)
    max_attempts: int = Field(default=6, ge=1, le=50)
    call_deadline_s: float = Field(default=120.0, gt=0)
    retry_after_cap_s: float = Field(default=60.0, ge=0)
    # the largest share of invalid or failed judgments a judge or calibration run accepts
    max_invalid: float = Field(default=0.05, ge=0.0, le=1.0)
    # consecutive failed calls (refused, timed out, 5xx) with no success that stop the run;
    # 0 never stops it
    circuit_breaker: int = Field(default=5, ge=0, le=10_000)
    # judge through the provider's batch API (openai, anthropic): half price, results within
    # the provider's 24-hour window; a killed run resumes by polling the same batches
    batch: bool = False
    # seconds between two polls of the open batches
    batch_poll_s: float = Field(default=30.0, gt=0)
    # where the calls run: "local" (this process) or "ray" (Ray workers, RAY_ADDRESS or a
    # local Ray; `concurrency` is then the calls in flight over all workers)
    engine: Literal["local", "ray"] = "local"

    @model_validator(mode="after")
    def _one_way_to_run(self) -> RunSection:
        if self.batch and self.engine == "ray":
            raise ValueError("batch = true sends the calls to the provider's batch API and "
                             "engine = \"ray\" runs them on Ray workers: choose one")
        return self


class BudgetSection(_Section):
    max_calls: int | None = Field(default=None, ge=1)
    max_cost: float | None = Field(default=None, gt=0)


class TargetSection(_Section):
    """What counts as calibrated: a primary figure and its bar, plus optional extra bars."""

    metric: str = "icc"
    threshold: float = 0.70
    secondary: dict[str, float] = Field(default_factory=dict)
    #: The alt-test's cost-benefit penalty: 0.2 expert raters, 0.15 skilled, 0.1 crowd.
    alt_test_epsilon: float = Field(default=0.2, ge=0.0, lt=1.0)
    #: On a scorecard: a question's own threshold (its primary figure's), instead of
    #: ``threshold``; ``total`` for the total.
    criteria: dict[str, float] = Field(default_factory=dict)

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        name = _figure_name(v)
        if name == "alt_test":
            raise ValueError("alt_test cannot be the primary metric (it has no CI and the loop "
                             "compares iterations on the primary); use it in secondary or as "
                             "a [gate] bar")
        return name

    @field_validator("secondary")
    @classmethod
    def _secondary(cls, v: dict[str, float]) -> dict[str, float]:
        return {_figure_name(k): float(x) for k, x in v.items()}


_FIGURE_ALIASES = {
    "icc": "icc", "icc:icc(2,1)": "icc", "icc(2,1)": "icc", "icc(a,1)": "icc",
    "spearman": "spearman", "rho": "spearman", "kendall": "kendall_tau_b",
    "kendall_tau_b": "kendall_tau_b", "kappa": "weighted_kappa",
    "weighted_kappa": "weighted_kappa", "alpha": "krippendorff_alpha",
    "krippendorff_alpha": "krippendorff_alpha", "exact_agreement": "exact_agreement",
    "within_one": "within_one", "mae": "mae", "bias": "bias",
    "alt_test": "alt_test", "alt-test": "alt_test", "winning_rate": "alt_test",
}


def _figure_name(v: str) -> str:
    key = v.strip().lower().replace(" ", "")
    if key not in _FIGURE_ALIASES:
        raise ValueError(
            f"unknown metric {v!r}; use one of icc (ICC(2,1)), spearman, kendall_tau_b, "
            "weighted_kappa, krippendorff_alpha, exact_agreement, within_one, mae, bias, "
            "alt_test (the alt-test's winning rate)"
        )
    return _FIGURE_ALIASES[key]


_CRITERION_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _bar_name(v: str) -> str:
    """A gate bar's figure: ``icc`` or, on a scorecard, ``CRITERION.METRIC`` (``tone.icc``,
    ``total.icc``), the metric part normalised as :func:`_figure_name` does."""
    if "." not in v:
        return _figure_name(v)
    criterion, metric = (part.strip() for part in v.split(".", 1))
    if not _CRITERION_ID.fullmatch(criterion):
        raise ValueError(f"{v!r}: {criterion!r} is not a criterion id (a letter, then letters, "
                         "digits, _ or -); a scorecard bar is CRITERION.METRIC, e.g. tone.icc "
                         "or total.icc")
    return f"{criterion}.{_figure_name(metric)}"


class GateSection(_Section):
    """Bars a judge must pass to ship (``judgecal gate`` / ``promote``); see docs/gate.md.

    ``min``: figures that must reach a value (higher is better); ``max``: lower-is-better
    figures (``mae``, and ``bias`` as ``|bias|``) that must stay at or under one; ``on``:
    gate on the 95% CI with three outcomes (``lower-bound``, the default) or on the point
    estimate with two (``point``); ``max_invalid``:
    the largest share of invalid or failed judgments; ``max_regression``: the largest
    loss against the ``baseline`` version (a version like ``"v1"`` or an alias).
    """

    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)
    on: Literal["point", "lower-bound"] = "lower-bound"
    max_invalid: float = Field(default=0.05, ge=0.0, le=1.0)
    max_regression: dict[str, float] = Field(default_factory=dict)
    baseline: str | None = None
    split: Literal["calibration", "holdout", "all"] = "holdout"
    #: Fail the gate when a must-pass bias probe (``judgecal probe``: injection) failed, or
    #: was never run, for the version and judge gated.
    probes: bool = False

    @field_validator("min", "max", "max_regression", mode="before")
    @classmethod
    def _bars(cls, v: Any) -> Any:
        # ``tone.icc = 0.6`` in an inline table is TOML's dotted key: {"tone": {"icc": 0.6}}
        if not isinstance(v, dict):
            return v
        flat: dict[str, Any] = {}
        for k, x in v.items():
            if isinstance(x, dict):
                flat.update({f"{k}.{m}": y for m, y in x.items()})
            else:
                flat[str(k)] = x
        return {_bar_name(k): x for k, x in flat.items()}

    @field_validator("max_regression")
    @classmethod
    def _deltas(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if not x >= 0]
        if bad:
            raise ValueError(f"regression deltas must be >= 0 ({', '.join(bad)})")
        return v


class StoppingSection(_Section):
    max_iterations: int = Field(default=5, ge=1, le=100)
    plateau_delta: float = Field(default=0.01, ge=0)
    plateau_patience: int = Field(default=2, ge=1)


class RevisionSection(_Section):
    strategy: Literal["fewshot", "llm", "manual"] = "fewshot"
    k: int = Field(default=3, ge=1, le=50)
    max_examples: int = Field(default=6, ge=1, le=100)
    # for strategy = "llm": the model that rewrites the rubric (same keys as [judge])
    provider: Literal["local", "openai", "anthropic"] | None = None
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    max_tokens: int = Field(default=2048, ge=16)
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)


class TrackingSection(_Section):
    experiment_name: str | None = None  # default: [experiment] name
    tracking_uri: str = "sqlite:///mlflow.db"  # MLFLOW_TRACKING_URI overrides
    register_prompts: bool = True


class ReportSection(_Section):
    dir: Path = Path("reports")


class StateSection(_Section):
    #: ``$JUDGECAL_STATE_DIR`` or ``.judgecal``, read when the file is loaded, as the
    #: journal and the sessions read it.
    dir: Path = Field(default_factory=default_state_dir)


class ScorecardSection(_Section):
    """How a scorecard's questions are judged.

    ``per_criterion``: one call per question, each with its own prompt
    (``[prompt] criteria``), so a question's wording changes re-judge that question only.
    ``one_call``: one call per item scores every question (the ``[prompt] name`` prompt,
    with ``scale: scorecard``; a JSON schema with one property per question, each
    constrained to its scale or labels). ``judge`` and the library's ``judge_scorecard``
    take it; calibrate, gate and validate revise and gate each question's own prompt, so
    they need ``per_criterion`` (gate a one-call judge with ``gate --judgments``).
    """

    mode: Literal["per_criterion", "one_call"] = "per_criterion"


class Experiment(_Section):
    """A validated experiment file."""

    experiment: ExperimentSection
    anchors: AnchorsSection
    prompt: PromptSection
    judge: JudgeSection
    scoring: ScoringSection = ScoringSection()
    run: RunSection = RunSection()
    budget: BudgetSection = BudgetSection()
    state: StateSection = Field(default_factory=StateSection)
    target: TargetSection = TargetSection()
    stopping: StoppingSection = StoppingSection()
    revision: RevisionSection = RevisionSection()
    tracking: TrackingSection = TrackingSection()
    report: ReportSection = ReportSection()
    gate: GateSection = GateSection()
    scorecard: ScorecardSection = ScorecardSection()

    #: The file it was loaded from (not part of the schema).
    source: Path | None = Field(default=None, exclude=True)

    @property
    def name(self) -> str:
        return self.experiment.name

    def for_criterion(self, criterion: str) -> Experiment:
        """The experiment on one question of its scorecard.

        The anchors are that question's view, the prompt is the question's
        (:meth:`PromptSection.for_criterion`), the target threshold the question's own
        (``[target] criteria``) or the shared one, and the name (hence the MLflow experiment
        and the calibration state) is ``<name>/<criterion>``; the judge, journal and budget
        are shared.
        """
        data = self.model_dump(mode="python")
        data["anchors"] = {**data["anchors"], "criterion": criterion}
        data["target"] = {**data["target"], "criteria": {},
                          "threshold": self.target.criteria.get(criterion,
                                                                self.target.threshold)}
        data["prompt"] = {**data["prompt"], "name": self.prompt.for_criterion(criterion),
                          "criteria": {}}
        data["experiment"] = {**data["experiment"], "name": f"{self.name}/{criterion}"}
        if self.tracking.experiment_name:
            data["tracking"] = {**data["tracking"],
                                "experiment_name": f"{self.tracking.experiment_name}/"
                                                   f"{criterion}"}
        return Experiment.model_validate({**data, "source": self.source})

    def with_overrides(self, **changes: dict[str, Any]) -> Experiment:
        """A copy with some section fields replaced, validated again.

        ``exp.with_overrides(judge={"model": "gpt-4o-mini"}, run={"concurrency": 4})``
        """
        data = self.model_dump(mode="python")
        for section, values in changes.items():
            data[section] = {**data[section], **{k: v for k, v in values.items()
                                                 if v is not None}}
        return Experiment.model_validate({**data, "source": self.source})


@dataclass(frozen=True)
class ExperimentProblem:
    line: int
    key: str
    message: str


class ExperimentError(Exception):
    """An experiment file could not be read; every problem names the file, line and key."""

    def __init__(self, path: Path | str, problems: list[ExperimentProblem]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        # line 0: a problem of the whole file (missing, unreadable), which has no line
        return "\n".join(
            f"{self.path}{f':{p.line}' if p.line else ''}: "
            f"{p.key + ': ' if p.key else ''}{p.message}"
            for p in self.problems
        )


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment TOML file.

    Raises
    ------
    ExperimentError
        For a missing file, invalid TOML (with its line) or schema violations (each with
        the line of the offending key, or of its table when the key is missing).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExperimentError(p, [ExperimentProblem(0, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(p, [ExperimentProblem(0, "", f"cannot read: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ExperimentError(p, [ExperimentProblem(0, "", "invalid TOML: nested too deeply")]
                              ) from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) if m else 0
        raise ExperimentError(p, [ExperimentProblem(line, "", f"invalid TOML: {exc}")]) from None
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as exc:
        locator = _KeyLines(text)
        problems = []
        for err in exc.errors():
            loc = [str(part) for part in err["loc"]]
            key = ".".join(loc)
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see experiments/README.md)"
            elif err["type"] == "missing":
                msg = "required key is missing"
            problems.append(ExperimentProblem(locator.line_of(loc), key, msg))
        raise ExperimentError(p, problems) from None
    return exp.model_copy(update={"source": p})


class _KeyLines:
    """Find the line of ``[table]`` / ``key =`` in TOML text (1-based; 0 if unknown)."""

    _TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.keys: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for i, line in enumerate(text.splitlines(), start=1):
            m = self._TABLE.match(line)
            if m:
                table = tuple(m.group(1).split("."))
                self.keys.setdefault(table, i)
                continue
            m = self._KEY.match(line)
            if m:
                self.keys.setdefault((*table, m.group(1)), i)

    def line_of(self, loc: list[str]) -> int:
        for n in range(len(loc), 0, -1):
            line = self.keys.get(tuple(loc[:n]))
            if line:
                return line
        return 1
