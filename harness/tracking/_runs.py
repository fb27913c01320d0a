"""Run handles: the calibration (parent) run and its nested iteration runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._tracker import Tracker

_log = logging.getLogger(__name__)

#: Tag keys this package sets on its runs.
ITERATION_TAG = "iteration"
PARENT_TAG = "mlflow.parentRunId"
RUN_TYPE_TAG = "judgecal.run_type"


class _Run:
    """Logging methods shared by calibration and iteration runs.

    Every string logged (param values, tag values, text artifacts) goes through
    :func:`harness.journal.redact` with the tracker's secrets first.
    """

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        self._tracker = tracker
        self._run_id = run_id
        self._status: str | None = None  # set once ended

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self._run_id

    @property
    def ended(self) -> bool:
        """True once the run has been marked FINISHED, FAILED or KILLED by this handle."""
        return self._status is not None

    # ------------------------------------------------------------------ logging

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters in one batch.

        Parameters
        ----------
        params : mapping
            Values are stringified (dicts and lists as JSON), redacted and truncated to
            MLflow's limit; ``None`` values are skipped. Keys are made MLflow-valid.
        """
        self._tracker._log_batch(self._run_id, params=params)

    def log_metrics(self, metrics: Mapping[str, float | None], step: int) -> None:
        """Log metrics at ``step`` in one batch; ``None``, NaN and infinite values are skipped.

        Parameters
        ----------
        metrics : mapping of str to float or None
        step : int
            E.g. the iteration number.
        """
        self._tracker._log_batch(self._run_id, metrics=metrics, step=step)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags in one batch (values stringified, redacted, truncated; ``None`` skipped).

        Parameters
        ----------
        tags : mapping
        """
        self._tracker._log_batch(self._run_id, tags=tags)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Upload a local file or directory; text files are uploaded redacted.

        Parameters
        ----------
        path : str or Path
        artifact_path : str, optional
            Directory within the run's artifacts.
        """
        self._tracker._log_artifact(self._run_id, Path(path), artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Store ``text`` (redacted) as the artifact ``artifact_file`` (e.g. ``"dir/a.md"``).

        Parameters
        ----------
        text : str
        artifact_file : str
        """
        self._tracker._log_text(self._run_id, text, artifact_file)

    def log_dict(self, obj: Any, artifact_file: str) -> None:
        """Store ``obj`` as JSON (or YAML for ``.yaml``/``.yml``), redacted.

        NumPy values, tuples and non-finite floats are converted (``jsonable``).

        Parameters
        ----------
        obj : Any
        artifact_file : str
        """
        self._tracker._log_dict(self._run_id, obj, artifact_file)

    def log_figure(self, fig: Any, artifact_file: str) -> None:
        """Store a matplotlib figure as an image artifact (PNG unless the name says otherwise).

        Parameters
        ----------
        fig : matplotlib.figure.Figure
        artifact_file : str
            E.g. ``"plots/scatter.png"``.
        """
        self._tracker._log_figure(self._run_id, fig, artifact_file)

    def link_prompt(self, name: str, registry_version: int) -> None:
        """Link a registered prompt version to this run (shown in the MLflow UI).

        Parameters
        ----------
        name : str
            The judgecal prompt name.
        registry_version : int
        """
        self._tracker._link_prompt(self._run_id, name, registry_version)

    # --------------------------------------------------------------- lifecycle

    def end(self, status: str = "FINISHED") -> None:
        """Mark the run terminated (``FINISHED``, ``FAILED`` or ``KILLED``); idempotent.

        Parameters
        ----------
        status : str, optional
        """
        if self._status is not None:
            return
        self._tracker._terminate(self._run_id, status, quiet=False)
        self._status = status

    def _exit(self, exc_type: type[BaseException] | None) -> None:
        if self._status is not None:
            return
        if exc_type is None:
            self.end("FINISHED")
        else:
            # Never mask the exception that is propagating.
            self._tracker._terminate(self._run_id, "FAILED", quiet=True)
            self._status = "FAILED"


class IterationRun(_Run):
    """A nested run for one calibration iteration (tags ``mlflow.parentRunId``, ``iteration``).

    A context manager: FINISHED on normal exit, FAILED on any exception (including
    ``KeyboardInterrupt``), which is re-raised.
    """

    def __init__(self, tracker: Tracker, run_id: str, parent_run_id: str, iteration: int
                 ) -> None:
        super().__init__(tracker, run_id)
        self.parent_run_id = parent_run_id
        self.iteration = iteration

    def __enter__(self) -> IterationRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._exit(exc_type)

    def __repr__(self) -> str:
        return f"IterationRun(iteration={self.iteration}, run_id={self.run_id!r})"


class CalibrationRun(_Run):
    """The parent run of one calibration; see :meth:`Tracker.start_calibration`.

    A context manager: FINISHED on normal exit, FAILED on any exception (including
    ``KeyboardInterrupt``), which is re-raised. Iteration runs opened through
    :meth:`iteration` and still open at that point are ended with the same status.

    Attributes
    ----------
    run_id : str
    run_name : str
    resumed : bool
        True when the run was reopened with ``resume_run_id``.
    """

    def __init__(self, tracker: Tracker, run_id: str, run_name: str, *, resumed: bool) -> None:
        super().__init__(tracker, run_id)
        self.run_name = run_name
        self.resumed = resumed
        self._open: list[IterationRun] = []

    def iteration(self, iteration: int, *, params: Mapping[str, Any],
                  tags: Mapping[str, Any] | None = None) -> IterationRun:
        """Open a nested run for ``iteration`` (use it as a context manager).

        Parameters
        ----------
        iteration : int
            1-based; stored as the tag ``iteration``; the run is named ``iteration-<i>``.
        params : mapping
        tags : mapping, optional

        Returns
        -------
        IterationRun
        """
        run = self._tracker._create_iteration(self._run_id, int(iteration), params, tags or {})
        self._open = [r for r in self._open if not r.ended]
        self._open.append(run)
        return run

    def finished_iterations(self) -> dict[int, str]:
        """Iterations with a FINISHED run under this parent: ``{iteration: run_id}``.

        Read from the store, so after a resume it includes what the killed process finished.
        With several FINISHED runs for one iteration, the latest started wins.

        Returns
        -------
        dict of int to str
        """
        return self._tracker._finished_iterations(self._run_id)

    def find_iteration(self, iteration: int) -> str | None:
        """The run id of a FINISHED run for ``iteration`` under this parent, or None.

        Parameters
        ----------
        iteration : int

        Returns
        -------
        str or None
        """
        return self.finished_iterations().get(int(iteration))

    def __enter__(self) -> CalibrationRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        status = "FINISHED" if exc_type is None else "FAILED"
        for run in self._open:
            if not run.ended:
                if exc_type is None:
                    _log.warning("iteration %s was still open; ending it", run.iteration)
                run._exit(exc_type)
        self._open = []
        if exc_type is None:
            self.end(status)
        else:
            self._exit(exc_type)

    def __repr__(self) -> str:
        return f"CalibrationRun(run_name={self.run_name!r}, run_id={self.run_id!r})"
