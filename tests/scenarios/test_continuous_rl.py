"""train / evaluate / compare on continuous-time problems: the continuous preset drives the
semi-Markov env, and every row of a comparison is judged on the same customers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import scenarios
from des_supply.problem import Problem
from optimization import optimize as optimize_module
from rl.evaluation import evaluate_agent, evaluate_policy
from rl.semi_markov_env import SemiMarkovEnv
from scenarios.cli import main
from scenarios.presets import check_steps, continuous_anchor, make_thunk, preset

EXAMPLE = Path(scenarios.__file__).parent / "examples" / "continuous_serial.json"


@pytest.fixture
def quick_search(monkeypatch):
    """A short base-stock search on the continuous engine (networks without an exact method)."""
    monkeypatch.setattr(
        optimize_module,
        "CONTINUOUS_SEARCH",
        {"periods": 60, "warmup": 10, "replications": 2, "seed": 5},
    )


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["continuous-review", "continuous-owmr"])
def test_preset_builds_the_semi_markov_env_and_action_zero_is_the_anchor(name):
    """u = 0 is the anchor's base-stock level at every node, so the env played with zeros
    costs exactly what the engine's policy costs on the same customers (CRN)."""
    problem = scenarios.make(name)
    config, spec = preset(problem)
    assert config.discount == "time" and spec["env"]["epochs"] == "demand"
    assert config.log_std_init == (-1.0 if name == "continuous-review" else -2.0)
    env = make_thunk(problem, spec)()
    assert isinstance(env.unwrapped, SemiMarkovEnv)
    anchor = continuous_anchor(problem)
    assert spec["action_window"]["center"] == [anchor.levels[n] for n in env.unwrapped.nodes]
    zero = np.zeros(env.action_space.shape, np.float32)
    policy = evaluate_policy(problem, anchor.policy(), periods=30, seed=3, episodes=3)
    spec30 = {**spec, "env": {**spec["env"], "horizon": 30.0}}
    agent = evaluate_agent(make_thunk(problem, spec30), lambda obs: zero, seed=3, episodes=3)
    # the same decisions on the same draws; the sums run in another order (steps vs rows)
    np.testing.assert_allclose(agent.per_episode, policy.per_episode, rtol=1e-12)


def test_continuous_anchor_uses_the_exact_optima():
    review = continuous_anchor(scenarios.make("continuous-review"))
    # K = 0: the exact (r, Q) has Q = 1, i.e. base stock S = r + 1 (Palm's level)
    assert review.levels == {"stage": 14.0}
    owmr = continuous_anchor(scenarios.make("continuous-owmr"))
    assert owmr.levels == {"warehouse": 13.0, "r1": 3.0, "r2": 4.0, "r3": 10.0}


def test_a_budget_ppo_cannot_run_is_refused():
    with pytest.raises(ValueError):
        check_steps(scenarios.make("continuous-review"), 10)


def test_train_evaluate_and_compare_a_users_continuous_network(capsys, tmp_path, quick_search):
    """End to end on scenarios/examples/continuous_serial.json with a tiny budget."""
    run_dir = tmp_path / "run"
    code, out, err = run(
        capsys, "train", str(EXAMPLE), "--steps", "256", "--out", str(run_dir), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["steps"] >= 256
    record = json.loads((run_dir / "run.json").read_text())
    assert record["spec"]["env"]["epochs"] == "demand" and record["config"]["discount"] == "time"
    code, out, err = run(
        capsys, "evaluate", str(run_dir), "--episodes", "2", "--horizon", "15", "--json"
    )
    assert code == 0, err
    ev = json.loads(out)
    assert ev["horizon"] == 15 and len(ev["per_episode"]) == 2 and ev["mean"] > 0
    code, out, err = run(capsys, "evaluate", str(run_dir), "--periods", "15")
    assert code == 2 and "--horizon T" in err
    # the agent decides at its training env's epochs: the same rule is accepted, another refused
    code, out, err = run(
        capsys, "evaluate", str(run_dir), "--episodes", "2", "--horizon", "15", "--review",
        "demand", "--json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["review"] == "demand", err
    code, out, err = run(capsys, "evaluate", str(run_dir), "--horizon", "15", "--review", "2")
    assert code == 2 and out == "" and "training env's epochs (demand)" in err
    out_dir = tmp_path / "cmp"
    code, out, err = run(
        capsys, "compare", str(EXAMPLE), "--steps", "256", "--episodes", "2", "--horizon",
        "15", "--out", str(out_dir), "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    names = [r["name"] for r in res["rows"]]
    assert set(names) == {"best-base-stock", "best-echelon-base-stock", "ppo"}
    assert res["time"] == "continuous" and res["periods"] == 15
    assert all(len(r["per_episode"]) == 2 for r in res["rows"])
    assert "cost/unit time" in (out_dir / "compare.md").read_text()


def test_compare_continuous_review_pairs_the_exact_optimum_and_ppo(capsys, tmp_path):
    code, out, err = run(
        capsys, "compare", "continuous-review", "--steps", "256", "--episodes", "3",
        "--horizon", "20", "--out", str(tmp_path / "c"), "--json",
    )  # fmt: skip
    assert code == 0, err
    res = json.loads(out)
    rows = {r["name"]: r for r in res["rows"]}
    assert res["reference"] == "rq" and set(rows) == {"rq", "base-stock", "ppo"}
    # K = 0: (r, Q) = (13, 1) is base stock 14, the same policy on the same customers
    assert rows["base-stock"]["per_episode"] == rows["rq"]["per_episode"]
    assert rows["ppo"]["vs_reference"] is not None


def test_compare_refuses_mixing_continuous_and_periodic(capsys):
    code, out, err = run(capsys, "compare", "continuous-review", "single-stage")
    assert code == 2 and "separately" in err
    code, out, err = run(capsys, "compare", "continuous-review", "--periods", "20")
    assert code == 2 and "--horizon T" in err


def test_a_continuous_problem_record_rebuilds_a_user_network():
    from scenarios.presets import problem_from_record, problem_record

    problem = Problem.from_json(EXAMPLE)
    again = problem_from_record(problem_record(problem))
    assert again.network.time == "continuous" and again.network == problem.network
