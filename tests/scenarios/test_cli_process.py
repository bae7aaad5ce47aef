"""The des-supply process as a user runs it: Ctrl-C at any moment (imports included) and
progress lines when stderr is not a terminal.

Each test starts real processes through the console script (a copy of the wrapper pip
writes for ``[project.scripts]``, so the entry point under test is the one in
pyproject.toml) or ``python -m scenarios.cli``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LONG_SIMULATION = [
    "simulate",
    "single-stage",
    "--policy",
    "base-stock",
    "--policy-param",
    "level=5",
    "--periods",
    "400000",
    "--replications",
    "1",
]


def console_script(folder: Path) -> Path:
    """The console script pip would install for ``des-supply`` (from pyproject.toml)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["des-supply"].split(":")
    path = folder / "des-supply"
    path.write_text(
        "import re\nimport sys\n"
        f"from {module} import {func}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({func}())\n"
    )
    return path


def start(entry: list[str], argv: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *entry, *argv],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job would be
    )


def _sigint_after(proc: subprocess.Popen, delay: float) -> None:
    time.sleep(delay)
    try:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    except ProcessLookupError:  # it finished first
        pass


DELAYS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)


@pytest.mark.parametrize(
    "how, delays",
    [("console script", DELAYS), ("python -m", (0.2, 0.5, 1.0))],
    ids=["console script", "python -m"],
)
def test_ctrl_c_at_any_moment_is_one_line_and_status_130(tmp_path, how, delays):
    """SIGINT at several moments from 0.05 s on, most of them while numpy, SimPy, networkx
    ... are still being imported: one line and status 130 (or, if the command got there
    first, a normal finish), never a traceback, nothing left in the folder.

    A signal in the first moments can land in Python's own start-up (its ``site`` module,
    slow on a busy machine), before the program's first line: nothing a program can
    catch.  Those are told apart by Python's own message and must stay a minority."""
    entry = [str(console_script(tmp_path))] if how == "console script" else ["-m", "scenarios.cli"]
    work = tmp_path / "work"
    work.mkdir()
    argv = [*LONG_SIMULATION, "--plot", str(work / "paths.png")]
    outcomes = []
    for delay in delays:  # one at a time: parallel starts would all still be in start-up
        proc = start(entry, argv, work)
        _sigint_after(proc, delay)
        out, err = proc.communicate(timeout=300)
        if err.startswith("Fatal Python error: init_import_site"):
            ours = [f"{ROOT / pkg}" for pkg in ("des_supply", "scenarios")]
            assert "<frozen site>" in err and not any(p in err for p in ours), (delay, err)
            outcomes.append("python start-up")
            continue
        assert "Traceback" not in err, (delay, err)
        if proc.returncode == 0:  # finished before the signal
            assert "cost" in out, (delay, out)
            outcomes.append("finished")
            continue
        assert proc.returncode == 130, (delay, proc.returncode, err)
        assert err.splitlines() == ["des-supply: interrupted"] and out == "", (delay, out, err)
        outcomes.append("interrupted")
    assert outcomes.count("interrupted") > len(delays) / 2, outcomes
    assert list(work.iterdir()) == []


def test_a_program_importing_scenarios_keeps_its_keyboard_interrupt(tmp_path):
    """Only the des-supply process has its Ctrl-C taken over; a library user's stays."""
    code = (
        "import signal, scenarios\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
        "from scenarios.cli import main\n"
        "assert main(['scenarios', '--json']) == 0\n"
        "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def test_progress_is_a_line_every_interval_when_stderr_is_a_pipe(tmp_path):
    """Not silence and not a log of carriage returns: lines, at most one per interval."""
    proc = start(
        ["-m", "scenarios.cli"],
        ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level=5"]
        + ["--periods", "2000", "--replications", "3000"],
        tmp_path,
        DES_SUPPLY_PROGRESS_INTERVAL="0",
    )
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert "\r" not in err and len(lines) >= 2, err
    assert all(line.startswith("replications:") for line in lines), err
    assert lines[-1].startswith("replications: 100%"), err


def test_a_bad_progress_interval_is_one_line(tmp_path):
    proc = start(["-m", "scenarios.cli"], ["scenarios"], tmp_path, DES_SUPPLY_PROGRESS_INTERVAL="x")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "DES_SUPPLY_PROGRESS_INTERVAL='x'" in err
    assert len(err.splitlines()) == 1
