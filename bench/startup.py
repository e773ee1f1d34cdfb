"""Startup benchmark: median wall time of the commands people and TAB run most.

Measured in one run, against baselines measured in the same run (the machines are shared and
noisy): ``python -c pass`` and a bare Typer hello-world app. Goals (issue 2): ``--version`` and a
TAB completion within 1.5x of the bare Typer app; ``--help`` under 150 ms median.

Uses hyperfine when installed (``apt-get install hyperfine``), else a simple timing loop.
Run: ``.venv/bin/python bench/startup.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELLO = """
import typer
app = typer.Typer(add_completion=False)
@app.command()
def hello(name: str = "world") -> None:
    print(f"hello {name}")
app()
"""


def median_ms(command: list[str], env: dict[str, str], runs: int) -> float:
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as report:
            subprocess.run(
                ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json",
                 report.name, "--", " ".join(command)],
                env=env, check=True, capture_output=True,
            )
            data = json.loads(Path(report.name).read_text())
        return float(data["results"][0]["median"]) * 1000
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=False, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        env = dict(os.environ, XDG_CONFIG_HOME=tmp)
        # Measured as installed: pip writes bytecode for the libraries, and an editable checkout
        # gets it on the first (warm-up) run. With PYTHONDONTWRITEBYTECODE set (as on some
        # shared machines) every run would compile notifyctl's sources again (~16 ms for TAB).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        complete_env = dict(env, _NOTIFYCTL_COMPLETE="complete_bash",
                            COMP_WORDS="notifyctl profile add x --provider ", COMP_CWORD="5")
        cases = [
            ("python -c pass", [python, "-c", "pass"], env),
            ("bare Typer app", [python, str(hello)], env),
            ("notifyctl --version", [python, "-m", "notifyctl", "--version"], env),
            ("notifyctl --help", [python, "-m", "notifyctl", "--help"], env),
            ("notifyctl TAB completion", [python, "-m", "notifyctl"], complete_env),
        ]
        results = {name: median_ms(cmd, e, args.runs) for name, cmd, e in cases}
    base = results["bare Typer app"]
    print(f"{'command':28} {'median ms':>10} {'x bare Typer':>13}")
    for name, ms in results.items():
        print(f"{name:28} {ms:10.1f} {ms / base:13.2f}")
    checks = [
        ("--version <= 1.5x bare Typer", results["notifyctl --version"] <= 1.5 * base),
        ("completion <= 1.5x bare Typer", results["notifyctl TAB completion"] <= 1.5 * base),
        ("--help < 150 ms", results["notifyctl --help"] < 150),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {label}")


if __name__ == "__main__":
    main()
