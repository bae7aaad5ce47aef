"""PettingZoo adapters: the library's own API and seed tests, team rewards against the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import rl
import rl.env
import scenarios
from des_supply.policies import BaseStock
from des_supply.rng import replication_seed
from des_supply.sim import Simulation
from rl.multi_agent import InventoryAECEnv, InventoryParallelEnv

# PettingZoo's tests warn about style (agent names like "player_0", infinite observation
# bounds, observation sizes that differ between nodes); they fail only on API errors.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def irregular_owmr():
    """OWMR whose warehouse reviews every 2 periods from period 1; retailers every period."""
    return scenarios.make("owmr", n_retailers=2).network.replace_node(
        "warehouse", review_period=2, review_offset=1
    )


def quantity_action(env, agent, q):
    """The continuous "quantity" action of *agent* that orders *q* (float64: exact)."""
    return np.array([2.0 * q / env.layout.nodes[env.layout.index[agent]].max_order - 1.0])


@pytest.mark.parametrize("name", ["beer-game", "owmr", "serial", "assembly"])
@pytest.mark.parametrize(
    "mode, discrete",
    [
        ("quantity", False),
        ("base-stock", True),
        ("capped-base-stock", False),
        ("capped-base-stock", True),
    ],
)
def test_parallel_api_and_seed(name, mode, discrete):
    def make():
        return rl.parallel_env(
            scenarios.make(name), periods=10, action_mode=mode, discrete=discrete
        )

    parallel_api_test(make(), num_cycles=25)
    parallel_seed_test(make)


@pytest.mark.parametrize("network", ["irregular", "beer-game"])
@pytest.mark.parametrize(
    "mode, discrete", [("quantity", False), ("quantity", True), ("capped-base-stock", False)]
)
def test_aec_api_and_seed(network, mode, discrete):
    def make():
        source = irregular_owmr() if network == "irregular" else scenarios.make(network)
        return rl.aec_env(source, periods=10, action_mode=mode, discrete=discrete)

    api_test(make(), num_cycles=25)
    seed_test(make)


def test_parallel_refuses_nodes_that_review_apart():
    with pytest.raises(ValueError, match="review at different periods.*InventoryAECEnv"):
        rl.parallel_env(irregular_owmr())


def test_spaces_and_state():
    owmr = scenarios.make("owmr", n_retailers=2)
    env = rl.parallel_env(owmr, periods=5, action_mode="capped-base-stock")
    assert env.possible_agents == ["warehouse", "retailer1", "retailer2"]
    assert env.observation_names("retailer1") == (
        "retailer1.on_hand",
        "retailer1.backlog",
        "retailer1.on_order",
        "retailer1.pipeline[1]",
        "retailer1.last_demand",
    )
    assert env.action_space("warehouse").shape == (2,)
    obs, _ = env.reset(seed=0)
    single = rl.make_env(owmr, periods=5)
    global_obs, _ = single.reset(seed=0)
    assert np.array_equal(env.state(), global_obs)
    assert env.state() in env.state_space
    assert np.array_equal(obs["retailer1"], global_obs[5:10])


@pytest.mark.parametrize("name, level", [("beer-game", 16), ("owmr", 12), ("serial", 12)])
def test_parallel_team_reward_is_minus_the_engine_cost(name, level):
    periods, seed, policy = 30, 8, BaseStock(level)
    # one epoch per period: the heuristic answers every node at once from the engine's view
    problem = scenarios.make(name, **({"decisions": "simultaneous"} if name == "serial" else {}))
    env = rl.parallel_env(problem, periods=periods, max_order=500)
    for k in range(2):
        env.reset(seed=seed, options={"episode": k})
        totals = dict.fromkeys(env.possible_agents, 0.0)
        node_cost = 0.0
        while env.agents:
            orders = policy.act(env.runner.view)
            actions = {a: quantity_action(env, a, orders[a]) for a in env.agents}
            _, rewards, terminations, _, infos = env.step(actions)
            assert not any(terminations.values())
            assert len(set(rewards.values())) == 1  # one team reward
            for a, r in rewards.items():
                totals[a] += r
            node_cost += sum(i["node_cost"] for i in infos.values())
        sim = Simulation(env.network, periods, replication_seed(seed, k))
        sim.run(policy)
        for total in totals.values():
            assert math.isclose(total, -sim.total_cost, rel_tol=1e-12, abs_tol=1e-9)
        assert node_cost == pytest.approx(sim.total_cost)  # no costs at the supplier here


def test_aec_turns_follow_reviews_and_rewards_add_up():
    periods, seed, policy = 12, 3, BaseStock({"warehouse": 30, "retailer1": 12, "retailer2": 12})
    env = rl.aec_env(irregular_owmr(), periods=periods, max_order=500)
    assert isinstance(env, InventoryAECEnv)
    env.reset(seed=seed)
    returns = dict.fromkeys(env.possible_agents, 0.0)
    turns: list[tuple[int, str]] = []
    for agent in env.agent_iter():
        _, reward, terminated, truncated, info = env.last()
        returns[agent] += reward
        assert not terminated
        if truncated:
            env.step(None)
            continue
        turns.append((info["t"], agent))
        q = policy.act(env.runner.view)[agent]
        env.step(quantity_action(env, agent, q))
    warehouse_turns = [t for t, a in turns if a == "warehouse"]
    assert warehouse_turns == list(range(1, periods, 2))
    assert [a for t, a in turns if t == 1] == [
        "retailer2",
        "retailer1",
        "warehouse",
    ]  # obs.deciding order
    assert sum(1 for _, a in turns if a == "retailer1") == periods
    sim = Simulation(env.network, periods, replication_seed(seed, 0))
    sim.run(policy)
    # every agent's rewards, accumulated between its own turns, sum to minus the team cost
    for total in returns.values():
        assert math.isclose(total, -sim.total_cost, rel_tol=1e-12, abs_tol=1e-9)


def test_bad_multi_agent_actions():
    env = rl.parallel_env(scenarios.make("owmr", n_retailers=2), periods=5)
    env.reset(seed=0)
    good = {a: np.zeros(1, np.float32) for a in env.agents}
    with pytest.raises(ValueError, match="no action for agent.*'retailer2'"):
        env.step({a: v for a, v in good.items() if a != "retailer2"})
    with pytest.raises(ValueError, match="unknown agent.*'shop'"):
        env.step({**good, "shop": np.zeros(1)})
    with pytest.raises(
        ValueError, match=r"agent 'retailer1': action\[0\] \(retailer1.order\) is NaN"
    ):
        env.step({**good, "retailer1": np.array([np.nan])})
    aec = rl.aec_env(scenarios.make("owmr"), periods=5, discrete=True, max_order=4)
    aec.reset(seed=0)
    assert aec.agent_selection == "retailer3"  # downstream first, as the engine asks
    with pytest.raises(ValueError, match=r"agent 'retailer3'.*\[0, 4\]"):
        aec.step(9)
    with pytest.raises(ValueError, match=r"'colour'.*env parameters: .*action_mode"):
        rl.parallel_env(scenarios.make("owmr"), colour="red")


def test_construction_from_problems():
    assert rl.parallel_env(scenarios.make("beer-game")).periods == 52  # the problem's horizon
    assert rl.aec_env(scenarios.make("owmr")).periods == rl.env.DEFAULT_PERIODS
    assert rl.parallel_env(scenarios.make("owmr").network, periods=7).periods == 7
    with pytest.raises(ValueError, match="pricing market.*rl.make_env"):
        rl.parallel_env(scenarios.make("pricing-a"))
    with pytest.raises(TypeError, match="Problem or a Network"):
        rl.aec_env("owmr")


def test_classes_are_exported_lazily():
    assert rl.InventoryParallelEnv is InventoryParallelEnv
    assert rl.InventoryAECEnv is InventoryAECEnv
