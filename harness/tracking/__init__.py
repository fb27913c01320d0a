"""MLflow tracking for the calibration loop; the only place that imports MLflow.

:class:`Tracker` logs a calibration as a parent run with one nested run per iteration
(:meth:`Tracker.start_calibration`, :meth:`CalibrationRun.iteration`), batches params,
metrics and tags, stores artifacts and figures, and keeps prompt versions in the MLflow
Prompt Registry (text verbatim, content-hash idempotent, aliases, version tags).
Every string logged passes through :func:`harness.journal.redact`.

Tracking URI
    ``$MLFLOW_TRACKING_URI`` > the configured URI > ``sqlite:///mlflow.db`` (working
    directory): :func:`resolve_tracking_uri`. MLflow is imported lazily and quietly (telemetry
    off, log level WARNING, no progress bars, no URLs printed), see ``_env``.
Runs
    Context managers: FINISHED on normal exit, FAILED on any exception (then re-raised),
    never left RUNNING by an exception. A killed calibration is reopened with
    ``resume_run_id``; :meth:`CalibrationRun.finished_iterations` lists what is done.
Judges
    A prompt version is not a judge: :func:`judge_tags` records the judge (provider,
    model, endpoint, scoring mode, parameters; ``judgecal.judge.*`` and
    ``judgecal.judge_hash``) with a registry version or an alias, :func:`judge_record` reads
    it back, :meth:`JudgeRecord.differences` names what changed.
Prompt names
    :func:`prompt_registry_name`: MLflow allows ``[a-zA-Z0-9_.-]``; judgecal names already
    comply (identity), other characters become ``_``.
"""

from ._env import DEFAULT_TRACKING_URI, resolve_tracking_uri
from ._judge import JudgeRecord, judge_hash, judge_params, judge_record, judge_tags
from ._names import metrics_from_figures, mlflow_key, prompt_registry_name
from ._runs import CalibrationRun, IterationRun
from ._tracker import Tracker

__all__ = [
    "DEFAULT_TRACKING_URI",
    "CalibrationRun",
    "IterationRun",
    "JudgeRecord",
    "Tracker",
    "judge_hash",
    "judge_params",
    "judge_record",
    "judge_tags",
    "metrics_from_figures",
    "mlflow_key",
    "prompt_registry_name",
    "resolve_tracking_uri",
]
