"""A core install (no extras): simulating and the numpy optimizers work without PyTorch,
Pyomo, HiGHS, PettingZoo, Ray, Minari or pandas; a command that needs one of them fails
with one line naming the extra to install.

The extras are made missing in a fresh process by a meta-path finder that refuses to
import them (as in an environment where they are not installed), so the test runs
whatever this environment has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from scenarios.extras import EXTRA_OF

ROOT = Path(__file__).resolve().parents[2]
MISSING = ("torch", "pyomo", "highspy", "pettingzoo", "ray", "minari", "pandas")

_PROGRAM = """
import contextlib, io, json, sys
MISSING = set(sys.argv[1].split(","))

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())
import scenarios
from des_supply.evaluate import simulate
from des_supply.policies import BaseStock

problem = scenarios.make("single-stage", lead_time=2)
api = float(simulate(problem, BaseStock(20), periods=2000, replications=2, seed=1).mean)
from scenarios.cli import main

results = []
for argv in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results.append([code, out.getvalue(), err.getvalue()])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in MISSING)
print(json.dumps({"api": api, "results": results, "loaded": loaded}))
"""

COMMANDS = [
    # works on the core
    ["simulate", "single-stage", "--param", "lead_time=2", "--policy", "base-stock"]
    + ["--policy-param", "level=20", "--replications", "2", "--periods", "2000"],
    ["optimize", "single-stage"],
    ["evaluate", "base-stock", "--scenario", "single-stage", "--policy-param", "level=5"]
    + ["--episodes", "2", "--periods", "100"],
    ["scenarios"],
    # needs an extra: one line that names it
    ["train", "single-stage", "--steps", "2048", "--out", "run"],
    ["optimize", "owmr"],
    ["simulate", "single-stage", "--policy", "base-stock", "--policy-param", "level=5"]
    + ["--backend", "ray"],
]


def test_the_core_works_without_the_extras_and_names_the_missing_one(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, ",".join(MISSING), json.dumps(COMMANDS)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["loaded"] == []  # nothing of an extra was imported (or half-imported)
    assert report["api"] > 0
    (simulated, optimized, evaluated, listed, train, mip, ray) = report["results"]
    for code, _out, err in (simulated, optimized, evaluated, listed):
        assert code == 0 and err == "", err
    assert "stage" in simulated[1] and "optimal" in optimized[1] and "base-stock" in evaluated[1]
    for (code, out, err), extra in ((train, "rl"), (mip, "mip"), (ray, "ray")):
        assert code == 2 and out == "", (code, err)
        assert err.count("\n") == 1 and f'pip install "des-supply[{extra}]"' in err, err
    assert list(tmp_path.iterdir()) == []  # train left no run folder


def test_every_extra_named_in_hints_exists_in_pyproject():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert set(EXTRA_OF.values()) <= set(extras)
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    named = {d.split(">")[0].split("<")[0].split("[")[0].strip().lower() for d in core}
    assert not named & set(EXTRA_OF), "a library of an extra is in the core dependencies"
    assert {"torch", "pettingzoo"} <= {d.split(">")[0].split("<")[0] for d in extras["rl"]}
    assert any(d.startswith("pyomo>=6.9.2") for d in extras["mip"])
