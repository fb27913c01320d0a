"""Start-up: how long a command takes from a fresh process, against ``python -c "import numpy"``.

Each command runs in a new interpreter (``subprocess``), the commands taking turns, ``--repeats``
times each (default 7); the figure is the median wall time, and the ratio is to the median of
``python -c "import numpy"`` measured in the same run (so a busy machine slows both). Targets
(issue 16): ``judgecal --help`` and ``judgecal agree`` on a 20-item CSV at most 2x, ``judgecal
agree --json`` on the demo set at most 3x. Also timed, for scale: ``import scipy.stats`` and
``import pandas`` (the agreement figures need neither: ``harness.agreement._dist``), and the
floor any ``judgecal`` command stands on: importing numpy with the command line's own stack
(typer and rich, the chosen CLI libraries), then with pydantic's validation machinery as well
(typer 0.29 builds a pydantic ``TypeAdapter`` for every parameter it converts, and the anchor
schema is pydantic models).

    uv run python benchmarks/bench_startup.py
    uv run python benchmarks/bench_startup.py --repeats 15
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "anchors" / "recipes" / "recipes-overall.jsonl"


#: The command line's stack: what any command imports before judgecal's own code.
STACK = "import numpy, typer, rich.console, rich.table"
#: What converting typer's parameters (typer 0.29) and the anchor schema add to it.
PYDANTIC = "; from pydantic import TypeAdapter; TypeAdapter(int)"


def _judgecal() -> list[str]:
    script = Path(sys.executable).with_name("judgecal")
    return [str(script)] if script.exists() else [sys.executable, "-m", "harness.cli"]


def _small_csv(folder: Path, items: int = 20, seed: int = 0) -> Path:
    """``items`` items rated 1-5 by three humans and a judge."""
    rng = random.Random(seed)
    lines = ["item_id,rater_id,score"]
    for i in range(items):
        truth = rng.randint(1, 5)
        for rater in ("r1", "r2", "r3", "judge"):
            lines.append(f"i{i},{rater},{min(5, max(1, truth + rng.choice((-1, 0, 0, 1))))}")
    path = folder / "ratings20.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "COLUMNS": "120"})
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {res.returncode}:\n{res.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        small = _small_csv(Path(tmp))
        cases = {
            'python -c "import numpy"': [py, "-c", "import numpy"],
            "judgecal --help": [*_judgecal(), "--help"],
            "judgecal agree <20 items> --judge judge": [*_judgecal(), "agree", str(small),
                                                        "--judge", "judge"],
            "judgecal agree <demo set> --json": [*_judgecal(), "agree", str(DEMO), "--json"],
            "floor: import numpy, typer, rich.table": [py, "-c", STACK],
            "floor: ... + a pydantic TypeAdapter": [py, "-c", STACK + PYDANTIC],
            'python -c "import scipy.stats"': [py, "-c", "import scipy.stats"],
            'python -c "import pandas"': [py, "-c", "import pandas"],
        }
        for cmd in cases.values():  # warm the file cache once
            _wall(cmd)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, cmd in cases.items():
                times[name].append(_wall(cmd))
    base = statistics.median(times['python -c "import numpy"'])
    targets = {"judgecal --help": 2.0, "judgecal agree <20 items> --judge judge": 2.0,
               "judgecal agree <demo set> --json": 3.0}
    print(f"{platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"median of {args.repeats} runs each")
    print(f"{'command':45} {'median s':>9} {'min s':>7} {'x numpy':>8} {'target':>7}")
    for name, values in times.items():
        med = statistics.median(values)
        target = f"{targets[name]:.0f}x" if name in targets else ""
        print(f"{name:45} {med:9.3f} {min(values):7.3f} {med / base:8.2f} {target:>7}")


if __name__ == "__main__":
    main()
