"""PettingZoo agents in continuous time: one agent per stocking node, a step per decision
event, acting flags for the agents whose node reviews at it."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import scenarios
from des_supply import BaseStock
from des_supply.continuous import ContinuousSimulation
from des_supply.rng import replication_seed
from rl.multi_agent import SemiMarkovParallelEnv, parallel_env


@pytest.fixture(scope="module")
def owmr():
    return scenarios.make("continuous-owmr")


@pytest.mark.parametrize("epochs", ["demand", "event", 1.5])
def test_passes_the_pettingzoo_parallel_api_and_seed_tests(owmr, epochs):
    parallel_api_test(parallel_env(owmr, horizon=6, epochs=epochs), num_cycles=200)
    parallel_seed_test(lambda: parallel_env(owmr, horizon=6, epochs=epochs))


def test_agents_act_only_at_their_own_events_and_the_team_pays_the_engines_cost(owmr):
    """Base-stock levels per agent: the acting flags are the reviewing nodes (a retailer and
    the warehouse after each demand), actions of the others change nothing, and the shared
    rewards sum to minus the engine's cost of BaseStock(levels) on the same replication."""
    env = parallel_env(owmr, horizon=25, action_mode="base-stock", discrete=True)
    assert isinstance(env, SemiMarkovParallelEnv)
    levels = {"warehouse": 8, "r1": 3, "r2": 4, "r3": 8}
    rng = np.random.default_rng(0)
    _, infos = env.reset(seed=4)
    assert all(infos[a]["acting"] for a in env.agents)  # time 0: every node reviews
    total, dts = 0.0, []
    while env.agents:
        acting = {a for a in env.agents if infos[a]["acting"]}
        # non-acting agents send noise: it must be ignored
        actions = {
            a: levels[a] if a in acting else int(rng.integers(0, env.action_space(a).n))
            for a in env.agents
        }
        _, rewards, _, truncations, infos = env.step(actions)
        assert len(set(rewards.values())) == 1  # shared
        total -= rewards["r1"]
        dts.append(infos["r1"]["dt"])
        if not all(truncations.values()):
            flags = {a for a in infos if infos[a]["acting"]}
            assert "warehouse" in flags and len(flags) == 2
    sim = ContinuousSimulation(owmr.network, 25, replication_seed(4, 0))
    sim.run(BaseStock(levels))
    assert total == pytest.approx(sim.total_cost, rel=1e-12)
    assert sum(dts) == pytest.approx(25.0)


def test_state_and_bad_input(owmr):
    env = parallel_env(owmr, horizon=5)
    obs, _ = env.reset(seed=0)
    assert env.state().shape == env.state_space.shape
    assert obs["r1"].shape == env.observation_space("r1").shape
    assert env.observation_names("r1") == (
        "r1.on_hand",
        "r1.backlog",
        "r1.on_order",
        "r1.last_demand",
    )
    with pytest.raises(ValueError, match="no action for agent"):
        env.step({"r1": np.zeros(1)})
    bad = {a: np.zeros(1, np.float32) for a in env.agents}
    bad["r2"] = np.zeros(3)
    with pytest.raises(ValueError, match="agent 'r2': action has shape"):
        env.step(bad)
    with pytest.raises(ValueError, match="horizon="):
        parallel_env(owmr, periods=5)


def test_mappo_trains_on_the_acting_flags(owmr, tmp_path):
    """Two MAPPO iterations: each retailer's actor learns from its own events only (the
    warehouse reviews at every demand), read from the acting flags."""
    from rl.mappo import MAPPOConfig, train_mappo

    config = MAPPOConfig(total_steps=128, n_envs=2, n_steps=32, n_minibatches=2, seed=1)
    result = train_mappo(
        lambda: parallel_env(owmr, horizon=5, action_mode="base-stock"),
        config,
        tmp_path,
        progress=False,
    )
    row = result.history[-1]
    assert row["warehouse/acting_fraction"] == 1.0
    fractions = [row[f"r{i}/acting_fraction"] for i in (1, 2, 3)]
    assert all(0 < f < 1 for f in fractions)
    # one retailer per demand, plus every retailer at each episode's time 0
    assert 1.0 <= sum(fractions) <= 1.2
