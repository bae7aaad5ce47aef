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

    def __init__(self, u: float, dim: int = 1) -> None:
        self.u, self.dim = u, dim
        self.layout = ActionLayout(spaces.Box(-1.0, 1.0, (dim,), np.float32))

    def act(self, x: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return torch.full((x.shape[0], self.dim), self.u)


class _Policy:
    def __init__(self, u: float, dim: int = 1) -> None:
        self.agent, self.obs_rms = _Constant(u, dim), None


def test_ppo_is_evaluated_on_the_episodes_of_the_engine_policies(zipkin):
    """u = -1 is the preset window's lower level S: the batch evaluation of that 'agent'
    gives, episode by episode, simulate's costs of BaseStock(S) on the same seed."""
    problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
    _, spec = preset(problem)
    low = spec["action_window"]["low"][0]
    kw = {"episodes": 5, "periods": 300, "warmup": 50, "seed": zipkin.EVAL_SEED}
    ppo = zipkin.evaluate_ppo(_Policy(-1.0), problem, spec, kw)
    ref = simulate(
        problem, BaseStock(low), periods=300, replications=5, seed=zipkin.EVAL_SEED, warmup=50
    )
    np.testing.assert_allclose(ppo, np.asarray(ref.per_replication), rtol=1e-12)
    other = simulate(problem, BaseStock(low), periods=300, replications=5, seed=1, warmup=50)
    assert not np.allclose(ppo, np.asarray(other.per_replication))


def test_zero_action_of_the_capped_preset_plays_the_best_capped_policy(zipkin):
    """From L = 4 the preset sets a level and a cap: u = 0 evaluated on the batch engine
    gives, episode by episode, simulate's costs of the best capped base-stock policy
    (26, 5) at (4, 4) on the same episodes."""
    from des_supply.policies import CappedBaseStock

    problem = scenarios.make("single-stage", lead_time=4, penalty=4.0)
    _, spec = preset(problem)
    assert spec["action_window"]["center"] == [26.0, 5.0]
    kw = {"episodes": 4, "periods": 300, "warmup": 50, "seed": zipkin.EVAL_SEED}
    ppo = zipkin.evaluate_ppo(_Policy(0.0, dim=2), problem, spec, kw)
    ref = simulate(
        problem, CappedBaseStock(26, 5), periods=300, replications=4, seed=kw["seed"], warmup=50
    )
    np.testing.assert_allclose(ppo, np.asarray(ref.per_replication), rtol=1e-12)


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
    assert "L=1 3/3, L=2 1/1" in text and "| 1,2,3 | window |" in text
    capped = _result({"L=4,p=9": [1]})
    capped["cells"]["L=4,p=9"]["runs"][0]["env_spec"] = {
        "env": {"action_mode": "capped-base-stock"}
    }
    text = zipkin.table(zipkin.merge([merged, capped]), markdown=True)
    assert "| 4 | 9 | 5.000 | myopic-2 (+2.00%) | 1 | capped |" in text
    with pytest.raises(SystemExit, match="evaluated differently"):
        zipkin.merge([_result({"L=1,p=4": [1]}), _result({"L=1,p=4": [2]}, periods=50)])
    assert zipkin.parse_cells("1:4,4:39") == [(1, 4.0), (4, 39.0)]
    assert len(zipkin.parse_cells(None)) == 16
    assert zipkin.parse_seeds("3") == [1, 2, 3] and zipkin.parse_seeds("2,3") == [2, 3]
    assert zipkin.parse_seeds("2,") == [2]
    with pytest.raises(SystemExit, match="L:p"):
        zipkin.parse_cells("4-39")


def test_compare_pairs_the_seeds_both_settings_ran(zipkin):
    """--compare: per cell the gaps of the seeds both files hold, per L their mean and the
    runs within 1%; files evaluated on other episodes are refused."""
    a = _result({"L=4,p=4": [1, 2], "L=3,p=9": [1]})
    b = _result({"L=4,p=4": [2, 3]})
    b["cells"]["L=4,p=4"]["runs"][0]["gap"] = 0.02
    text = zipkin.compare_table(a, b, "window", "capped")
    assert "| L | p | seeds | window gaps | capped gaps |" in text
    assert "| 4 | 4 | 2 | +0.20% | +2.00% | +0.20% | +2.00% | 1/1 | 0/1 |" in text
    assert "| 4 | all | 1 runs |" in text and "| 3 |" not in text
    with pytest.raises(SystemExit, match="different episodes"):
        zipkin.compare_table(a, _result({"L=4,p=4": [2]}, periods=50), "a", "b")


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
    assert zipkin.main(["--report", str(js), "--cells", "2:9"]) == 0
    assert "0 runs in 0 cells" in capsys.readouterr().out


def test_validation_runs_use_other_episodes_and_the_window_given(zipkin, tmp_path, monkeypatch):
    """--validation evaluates on VALIDATION_SEED's episodes (settings are chosen there, never
    on the benchmark's); --window sets the preset's half-widths for the run and is recorded."""
    import scenarios.presets as presets

    monkeypatch.setattr(presets, "SINGLE_STAGE_WINDOW", presets.SINGLE_STAGE_WINDOW)
    js = tmp_path / "v.json"
    argv = ["--quick", "--validation", "--window", "2,1", "--json", str(js)]
    assert zipkin.main(argv) == 0
    data = json.loads(js.read_text())
    assert data["settings"]["eval"]["seed"] == zipkin.VALIDATION_SEED != zipkin.EVAL_SEED
    assert data["settings"]["window_sd"] == [2.0, 1.0]
    window = data["cells"]["L=1,p=4"]["runs"][0]["env_spec"]["action_window"]
    (lo,), (center,), (hi,) = window["low"], window["center"], window["high"]
    assert center - lo == 7 and hi - center == 4  # ceil(2 sqrt(10)), ceil(sqrt(10))
    # validation and benchmark results cannot be merged into one table
    bench = tmp_path / "b.json"
    assert zipkin.main(["--quick", "--json", str(bench)]) == 0
    with pytest.raises(SystemExit, match="evaluated differently"):
        zipkin.main(["--report", str(js), str(bench)])
    # --reuse: the validation run's policy evaluated on the benchmark's episodes, not retrained
    again = tmp_path / "again.json"
    runs = tmp_path / "runs"
    assert zipkin.main([*argv[:-1], str(tmp_path / "v2.json"), "--out", str(runs)]) == 0
    reuse = ["--reuse", str(tmp_path / "v2.json"), "--reuse-dir", str(runs)]
    assert zipkin.main(["--quick", "--window", "2,1", "--json", str(again), *reuse]) == 0
    first = json.loads((tmp_path / "v2.json").read_text())["cells"]["L=1,p=4"]["runs"][0]
    moved = json.loads(again.read_text())["cells"]["L=1,p=4"]["runs"][0]
    assert moved["trained_in"] == str(runs / "L1_p4_s1")
    assert moved["chosen_on_eval_seed"] == zipkin.VALIDATION_SEED
    assert moved["eval_seed"] == zipkin.EVAL_SEED
    assert moved["train_cpu_seconds"] == first["train_cpu_seconds"]
    assert moved["cost"] != first["cost"]  # other episodes
    # --compare-orders: the run's orders against the DP's along a validation episode
    res = zipkin.compare_orders(1, 4.0, runs / "L1_p4_s1", periods=400)
    assert res["periods"] == 300 and sum(res["differences"].values()) == 300
    mean = sum(k * v for k, v in res["differences"].items()) / 300
    assert res["mean_difference"] == pytest.approx(mean)
    assert 0.9 < sum(b["share"] for b in res["buckets"]) <= 1.0 + 1e-12
    assert "PPO order - DP order" in zipkin.orders_text(res)
    # a preset that differs from the one the run was trained with is refused
    with pytest.raises(SystemExit, match="another preset"):
        zipkin.main(["--quick", "--window", "2,2", "--json", str(tmp_path / "x.json"), *reuse])
    assert zipkin.parse_window("2,1.5") == (2.0, 1.5)
    with pytest.raises(Exception, match="BELOW,ABOVE"):
        zipkin.parse_window("2")


def test_implied_levels_lie_inside_the_window(zipkin):
    """--levels on (1, 9): the DP's implied order-up-to levels against the exact best
    base-stock level (13, optimization.lost_sales.heuristics) and the preset's window."""
    row = zipkin.implied_levels(1, 9.0)
    assert row["best_base_stock"] == 13
    assert row["min"] <= row["q01"] <= row["q50"] <= row["q99"] <= row["max"]
    assert row["window"][0] <= row["min"] and row["max"] < row["window"][1]
    assert abs(row["center"] - row["best_base_stock"]) <= 1
    assert row["old_center"] == 14.0  # Poisson(10) newsvendor quantile at 0.9
    assert "| 1 | 9 |" in zipkin.levels_table([row])


def test_capped_spec_starts_the_agent_at_the_best_capped_policy(zipkin):
    """--capped: u = 0 plays min(cap, (S - IP)^+) of the best capped base-stock policy
    (windows around (S, cap)), on both engines' action maps."""
    from types import SimpleNamespace

    from scenarios.presets import ActionWindow, make_thunk

    problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
    _, spec = preset(problem)
    ref = SimpleNamespace(
        params={"best-capped-base-stock": {"level": 19.0, "cap": 7.0}},
        heuristics={"best-capped-base-stock": 6.12},
    )
    capped = zipkin.capped_spec(ref, spec)
    window = capped["action_window"]
    assert window["center"] == [19.0, 7.0] and window["low"][1] == 4.0 and window["high"][1] == 11.0
    assert capped["env"]["action_mode"] == "capped-base-stock" and capped["reward_shift"] == 6.12
    env = make_thunk(problem, capped)()
    wrapper = env
    while not isinstance(wrapper, ActionWindow):
        wrapper = wrapper.env
    assert list(wrapper.levels(np.zeros(2))) == [19.0, 7.0]
    np.testing.assert_allclose(
        wrapper.vector_action(np.zeros((3, 2)))[0], wrapper.action(np.zeros(2))
    )


def test_exact_center_spec_moves_the_window(zipkin):
    """--exact-center: the preset's half-widths around the exact best base-stock level."""
    from types import SimpleNamespace

    problem = scenarios.make("single-stage", lead_time=2, penalty=9.0)
    _, spec = preset(problem)
    window = spec["action_window"]
    below = window["center"][0] - window["low"][0]
    ref = SimpleNamespace(params={"best-base-stock": {"level": 17.0}})
    moved = zipkin.exact_center_spec(ref, spec)["action_window"]
    assert moved["center"] == [17.0] and moved["low"] == [17.0 - below]
    assert moved["high"][0] - 17.0 == window["high"][0] - window["center"][0]


def test_capped_runs_are_reused_with_capped_only(zipkin, tmp_path):
    """--reuse of --capped validation runs: evaluated on the benchmark's episodes with
    --capped (the run's level-and-cap spec), refused without it (the preset's window)."""
    runs, val = tmp_path / "runs", tmp_path / "v.json"
    argv = ["--quick", "--capped", "--out", str(runs)]
    assert zipkin.main([*argv, "--validation", "--json", str(val)]) == 0
    reuse = ["--reuse", str(val), "--reuse-dir", str(runs)]
    test = tmp_path / "t.json"
    assert zipkin.main([*argv, "--json", str(test), *reuse]) == 0
    first = json.loads(val.read_text())["cells"]["L=1,p=4"]["runs"][0]
    moved = json.loads(test.read_text())["cells"]["L=1,p=4"]["runs"][0]
    assert moved["env_spec"]["env"]["action_mode"] == "capped-base-stock"
    assert moved["eval_seed"] == zipkin.EVAL_SEED and moved["steps"] == first["steps"]
    assert zipkin.action_setting(moved) == "capped"
    with pytest.raises(SystemExit, match="another preset"):
        zipkin.main(["--quick", "--json", str(tmp_path / "x.json"), *reuse])


def test_selection_runs_evaluate_the_selected_policy_and_reuse_it(zipkin, tmp_path):
    """--select-every: the run keeps the best policy judged on SELECT_SEED's episodes and
    is evaluated with it (the last and starting policies' gaps recorded beside it); --reuse
    evaluates that same selected policy on other episodes."""
    runs, js = tmp_path / "runs", tmp_path / "sel.json"
    select = ["--select-every", "1", "--select-episodes", "4", "--select-periods", "200"]
    argv = ["--quick", "--validation", *select, "--select-warmup", "20", "--out", str(runs)]
    assert zipkin.main([*argv, "--json", str(js)]) == 0
    data = json.loads(js.read_text())
    assert data["settings"]["select"] == {"every": 1, "episodes": 4, "periods": 200, "warmup": 20}
    run = data["cells"]["L=1,p=4"]["runs"][0]
    sel = run["selection"]
    assert sel["seed"] == zipkin.SELECT_SEED not in (zipkin.EVAL_SEED, zipkin.VALIDATION_SEED)
    assert sel["iteration"] in (0, 1) and run["config"]["select_every"] == 1
    assert run["gap"] == sel["gap_start" if sel["iteration"] == 0 else "gap_last"]
    test = tmp_path / "test.json"
    reuse = ["--reuse", str(js), "--reuse-dir", str(runs)]
    assert zipkin.main(["--quick", "--json", str(test), *reuse]) == 0
    moved = json.loads(test.read_text())["cells"]["L=1,p=4"]["runs"][0]
    assert moved["eval_seed"] == zipkin.EVAL_SEED and moved["cost"] != run["cost"]
    assert moved["selection"]["iteration"] == sel["iteration"]
    assert moved["gap"] == moved["selection"]["gap_start" if sel["iteration"] == 0 else "gap_last"]
    with pytest.raises(SystemExit, match="--select-periods must exceed"):
        zipkin.main(["--quick", *select, "--select-warmup", "200"])
