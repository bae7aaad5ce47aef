"""benchmarks/zipkin_ppo.py: common random numbers in its evaluation, merging partial runs,
and the --quick path end to end (~10 s)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces

import scenarios
from des_supply.evaluate import simulate
from des_supply.policies import BaseStock
from rl.networks import ActionLayout
from scenarios.presets import preset

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "zipkin_ppo.py"


@pytest.fixture(scope="module")
def zipkin():
    spec = importlib.util.spec_from_file_location("zipkin_ppo_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


class _Constant:
    """A stand-in for a trained agent: always the action *u* (deterministic or not)."""

    def __init__(self, u: float) -> None:
        self.u = u
        self.layout = ActionLayout(spaces.Box(-1.0, 1.0, (1,), np.float32))

    def act(self, x: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return torch.full((x.shape[0], 1), self.u)


class _Policy:
    def __init__(self, u: float) -> None:
        self.agent, self.obs_rms = _Constant(u), None


def test_ppo_is_evaluated_on_the_episodes_of_the_engine_policies(zipkin):
    """u = -1 is the preset window's lower level S: the batch evaluation of that 'agent'
    gives, episode by episode, simulate's costs of BaseStock(S) on the same seed."""
    problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
    _, spec = preset(problem)
    low = spec["action_window"]["low"][0]
    kw = {"episodes": 5, "periods": 300, "warmup": 50}
    ppo = zipkin.evaluate_ppo(_Policy(-1.0), problem, spec, kw)
    ref = simulate(
        problem, BaseStock(low), periods=300, replications=5, seed=zipkin.EVAL_SEED, warmup=50
    )
    np.testing.assert_allclose(ppo, np.asarray(ref.per_replication), rtol=1e-12)
    other = simulate(problem, BaseStock(low), periods=300, replications=5, seed=1, warmup=50)
    assert not np.allclose(ppo, np.asarray(other.per_replication))


def _result(cells: dict[str, list[int]], periods: int = 100) -> dict:
    ref = {"optimal_value": 5.0, "heuristic": "myopic-2", "heuristic_value": 5.1}
    run = {
        "gap": 0.005,
        "gap_ci95": 0.002,
        "gap_heuristic": -0.001,
        "stopped_by_budget": False,
        "train_wall_seconds": 60.0,
        "train_cpu_seconds": 30.0,
        "steps": 600_000,
    }
    return {
        "settings": {"eval": {"episodes": 4, "periods": periods, "warmup": 10}},
        "cells": {
            key: {
                "L": int(key[2]),
                "p": float(key.split("p=")[1]),
                "reference": ref,
                "runs": [{**run, "seed": s, "gap": 0.001 * s} for s in seeds],
            }
            for key, seeds in cells.items()
        },
    }


def test_merge_unites_cells_and_seeds_and_refuses_other_evaluations(zipkin):
    merged = zipkin.merge([_result({"L=1,p=4": [1], "L=2,p=9": [1]}), _result({"L=1,p=4": [2, 3]})])
    assert [r["seed"] for r in merged["cells"]["L=1,p=4"]["runs"]] == [1, 2, 3]
    assert len(merged["cells"]) == 2
    text = zipkin.table(merged, markdown=True)
    assert "| 1 | 4 | 5.000 |" in text and "4 runs in 2 cells; 4 within 1%" in text
    with pytest.raises(SystemExit, match="evaluated differently"):
        zipkin.merge([_result({"L=1,p=4": [1]}), _result({"L=1,p=4": [2]}, periods=50)])
    assert zipkin.parse_cells("1:4,4:39") == [(1, 4.0), (4, 39.0)]
    assert len(zipkin.parse_cells(None)) == 16
    assert zipkin.parse_seeds("3") == [1, 2, 3] and zipkin.parse_seeds("2,3") == [2, 3]
    assert zipkin.parse_seeds("2,") == [2]
    with pytest.raises(SystemExit, match="L:p"):
        zipkin.parse_cells("4-39")


def test_quick_run_writes_json_and_resumes_it(zipkin, tmp_path, capsys):
    js = tmp_path / "r.json"
    assert zipkin.main(["--quick", "--json", str(js), "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "L=1,p=4 seed 1: gap" in out  # progress lines without a tty
    data = json.loads(js.read_text())
    run = data["cells"]["L=1,p=4"]["runs"][0]
    assert run["engine"] == "batch" and run["steps"] == 2048
    assert run["train_cpu_seconds"] > 0 and abs(run["gap"]) < 1.0
    assert data["cells"]["L=1,p=4"]["reference"]["optimal_value"] == pytest.approx(4.04, abs=0.01)
    # a second run with the same file skips what it holds; --report prints the table
    assert zipkin.main(["--quick", "--json", str(js)]) == 0
    assert "already in" in capsys.readouterr().out
    assert zipkin.main(["--report", str(js), "--markdown"]) == 0
    assert "| 1 | 4 |" in capsys.readouterr().out
