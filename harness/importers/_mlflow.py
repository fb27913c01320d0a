"""MLflow 3 assessments: LLM-judge and human feedback logged on an experiment's traces."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from ._common import (
    Imported,
    ImporterError,
    Score,
    build_frames,
    parse_labels,
    raise_problems,
    to_number,
)

#: Traces read per request.
_PAGE = 500


def _experiment(client: Any, ml: Any, name_or_id: str, uri: str) -> Any:
    """The experiment named (or with the id) ``name_or_id``; ImporterError when none is."""
    exp = client.get_experiment_by_name(name_or_id)
    if exp is None and name_or_id.isdigit():
        try:
            exp = client.get_experiment(name_or_id)
        except ml.MlflowException:
            exp = None
    if exp is None:
        names = [e.name for e in client.search_experiments(max_results=20)]
        known = f"; experiments there: {', '.join(names)}" if names else "; it has none"
        raise ImporterError(name_or_id, f"no MLflow experiment with this name or id at "
                                        f"{uri}{known}")
    return exp


def _item_id(info: Any, item_key: str | None, where: str) -> str:
    """A trace's item id: the trace id, or its tag (else request metadata) ``item_key``."""
    if item_key is None:
        return str(info.trace_id)
    for found in (info.tags, info.trace_metadata):
        value = (found or {}).get(item_key)
        if value is not None and str(value).strip():
            return str(value).strip()
    raise ImporterError(where, f"trace {info.trace_id} has no tag or request metadata "
                               f"{item_key!r} (--item-key)")


def read_mlflow(experiment: str, *, tracking_uri: str | None = None,
                item_key: str | None = None,
                labels: str | dict[str, float] | None = None,
                criterion: str | None = None) -> Imported:
    """Feedback assessments on an MLflow experiment's traces.

    Parameters
    ----------
    experiment : str
        The experiment's name, or its id.
    tracking_uri : str, optional
        Default ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``. A SQLite store that
        does not exist is an error (it is not created).
    item_key : str, optional
        A trace tag (or request-metadata key) holding the item id; default the trace id.
    labels : str or dict, optional
        Text feedback values -> numbers (:func:`parse_labels`); without it text values are
        refused.
    criterion : str, optional
        Import only the feedback of this name.

    Returns
    -------
    Imported
        LLM_JUDGE feedback as judgments (judge = the source id, criterion = the feedback
        name), HUMAN feedback as human ratings (rater = the source id). Overridden
        (invalid) feedback, feedback carrying an error instead of a value, feedback from
        CODE sources and expectations are skipped and counted.
    """
    from harness.tracking._env import (
        DEFAULT_TRACKING_URI,
        load_mlflow,
        make_client,
        sqlite_path,
    )

    where = experiment
    table = parse_labels(labels)
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        raise ImporterError(where, f"no MLflow tracking store at {uri} (no file "
                                   f"{db.absolute()}); give --tracking-uri")
    if db is not None:
        uri = f"sqlite:///{db.absolute()}"  # not resolve_tracking_uri: the env would win
    ml = load_mlflow()
    try:
        client = make_client(ml, uri)
        exp = _experiment(client, ml, experiment, uri)
        traces: list[Any] = []
        token = None
        while True:
            page = client.search_traces(locations=[exp.experiment_id], max_results=_PAGE,
                                        page_token=token, include_spans=False,
                                        order_by=["timestamp_ms ASC"])
            traces.extend(page)
            token = page.token
            if not token:
                break
    except ml.MlflowException as exc:
        raise ImporterError(where, f"MLflow at {uri}: {exc.message}") from None

    judged: list[Score] = []
    humans: list[Score] = []
    skipped: Counter[str] = Counter()
    problems: list[str] = []
    for trace in traces:
        info = trace.info
        item = _item_id(info, item_key, where)
        for a in sorted(info.assessments or [], key=lambda a: a.create_time_ms or 0):
            feedback = getattr(a, "feedback", None)
            if feedback is None:
                skipped["expectations"] += 1
                continue
            if criterion is not None and a.name != criterion:
                continue
            if a.valid is False:
                skipped["overridden"] += 1
                continue
            kind = str(a.source.source_type)
            if kind not in ("LLM_JUDGE", "HUMAN"):
                skipped[f"{kind} source"] += 1
                continue
            if feedback.error is not None and feedback.value is None:
                skipped["error instead of a value"] += 1
                continue
            at = f"trace {info.trace_id} assessment {a.assessment_id} ({a.name!r})"
            value, why = to_number(feedback.value, table)
            if why is not None:
                problems.append(f"{at}: {why}")
                continue
            assert value is not None
            score = Score(item, str(a.source.source_id), str(a.name), value,
                          rationale=a.rationale or "", where=at)
            (judged if kind == "LLM_JUDGE" else humans).append(score)
    raise_problems(where, problems)
    if not judged and not humans:
        what = f"feedback named {criterion!r}" if criterion else "LLM-judge or human feedback"
        raise ImporterError(where, f"no {what} on the experiment's {len(traces)} trace(s)")
    judgments, human_frame = build_frames(judged, humans, where)
    return Imported(judgments, human_frame, where, dict(skipped))
