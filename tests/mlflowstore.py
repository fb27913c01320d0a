"""A migrated MLflow SQLite store for a test, without paying for the migrations each time.

Creating a SQLite tracking store runs MLflow's Alembic migrations (about 3 s on the CI
machine), and dozens of tests each start from an empty store. :func:`migrated_store`
copies a store that real MLflow created and migrated once per test process, which is what a
user's existing ``mlflow.db`` is: every later step (experiments, runs, the registry) is
MLflow's own. Tests that are about creating a store (two processes opening a fresh store at
once, the environment's URI winning) use a path of their own and still run the migrations.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_template: Path | None = None


def _template_db() -> Path:
    """The migrated store of this process, created on first use by real MLflow."""
    global _template
    with _lock:
        if _template is None:
            from mlflow import MlflowClient

            path = Path(tempfile.mkdtemp(prefix="judgecal-mlflow-template-")) / "mlflow.db"
            uri = f"sqlite:///{path}"
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments()  # creates and migrates the tracking tables
            client.search_registered_models()  # and the registry's (the same database)
            client._tracking_client.store.engine.dispose()  # noqa: SLF001 - release the file
            _template = path
        return _template


def migrated_store(path: Path) -> str:
    """``sqlite:///path``, with ``path`` a copy of a migrated, empty store unless it exists."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_template_db(), path)
    return f"sqlite:///{path}"
