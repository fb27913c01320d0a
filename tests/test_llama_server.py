"""`judgecal judge` against the real llama-cpp-python server (``python -m llama_cpp.server``).

The server runs the embedded SmolLM2-135M GGUF on a free port of 127.0.0.1. It answers HTTP
500 to ``response_format: json_schema`` and enforces the schema of a ``json_object`` format,
so the OpenAI judge's ``structured="auto"`` must settle on ``json_object`` after exactly one
refused call, say so, remember it in the journal, and start the next run with it.

The model takes seconds per call on a small machine, so the anchor set is three items. The
test needs the server extra of llama-cpp-python (the dev dependency group); it is skipped
when that is missing, except under CI (``CI`` set), where it must run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import fakeserver as fs
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.journal import Journal
from harness.judges._local import bundled_model_path

SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context",
                  "pydantic_settings")
MISSING = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]

pytestmark = pytest.mark.skipif(
    bool(MISSING) and not os.environ.get("CI"),
    reason=f"llama_cpp.server needs {', '.join(MISSING)} (uv sync --group dev)",
)

MODEL = "smollm2"
N_ITEMS = 3
#: Polls of the server's /v1/models while it loads the model (0.25 s apart).
STARTUP_POLLS = 480


def _wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    for _ in range(STARTUP_POLLS):
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}:\n"
                               f"{log.read_text(errors='replace')[-2000:]}")
        try:
            with urlopen(f"{url}/models", timeout=2) as r:  # noqa: S310 - local URL
                if r.status == 200:
                    return
        except (URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"llama_cpp.server did not answer after {STARTUP_POLLS} polls:\n"
                       f"{log.read_text(errors='replace')[-2000:]}")


@dataclass
class LlamaServer:
    url: str  #: the OpenAI base URL, ``http://127.0.0.1:<port>/v1``
    log: Path  #: the server's output (uvicorn logs one line per request)

    def posts(self) -> list[str]:
        """The access-log lines of the chat completion requests so far."""
        return [line for line in self.log.read_text(errors="replace").splitlines()
                if '"POST /v1/chat/completions' in line]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """The real server, stopped (terminate, then kill) when the module's tests are done."""
    port = fs.free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()),
           "--model_alias", MODEL, "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        _wait_until_serving(proc, url, log)
        yield LlamaServer(url, log)
    finally:
        fs.stop_process(proc)


def _tiny_experiment(tmp_path: Path, project_root: Path) -> Path:
    """An experiment on the three shortest calibration recipes of recipes-overall."""
    lines = (project_root / "anchors/recipes/recipes-overall.jsonl").read_text().splitlines()
    items = [json.loads(line) for line in lines[1:] if line.strip()]
    chosen = sorted((it for it in items if it["split"] == "calibration"),
                    key=lambda it: len(it["output"]))[:N_ITEMS]
    anchors = tmp_path / "tiny.jsonl"
    anchors.write_text("\n".join([lines[0], *map(json.dumps, chosen)]) + "\n")
    exp = tmp_path / "exp.toml"
    exp.write_text(f"""
[experiment]
name = "llama-server"

[anchors]
path = "{anchors}"
split = "calibration"

[prompt]
name = "recipes-overall"
version = "v1"
dir = "{project_root / 'prompts'}"

[judge]
provider = "local"
model = "{MODEL}"
temperature = 0.0
max_tokens = 200
# the server generates one reply at a time, at 4-10 s each on a busy 2-core machine: a
# client timeout would resend a request the server is still working on (and the request
# counts below would then be off by the resends)
timeout_s = 600

[scoring]
parse_retries = 0

[run]
concurrency = 1
max_attempts = 2
call_deadline_s = 600

[state]
dir = "{tmp_path / 'state'}"
""")
    return exp


def _judge(exp: Path, url: str, *extra: str) -> dict:
    res = CliRunner().invoke(app, [
        "judge", str(exp), "--provider", "openai", "--model", MODEL, "--base-url", url,
        "--api-key-env", "", "--json", "--resamples", "0", "--no-progress", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_judge_negotiates_json_object_with_the_real_server_and_remembers_it(
        llama_server: LlamaServer, tmp_path: Path, project_root: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    url = llama_server.url
    exp = _tiny_experiment(tmp_path, project_root)
    with caplog.at_level("INFO", logger="harness.judges._openai"):
        doc = _judge(exp, url)
    run = doc["run"]
    assert run["n_ok"] == N_ITEMS and run["n_invalid"] == run["n_failed"] == 0
    assert run["scoring"] == {"mode": "structured", "structured": "json_object"}
    # One refused json_schema call (HTTP 500), then json_object for every item.
    posts = llama_server.posts()
    assert len(posts) == N_ITEMS + 1 and sum(" 500 " in p for p in posts) == 1
    assert " 500 " in posts[0]
    refusals = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(refusals) == 1 and url in refusals[0]
    assert "json_schema refused with HTTP 500" in refusals[0]
    with Journal(tmp_path / "state") as journal:
        known = journal.endpoint_mode(url, MODEL)
        assert known is not None and known.structured == "json_object"

    # The second run starts with the remembered mode: no json_schema call, no warning.
    caplog.clear()
    with caplog.at_level("INFO", logger="harness.judges._openai"):
        doc = _judge(exp, url, "--refresh")
    run = doc["run"]
    assert run["n_ok"] == N_ITEMS and run["n_requests"] == N_ITEMS
    again = llama_server.posts()[len(posts):]
    assert len(again) == N_ITEMS and not any(" 500 " in p for p in again)
    assert run["scoring"] == {"mode": "structured", "structured": "json_object"}
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert any("as negotiated before" in r.getMessage() for r in caplog.records)
