"""Loading MLflow quietly, and choosing the tracking URI.

MLflow is imported lazily (it takes seconds), and only from this package. Before the first
import, a few environment defaults are set (``os.environ.setdefault``: a value the user set
wins): telemetry off, log level WARNING, no artifact progress bars, no "View run at" lines
printed to stdout.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"

_USER_LOG_LEVEL = "MLFLOW_LOGGING_LEVEL" in os.environ

_ENV_DEFAULTS = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
for _key, _value in _ENV_DEFAULTS.items():
    os.environ.setdefault(_key, _value)

_LOADED: SimpleNamespace | None = None


def load_mlflow() -> SimpleNamespace:
    """Import MLflow (once) with quiet logging; the names this package uses.

    Returns
    -------
    types.SimpleNamespace
        ``MlflowClient``, ``MlflowException``, ``Metric``, ``Param``, ``RunTag``,
        ``ViewType``, ``RunStatus``, ``PROMPT_NAME_RULE``, ``limits`` (a namespace of
        MLflow's length limits).
    """
    global _LOADED
    if _LOADED is not None:
        return _LOADED
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType
    from mlflow.exceptions import MlflowException
    from mlflow.prompt.constants import PROMPT_NAME_RULE
    from mlflow.utils import validation

    # MLflow's SQLAlchemy store triggers this SQLAlchemy deprecation on its first use.
    warnings.filterwarnings("ignore", message=r"The ``noload`` loader strategy is deprecated",
                            category=DeprecationWarning)
    # Quiet even when mlflow was imported (and configured its loggers) before us.
    if not _USER_LOG_LEVEL:
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    for name in ("alembic", "alembic.runtime.migration", "huey"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)

    limits = SimpleNamespace(
        param_value=validation.MAX_PARAM_VAL_LENGTH,
        tag_value=validation.MAX_TAG_VAL_LENGTH,
        key=validation.MAX_ENTITY_KEY_LENGTH,
        registry_tag_value=validation.MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH,
        registry_tag_key=validation.MAX_MODEL_REGISTRY_TAG_KEY_LENGTH,
    )
    _LOADED = SimpleNamespace(
        MlflowClient=MlflowClient,
        MlflowException=MlflowException,
        Metric=Metric,
        Param=Param,
        RunTag=RunTag,
        RunStatus=RunStatus,
        ViewType=ViewType,
        PROMPT_NAME_RULE=PROMPT_NAME_RULE,
        limits=limits,
    )
    return _LOADED


def resolve_tracking_uri(configured: str | None = None) -> str:
    """The tracking URI to use: ``$MLFLOW_TRACKING_URI``, else ``configured``, else the default.

    A relative SQLite path is made absolute (relative to the working directory now), so a
    later change of directory does not move the store; its parent directory is created.

    Parameters
    ----------
    configured : str, optional
        The configured URI (e.g. from the experiment file).

    Returns
    -------
    str
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI") or configured or DEFAULT_TRACKING_URI
    path = sqlite_path(uri)
    if path is not None:
        path = path.absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{path}"
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or None (other schemes, in-memory).

    Examples
    --------
    >>> sqlite_path("sqlite:///mlflow.db").as_posix()
    'mlflow.db'
    >>> sqlite_path("sqlite:////abs/m.db").as_posix()
    '/abs/m.db'
    >>> sqlite_path("http://host:5000") is None
    True
    """
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri[len("sqlite:///"):].split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


def make_client(ml: SimpleNamespace, uri: str) -> Any:
    """An ``MlflowClient`` for ``uri`` whose store is initialised, one process at a time.

    MLflow creates and migrates a SQLite store's schema when a client is made; two
    processes doing that at once on a fresh file fail with alembic errors ("duplicate column
    name", "table ... already exists"), which used to surface as an input error. For a
    SQLite URI the client is made (and the registry store touched) under a file lock beside
    the database (``<db>.init-lock``), so the second process waits and finds the schema ready.

    Parameters
    ----------
    ml : types.SimpleNamespace
        What :func:`load_mlflow` returns.
    uri : str
        The tracking (and registry) URI.

    Returns
    -------
    mlflow.MlflowClient
    """
    from harness._locks import file_lock

    db = sqlite_path(uri)
    if db is None:
        return ml.MlflowClient(tracking_uri=uri, registry_uri=uri)
    with file_lock(db.with_name(db.name + ".init-lock")):
        client = ml.MlflowClient(tracking_uri=uri, registry_uri=uri)  # migrates the store
        client.search_registered_models(max_results=1)  # the registry store, likewise
    return client


def is_http(uri: str) -> bool:
    """True for an ``http(s)://`` tracking server URI."""
    return urlparse(uri).scheme in ("http", "https")
