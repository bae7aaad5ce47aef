"""Pricing in the RL adapter (mixed price + quantity action, market state observed), PPO smoke
runs per case, and the compare command (the seed paper's Figure 1)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import rl
import scenarios
from des_supply.evaluate import simulate
from des_supply.pricing_policies import MyopicPricing
from scenarios.cli import main

SMALL = dict(
    price_low=30.0,
    price_high=50.0,
    price_step=5.0,
    comp_low=30.0,
    comp_high=50.0,
    comp_step=5.0,
    ref_step=5.0,
    list_price=40.0,
    storage_capacity=15.0,
)


@pytest.fixture
def one_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("price_action", ["grid", "continuous"])
def test_pricing_env_passes_the_checker(price_action):
    env = rl.make_env(
        scenarios.make("pricing-a"), periods=30, action_mode="base-stock", price_action=price_action
    )
    check_env(env.unwrapped, skip_render_check=True)
    assert isinstance(env.action_space, spaces.Dict) and set(env.action_space.spaces) == {
        "order",
        "price",
    }
    assert env.observation_names[-2:] == ("market.competitor_price", "market.reference_price")
    assert env.action_names == ("store.level", "store.price")


def test_observation_shows_the_market_and_the_action_sets_the_price():
    env = rl.make_env(scenarios.make("pricing-b"), periods=10)
    obs, info = env.reset(seed=0)
    assert obs[-2:].tolist() == [35.0, 35.0] and info["price"] == 35.0
    grid = env.unwrapped.price_grid.values
    obs, reward, _, _, info = env.step({"order": np.array([-1.0]), "price": 10})  # 45, order 0
    market = env.unwrapped.market
    assert info["price"] == grid[10] == 45.0 and env.unwrapped.view.price("store") == 45.0
    assert obs[-2:].tolist() == [market.competitor_price, market.reference_price]
    assert market.competitor_price in (35.0, 42.5)  # undercut 45, or not
    with pytest.raises(ValueError, match="'order' and 'price'"):
        env.step(np.array([0.0]))
    with pytest.raises(ValueError, match="whole number"):
        env.step({"order": np.array([0.0]), "price": 13})
    assert (
        rl.make_env(scenarios.make("single-stage")).unwrapped.price_node is None
    )  # no market, no price
    assert rl.make_env(scenarios.make("pricing-b"), price_action="none").action_space == spaces.Box(
        -1, 1, (1,), np.float32
    )


@pytest.mark.parametrize("case", ["pricing-a", "pricing-d"])
def test_env_reproduces_the_engine_with_common_random_numbers(case):
    """A heuristic driving the env sees the same draws as simulate (episode k = replication k)."""
    policy = MyopicPricing(8)
    problem = scenarios.make(case)
    env = rl.make_env(problem, periods=60, max_order=40)
    res = simulate(problem, policy, periods=60, replications=2, seed=9)
    for k in range(2):
        env.reset(seed=9, options={"episode": k})
        total = 0.0
        while True:
            a = policy.act(env.unwrapped.view)
            _, r, _, truncated, _ = env.step(
                env.unwrapped.orders_to_action(a.orders, a.prices["store"])
            )
            total += r
            if truncated:
                break
        assert total / 60 == pytest.approx(res.per_replication[k], abs=1e-9)


@pytest.mark.parametrize("case", ["pricing-a", "pricing-b", "pricing-c", "pricing-d"])
def test_ppo_smoke_per_case(case, tmp_path, one_torch_thread):
    from rl.evaluation import evaluate_agent
    from rl.ppo import load_agent, train
    from scenarios.presets import make_thunk, preset

    problem = scenarios.make(case)
    cfg, spec = preset(problem)
    assert spec["env"]["action_mode"] == "base-stock"
    cfg = dataclasses.replace(
        cfg,
        n_envs=2,
        n_steps=32,
        total_steps=64,
        n_minibatches=2,
        n_epochs=1,
        hidden_sizes=(16, 16),
    )
    spec = {**spec, "env": {**spec["env"], "periods": 16}}
    result = train(make_thunk(problem, spec), cfg, tmp_path / "run", progress=False)
    assert result.global_step == 64
    agent = load_agent(tmp_path / "run")
    ev = evaluate_agent(make_thunk(problem, spec), agent, seed=3, episodes=1)
    assert np.isfinite(ev.mean)


def test_compare_cli_on_a_small_instance(tmp_path, capsys, one_torch_thread):
    code = main(
        [
            "compare",
            "pricing-b",
            "--steps",
            "2048",
            "--episodes",
            "2",
            "--periods",
            "60",
            "--out",
            str(tmp_path),
            "--json",
        ]
        + [f"--param={k}={v}" for k, v in SMALL.items()]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["objective"] == "profit"
    names = [r["name"] for r in out["rows"]]
    # every row name is a registered policy: des-supply simulate pricing-b --policy <name>
    assert names == ["optimal", "list-price", "bslp", "ssp", "myopic-pricing", "ppo"]
    assert out["exact_optimum"] == pytest.approx(out["rows"][0]["optimizer_value"])
    assert all(r["optimizer_value"] <= out["exact_optimum"] + 1e-6 for r in out["rows"][1:-1])
    assert (tmp_path / "compare.png").exists() and (tmp_path / "compare.md").exists()
    from scenarios.compare import CompareResult, figure

    res = CompareResult.from_dict(out)
    figure([res, res], tmp_path / "fig")
    assert (tmp_path / "fig" / "figure.png").exists()
    assert (tmp_path / "fig" / "figure.md").read_text().count("| ppo |") == 2


def test_simulate_and_optimize_cli(capsys):
    assert (
        main(
            [
                "simulate",
                "pricing-c",
                "--policy",
                "ssp",
                "--policy-param",
                "s=2",
                "--policy-param",
                "S=14",
                "--policy-param",
                "price=42.5",
                "--periods",
                "300",
                "--replications",
                "2",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == "profit" and out["mean"] > 0
    assert (
        main(["optimize", "pricing-d", "--json"] + [f"--param={k}={v}" for k, v in SMALL.items()])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == "profit" and out["details"]["states"] == 5 * 5 * 16
    assert {p["name"] for p in out["policies"]} == {"list-price", "bslp", "ssp", "myopic-pricing"}
    assert (
        main(
            [
                "simulate",
                "single-stage",
                "--policy",
                "bslp",
                "--policy-param",
                "price=3",
                "--policy-param",
                "level=5",
            ]
        )
        == 2
    )
    assert "needs a problem with a pricing market" in capsys.readouterr().err
