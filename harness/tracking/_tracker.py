"""The :class:`Tracker`: runs, batched logging and the Prompt Registry over one MlflowClient."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import posixpath
import re
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.agreement import jsonable
from harness.journal import redact
from harness.prompts import mlflow_template

from ._env import is_http, load_mlflow, make_client, resolve_tracking_uri, sqlite_path
from ._names import mlflow_key, prompt_registry_name
from ._runs import ITERATION_TAG, PARENT_TAG, RUN_TYPE_TAG, CalibrationRun, IterationRun

if TYPE_CHECKING:
    from harness.prompts import PromptVersion

_log = logging.getLogger(__name__)

_HASH = re.compile(r"^[0-9A-Za-z]+$")
_NOT_FOUND_CODES = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")
# Registry searches exclude prompts unless the filter asks for this tag (sqlalchemy store).
_IS_PROMPT = "mlflow.prompt.is_prompt"
_LINKED_PROMPTS = "mlflow.linkedPrompts"  # the run tag MLflow's UI reads
_MAX_REDACT_BYTES = 50 * 1024 * 1024  # larger artifact files are uploaded as they are


class Tracker:
    """Logs a calibration to MLflow: runs, params, metrics, artifacts, prompt versions.

    All MLflow access goes through one :class:`mlflow.MlflowClient` bound to the tracking
    URI (no global active-run state), so two trackers, or a parent and its nested runs, are
    explicit. The experiment is looked up (or created) once, on first use.

    Parameters
    ----------
    experiment_name : str
        The MLflow experiment (created when missing; restored when deleted).
    tracking_uri : str, optional
        The configured URI; ``$MLFLOW_TRACKING_URI`` overrides it; default
        ``sqlite:///mlflow.db`` (relative to the working directory, made absolute). For a
        SQLite store, new experiments keep their artifacts in ``mlruns/<experiment>/``
        beside the database file.
    secrets : sequence of str, optional
        Values (API keys) to redact from every string logged, in addition to anything
        shaped like a key (:func:`harness.journal.redact`).

    Attributes
    ----------
    tracking_uri : str
        The URI in use.
    experiment_name : str
    """

    def __init__(self, experiment_name: str, tracking_uri: str | None = None, *,
                 secrets: Sequence[str] = ()) -> None:
        if not experiment_name:
            raise ValueError("experiment_name must not be empty")
        self.experiment_name = experiment_name
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self._secrets = tuple(s for s in secrets if s)
        self._ml = load_mlflow()
        self._client = make_client(self._ml, self.tracking_uri)
        self._experiment_id: str | None = None

    def __repr__(self) -> str:
        return f"Tracker({self.experiment_name!r}, tracking_uri={self.tracking_uri!r})"

    # ------------------------------------------------------------- experiment

    @property
    def experiment_id(self) -> str:
        """The experiment's id (looked up or created on first access, then cached)."""
        if self._experiment_id is None:
            self._experiment_id = self._get_or_create_experiment()
        return self._experiment_id

    def _get_or_create_experiment(self) -> str:
        client, name = self._client, self.experiment_name
        exp = client.get_experiment_by_name(name)
        if exp is None:
            try:
                return client.create_experiment(name, artifact_location=self._artifact_root())
            except self._ml.MlflowException:
                exp = client.get_experiment_by_name(name)  # created concurrently?
                if exp is None:
                    raise
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id

    def _artifact_root(self) -> str | None:
        db = sqlite_path(self.tracking_uri)
        if db is None:
            return None  # the server (or MLflow's default) decides
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.experiment_name).lstrip(".") or "_"
        return str(db.parent / "mlruns" / safe)

    # ------------------------------------------------------------------- runs

    def start_calibration(self, run_name: str, *, params: Mapping[str, Any],
                          tags: Mapping[str, Any],
                          resume_run_id: str | None = None) -> CalibrationRun:
        """Create the parent run of a calibration, or reopen one (``resume_run_id``).

        Use the result as a context manager: on normal exit the run is marked FINISHED; on
        any exception (``KeyboardInterrupt`` included) FAILED, and the exception re-raised.
        The run exists (``RUNNING``) as soon as this returns.

        On resume, the run is set ``RUNNING`` again; nested runs the killed process left
        ``RUNNING`` are marked ``KILLED``; params already logged with the same value are
        skipped and params whose value changed are stored as tags ``resumed.<key>`` (MLflow
        params are immutable); the tag ``judgecal.resume_count`` is incremented.

        Parameters
        ----------
        run_name : str
        params : mapping
        tags : mapping
        resume_run_id : str, optional
            A run of this experiment to reopen.

        Returns
        -------
        CalibrationRun

        Raises
        ------
        ValueError
            When ``resume_run_id`` is not in the store, belongs to another experiment or
            was deleted.
        """
        exp_id = self.experiment_id
        run_tags = {**self._tags(tags), RUN_TYPE_TAG: "calibration"}
        if resume_run_id is None:
            run = self._client.create_run(exp_id, tags=run_tags, run_name=run_name)
            run_id = run.info.run_id
            with _failing(self, run_id):
                self._log_batch(run_id, params=params)
            return CalibrationRun(self, run_id, run_name, resumed=False)

        try:
            run = self._client.get_run(resume_run_id)
        except self._ml.MlflowException as exc:
            if exc.error_code not in _NOT_FOUND_CODES:
                raise
            raise ValueError(f"run {resume_run_id} not found in {self.tracking_uri}; it "
                             "cannot be resumed") from exc
        if run.info.experiment_id != exp_id:
            raise ValueError(f"run {resume_run_id} belongs to experiment "
                             f"{run.info.experiment_id}, not {exp_id} ({self.experiment_name})")
        if run.info.lifecycle_stage != "active":
            raise ValueError(f"run {resume_run_id} was deleted; it cannot be resumed")
        for child in self._children(resume_run_id):
            if child.info.status == "RUNNING":
                self._terminate(child.info.run_id, "KILLED", quiet=False)
        self._client.update_run(resume_run_id, status="RUNNING")
        with _failing(self, resume_run_id):
            existing = run.data.params
            new_params: dict[str, str] = {}
            for key, value in self._params(params).items():
                if key not in existing:
                    new_params[key] = value
                elif existing[key] != value:
                    run_tags[mlflow_key(f"resumed.{key}")] = value
            count = int(run.data.tags.get("judgecal.resume_count", "0") or 0) + 1
            run_tags["judgecal.resume_count"] = str(count)
            self._log_batch(resume_run_id, params=new_params, tags=run_tags, clean=True)
        return CalibrationRun(self, resume_run_id, run_name or run.info.run_name, resumed=True)

    def _create_iteration(self, parent_run_id: str, iteration: int, params: Mapping[str, Any],
                          tags: Mapping[str, Any]) -> IterationRun:
        run_tags = {**self._tags(tags), PARENT_TAG: parent_run_id,
                    ITERATION_TAG: str(iteration), RUN_TYPE_TAG: "iteration"}
        run = self._client.create_run(self.experiment_id, tags=run_tags,
                                      run_name=f"iteration-{iteration}")
        run_id = run.info.run_id
        with _failing(self, run_id):
            self._log_batch(run_id, params=params)
        return IterationRun(self, run_id, parent_run_id, iteration)

    def _children(self, parent_run_id: str) -> list[Any]:
        out: list[Any] = []
        token = None
        while True:
            page = self._client.search_runs(
                [self.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
                max_results=1000, page_token=token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    def _finished_iterations(self, parent_run_id: str) -> dict[int, str]:
        best: dict[int, tuple[int, str]] = {}
        for child in self._children(parent_run_id):
            if child.info.status != "FINISHED":
                continue
            raw = child.data.tags.get(ITERATION_TAG)
            try:
                i = int(raw)
            except (TypeError, ValueError):
                continue
            start = child.info.start_time or 0
            if i not in best or start >= best[i][0]:
                best[i] = (start, child.info.run_id)
        return {i: best[i][1] for i in sorted(best)}

    def supersede(self, run_id: str, by_run_id: str, reason: str) -> bool:
        """Close a calibration run that a new one replaces (e.g. after a config change).

        A run a killed process left ``RUNNING`` would stay so forever once the calibration
        restarts under a new parent run. It is marked ``FAILED`` (its running children
        ``KILLED``), tagged ``judgecal.superseded_by`` and given a note that points at the
        new run. A run that already ended keeps its status and gets the tag and note.

        Parameters
        ----------
        run_id : str
            The old parent run.
        by_run_id : str
            The new parent run.
        reason : str
            Why it was replaced, for the note.

        Returns
        -------
        bool
            False when ``run_id`` is not in the store (nothing to do).
        """
        try:
            run = self._client.get_run(run_id)
        except self._ml.MlflowException:
            return False
        for child in self._children(run_id):
            if child.info.status == "RUNNING":
                self._terminate(child.info.run_id, "KILLED", quiet=True)
        note = (f"Superseded by run {by_run_id}: {reason}. This run was not finished; "
                "its iterations stay here for the record.")
        self._log_batch(run_id, tags={"judgecal.superseded_by": by_run_id,
                                      "mlflow.note.content": note})
        if run.info.status == "RUNNING":
            self._terminate(run_id, "FAILED", quiet=False)
        return True

    def _terminate(self, run_id: str, status: str, *, quiet: bool) -> None:
        try:
            self._client.set_terminated(run_id, status=status)
        except Exception:
            if not quiet:
                raise
            _log.warning("could not mark MLflow run %s %s", run_id, status, exc_info=True)

    # ---------------------------------------------------------------- logging

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets) or ""

    def _params(self, params: Mapping[str, Any]) -> dict[str, str]:
        limit = self._ml.limits.param_value
        return {mlflow_key(k): self._redact(_stringify(v))[:limit]
                for k, v in params.items() if v is not None}

    def _tags(self, tags: Mapping[str, Any]) -> dict[str, str]:
        limit = self._ml.limits.tag_value
        return {mlflow_key(k): self._redact(_stringify(v))[:limit]
                for k, v in tags.items() if v is not None}

    def _log_batch(self, run_id: str, *, params: Mapping[str, Any] | None = None,
                   tags: Mapping[str, Any] | None = None,
                   metrics: Mapping[str, float | None] | None = None, step: int = 0,
                   clean: bool = False) -> None:
        ml = self._ml
        p = (params if clean else self._params(params)) if params else {}
        t = (tags if clean else self._tags(tags)) if tags else {}
        m: list[Any] = []
        if metrics:
            ts = int(time.time() * 1000)
            for key, value in metrics.items():
                if value is None:
                    continue
                v = float(value)
                if not math.isfinite(v):
                    continue
                m.append(ml.Metric(mlflow_key(key), v, ts, int(step)))
        if not (p or t or m):
            return
        self._client.log_batch(
            run_id,
            metrics=m,
            params=[ml.Param(k, v) for k, v in p.items()],
            tags=[ml.RunTag(k, v) for k, v in t.items()],
        )

    def _log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._client.log_text(run_id, self._redact(text), artifact_file)

    def _log_dict(self, run_id: str, obj: Any, artifact_file: str) -> None:
        data = jsonable(obj)
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
        self._log_text(run_id, text, artifact_file)

    def _log_figure(self, run_id: str, fig: Any, artifact_file: str) -> None:
        directory, name = posixpath.split(artifact_file)
        fmt = posixpath.splitext(name)[1].lstrip(".").lower()
        if fmt not in ("png", "svg", "pdf", "jpg", "jpeg"):
            fmt, name = "png", name + ".png"
        with tempfile.TemporaryDirectory(prefix="judgecal-fig-") as tmp:
            local = Path(tmp) / name
            # no bbox_inches="tight" (it renders twice) and light PNG compression: the
            # loop logs three figures per iteration within its < 1 s overhead budget
            kwargs = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}
            fig.savefig(local, format=fmt, dpi=fig.dpi, **kwargs)
            self._client.log_artifact(run_id, str(local), directory or None)

    def _log_artifact(self, run_id: str, path: Path, artifact_path: str | None) -> None:
        if not path.exists():
            raise FileNotFoundError(path)
        with tempfile.TemporaryDirectory(prefix="judgecal-art-") as tmp:
            local = self._redacted_copy(path, Path(tmp))
            self._client.log_artifact(run_id, str(local), artifact_path)

    def _redacted_copy(self, path: Path, tmp: Path) -> Path:
        """``path`` itself, or a copy under ``tmp`` (same name) with text files redacted."""
        files = [path] if path.is_file() else sorted(f for f in path.rglob("*") if f.is_file())
        changed: dict[Path, str] = {}
        for f in files:
            red = self._redacted_text(f)
            if red is not None:
                changed[f] = red
        if not changed:
            return path
        target = tmp / path.name
        if path.is_file():
            target.write_text(changed[path], encoding="utf-8")
            return target
        shutil.copytree(path, target)
        for f, text in changed.items():
            (target / f.relative_to(path)).write_text(text, encoding="utf-8")
        return target

    def _redacted_text(self, f: Path) -> str | None:
        """The redacted text of a UTF-8 file when redaction changes it, else None."""
        try:
            if f.stat().st_size > _MAX_REDACT_BYTES:
                return None
            data = f.read_bytes()
            if b"\0" in data:
                return None
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        red = self._redact(text)
        return red if red != text else None

    # -------------------------------------------------------- prompt registry

    def register_prompt_version(self, pv: PromptVersion, *, commit_message: str,
                                tags: Mapping[str, Any]) -> int:
        """Register a prompt version in the MLflow Prompt Registry as an MLflow-native chat prompt.

        The template is :func:`harness.prompts.mlflow_template` of ``pv``: one message per
        marker, in plain Jinja, so that an application with MLflow alone gets the messages
        judgecal sends from ``mlflow.genai.load_prompt("prompts:/NAME@ALIAS").format(item=...,
        rubric=..., criterion=..., scale=..., examples=...)``. The judgecal file text
        (``pv.text``, header included) is kept verbatim in the version tag ``judgecal_text``
        (read back with :meth:`prompt_text`). The registry name is
        :func:`prompt_registry_name` of ``pv.name``. Version tags: ``judgecal_name``,
        ``judgecal_version`` (``"v1"``), ``content_hash``, ``parent`` (``"v1"`` or
        ``"none"``), ``scoring``, ``scale`` (``"1-5"``), ``changelog``, ``judgecal_text``,
        plus ``tags`` (stringified, redacted).

        Idempotent: when a version of that prompt with the same ``content_hash`` tag is
        registered already, its number is returned and nothing is registered.

        Parameters
        ----------
        pv : PromptVersion
        commit_message : str
        tags : mapping

        Returns
        -------
        int
            The registry version number (MLflow's own numbering, 1, 2, ...).

        Raises
        ------
        ValueError
            When the prompt text contains one of the tracker's secrets (the text is not
            redacted, since it must stay verbatim).
        PromptError
            When MLflow cannot render the template as judgecal does (``path:line:`` naming
            the construct); nothing is registered.
        """
        found = self.find_prompt_version(pv.name, pv.hash)
        if found is not None:
            return found
        if any(s in pv.text for s in self._secrets):
            raise ValueError(f"{pv.path}: the prompt text contains a secret; not registered")
        template = mlflow_template(pv)
        limit = self._ml.limits.registry_tag_value
        all_tags = {mlflow_key(k): self._redact(_stringify(v))[:limit]
                    for k, v in tags.items() if v is not None}
        all_tags.update({
            "judgecal_name": pv.name,
            "judgecal_version": pv.label,
            "content_hash": pv.hash,
            "parent": f"v{pv.parent}" if pv.parent is not None else "none",
            "scoring": pv.scoring,
            "scale": "scorecard" if pv.scale is None else f"{pv.scale[0]}-{pv.scale[1]}",
            "changelog": self._redact(pv.changelog or "")[:limit],
            "judgecal_text": pv.text,
        })
        with _prompt_link_experiment(self.experiment_id):
            registered = self._client.register_prompt(
                name=prompt_registry_name(pv.name),
                template=template,
                commit_message=self._redact(commit_message or ""),
                tags=all_tags,
            )
        return int(registered.version)

    def find_prompt_version(self, name: str, content_hash: str) -> int | None:
        """The registry version of prompt ``name`` whose ``content_hash`` tag matches.

        Parameters
        ----------
        name : str
            The judgecal prompt name.
        content_hash : str
            :attr:`PromptVersion.hash`.

        Returns
        -------
        int or None
            The lowest matching version number; None when none (or no such prompt).
        """
        if not _HASH.match(content_hash):
            raise ValueError(f"not a content hash: {content_hash!r}")
        rname = prompt_registry_name(name)
        versions = self._client.search_model_versions(
            filter_string=(f"name = '{rname}' AND tags.`{_IS_PROMPT}` = 'true' "
                           f"AND tags.`content_hash` = '{content_hash}'"))
        numbers = [int(mv.version) for mv in versions]
        return min(numbers) if numbers else None

    def set_prompt_alias(self, name: str, alias: str, registry_version: int) -> None:
        """Point ``alias`` (e.g. ``candidate``, ``production``) at a registry version.

        Parameters
        ----------
        name : str
            The judgecal prompt name.
        alias : str
        registry_version : int
        """
        self._client.set_prompt_alias(prompt_registry_name(name), alias, int(registry_version))

    def set_prompt_version_tags(self, name: str, registry_version: int,
                                tags: Mapping[str, Any]) -> None:
        """Set tags on a registry version (e.g. holdout figures); values stringified, redacted.

        Parameters
        ----------
        name : str
            The judgecal prompt name.
        registry_version : int
        tags : mapping
            ``None`` values are skipped.
        """
        rname = prompt_registry_name(name)
        limit = self._ml.limits.registry_tag_value
        for key, value in tags.items():
            if value is None:
                continue
            self._client.set_prompt_version_tag(
                rname, str(int(registry_version)), mlflow_key(key),
                self._redact(_stringify(value))[:limit])

    def prompt_version_for_alias(self, name: str, alias: str
                                 ) -> tuple[int, dict[str, str]] | None:
        """The registry version an alias points at, with its tags (MLflow-internal ones left out).

        Parameters
        ----------
        name : str
            The judgecal prompt name.
        alias : str

        Returns
        -------
        tuple of (int, dict) or None
            None when the prompt or the alias does not exist.
        """
        try:
            pv = self._client.get_prompt_version_by_alias(prompt_registry_name(name), alias)
        except self._ml.MlflowException as exc:
            if exc.error_code in _NOT_FOUND_CODES:
                return None
            raise
        if pv is None:
            return None
        return int(pv.version), dict(pv.tags)

    def prompt_version_tags(self, name: str, registry_version: int) -> dict[str, str]:
        """The tags of one registry version (e.g. its holdout figures and anchors hash).

        Parameters
        ----------
        name : str
            The judgecal prompt name.
        registry_version : int

        Returns
        -------
        dict of str to str
        """
        pv = self._client.get_prompt_version(prompt_registry_name(name), str(int(registry_version)))
        return dict(pv.tags or {})

    def prompt_text(self, name: str, registry_version: int) -> str:
        """The judgecal file text of a registry version (its ``judgecal_text`` tag).

        A version registered before MLflow-native templates holds the file text as its
        template; that is returned then.

        Parameters
        ----------
        name : str
            The judgecal prompt name.
        registry_version : int

        Returns
        -------
        str
        """
        pv = self._client.get_prompt_version(prompt_registry_name(name), str(registry_version))
        text = (pv.tags or {}).get("judgecal_text")
        return text if text is not None else pv.template

    def _link_prompt(self, run_id: str, name: str, registry_version: int) -> None:
        # MlflowClient.link_prompt_version_to_run reads and writes the run through the
        # *global* tracking store (mlflow 3.17), not this client's; so set its run tag here.
        rname, version = prompt_registry_name(name), str(int(registry_version))
        self._client.get_prompt_version(rname, version)  # raises when it does not exist
        current = self._client.get_run(run_id).data.tags.get(_LINKED_PROMPTS)
        linked = json.loads(current) if current else []
        entry = {"name": rname, "version": version}
        if entry not in linked:
            self._client.set_tag(run_id, _LINKED_PROMPTS, json.dumps(linked + [entry]))

    # ------------------------------------------------------------------ hints

    def log_summary_run(self, run_name: str, *, run_type: str, params: Mapping[str, Any],
                        metrics: Mapping[str, float | None], tags: Mapping[str, Any],
                        documents: Mapping[str, Any] | None = None) -> str:
        """A finished run that sums up other runs (a scorecard's calibration, say).

        Parameters
        ----------
        run_name : str
        run_type : str
            The ``judgecal.run_type`` tag (e.g. ``"scorecard"``).
        params, metrics, tags : mapping
            Logged at once (redacted like every other run's); None or non-finite metrics
            are left out.
        documents : mapping of str to object, optional
            Artifact file name -> a JSON-able object.

        Returns
        -------
        str
            The run id (the run is FINISHED, or FAILED if logging failed).
        """
        run = self._client.create_run(self.experiment_id, run_name=run_name,
                                      tags={**self._tags(tags), RUN_TYPE_TAG: run_type})
        run_id = run.info.run_id
        with _failing(self, run_id):
            self._log_batch(run_id, params=params, metrics=metrics)
            for name, obj in (documents or {}).items():
                self._log_dict(run_id, obj, name)
        self._client.set_terminated(run_id, status="FINISHED")
        return run_id

    def set_run_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Add tags to an existing run (finished or not), redacted like every other tag."""
        self._log_batch(run_id, tags=tags)

    def run_link(self, run_id: str) -> str:
        """A human hint to find a run: ``"experiment <id>, run <id>"`` (+ UI URL over http).

        Parameters
        ----------
        run_id : str

        Returns
        -------
        str
        """
        try:
            exp_id = self._client.get_run(run_id).info.experiment_id
        except Exception:
            exp_id = self._experiment_id or "?"
        text = f"experiment {exp_id}, run {run_id}"
        if is_http(self.tracking_uri):
            text += f": {self.tracking_uri.rstrip('/')}/#/experiments/{exp_id}/runs/{run_id}"
        return text

    def ui_command(self) -> str:
        """How to look at the results: ``mlflow ui --backend-store-uri <uri>``, or the URL.

        Returns
        -------
        str
            For an ``http(s)`` tracking server, its URL (the UI is served there).
        """
        if is_http(self.tracking_uri):
            return self.tracking_uri
        return f"mlflow ui --backend-store-uri {shlex.quote(self.tracking_uri)}"


_FLUENT_LOCK = threading.Lock()


@contextlib.contextmanager
def _prompt_link_experiment(experiment_id: str) -> Iterator[None]:
    """Make MLflow link a prompt being registered to ``experiment_id``.

    ``MlflowClient.register_prompt`` links the new version (in a background thread) to
    ``mlflow.tracking.fluent._get_experiment_id()``: the global active experiment, which
    without ``mlflow.set_experiment`` is the Default experiment "0" of *any* store. For the
    duration of the call, that global points at this tracker's experiment instead.
    """
    try:
        from mlflow.tracking import fluent
    except ImportError:  # pragma: no cover - layout of another MLflow version
        yield
        return
    if not hasattr(fluent, "_active_experiment_id"):  # pragma: no cover
        yield
        return
    with _FLUENT_LOCK:
        saved = fluent._active_experiment_id
        fluent._active_experiment_id = experiment_id
        try:
            yield
        finally:
            fluent._active_experiment_id = saved


class _failing:
    """Context manager: mark ``run_id`` FAILED if the block raises (then re-raise)."""

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        self._tracker, self._run_id = tracker, run_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None:
            self._tracker._terminate(self._run_id, "FAILED", quiet=True)


def _stringify(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple | set):
        data = sorted(value, key=str) if isinstance(value, set) else value
        return json.dumps(jsonable(data), sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        try:
            return str(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)
