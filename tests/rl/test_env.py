"""InventoryEnv: Gymnasium's checker, seeding and CRN against the engine, action mappings,
errors, vector envs, wrappers and a Stable-Baselines3 smoke run.

The CRN tests are the contract: an episode driven through the env by a heuristic
costs exactly what ``Simulation.run`` (and ``des_supply.evaluate.simulate``) says
for the same replication.  Envs are built from problems (``scenarios.make``); the
Gymnasium ids live in :mod:`scenarios.gym_ids`.
"""

from __future__ import annotations

import doctest
import math
import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import rl
import rl.env
import scenarios
from des_supply import Deterministic, Edge, Network, Node, NonStationary, Poisson
from des_supply.evaluate import simulate
from des_supply.policies import BaseStock, CappedBaseStock
from des_supply.problem import Problem
from des_supply.rng import replication_seed
from des_supply.sim import Simulation
from rl.wrappers import (
    make_vector_env,
    normalize_running,
    observation_scale,
    reward_scale,
    scale_observation,
    scale_reward,
)
from scenarios.gym_ids import (
    ENV_IDS,
    INVENTORY_ENV_IDS,
    RECOMMENDATION_ENV_IDS,
    SEMI_MARKOV_ENV_IDS,
    register_envs,
)

MODES = ("quantity", "base-stock", "capped-base-stock")


def _warnings_of(fn, *args, **kwargs) -> set[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return {str(w.message) for w in caught}


def rollout(env, policy, seed, episode=None):
    """Drive *env* with a des_supply policy through the "quantity" mapping; return the rewards and infos."""
    options = None if episode is None else {"episode": episode}
    _, info = env.reset(seed=seed, options=options)
    rewards, infos = [-info["cost"]["total"]], [info]
    truncated = False
    while not truncated:
        action = env.orders_to_action(policy.act(env.view))
        _, reward, terminated, truncated, info = env.step(action)
        assert terminated is False
        rewards.append(reward)
        infos.append(info)
    return rewards, infos


def irregular_owmr() -> Network:
    """OWMR whose warehouse reviews every 2 periods from period 1; retailers every period."""
    return scenarios.make("owmr", n_retailers=2).network.replace_node(
        "warehouse", review_period=2, review_offset=1
    )


# -- Gymnasium's checker ------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", sorted(INVENTORY_ENV_IDS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("discrete", [False, True])
def test_check_env_every_id_and_mode(env_id, mode, discrete):
    env = gym.make(env_id, periods=12, action_mode=mode, discrete=discrete)
    messages = _warnings_of(check_env, env.unwrapped)
    # the only expected warning: physical quantities have no upper bound
    assert all("infinity" in m for m in messages), messages
    assert env.observation_space.shape == (len(env.unwrapped.observation_names),)


def test_check_env_irregular_reviews_and_seasonal_demand():
    net = irregular_owmr()
    seasonal = Network(
        (
            Node("plant", kind="supply"),
            Node(
                "store", holding_cost=1, shortage_cost=5, demand=NonStationary((2.0, 4.0, 8.0, 4.0))
            ),
        ),
        (Edge("plant", "store", lead_time=1),),
    )
    for network in (net, seasonal):
        env = rl.make_env(network, periods=12)
        messages = _warnings_of(check_env, env, skip_render_check=True)  # no spec: not via make
        assert all("infinity" in m for m in messages), messages


def test_gymnasium_make_with_scenario_params():
    env = gym.make("des_supply/SingleStage-v0", lead_time=3, shortage="backlog", periods=30)
    base = env.unwrapped
    assert isinstance(base, rl.InventoryEnv)
    assert base.periods == 30
    assert base.network.suppliers("stage")[0].lead_time == Deterministic(3)
    assert base.observation_names == (
        "stage.on_hand",
        "stage.backlog",
        "stage.on_order",
        "stage.pipeline[1]",
        "stage.pipeline[2]",
        "stage.pipeline[3]",
        "stage.last_demand",
    )
    with pytest.raises(ValueError, match=r"'lead_tim'.*scenario parameters: lead_time"):
        gym.make("des_supply/SingleStage-v0", lead_tim=3)


def test_default_periods_follow_the_problem():
    assert scenarios.make("beer-game").periods == 52
    assert rl.make_env(scenarios.make("beer-game")).periods == 52
    assert rl.make_env(scenarios.make("single-stage")).periods == rl.env.DEFAULT_PERIODS
    assert rl.make_env(scenarios.make("single-stage").network).periods == rl.env.DEFAULT_PERIODS
    assert gym.make("des_supply/BeerGame-v0").unwrapped.periods == 52


def test_each_env_gets_its_own_market():
    problem = scenarios.make("pricing-a")
    a, b = rl.make_env(problem, periods=5), rl.make_env(problem, periods=5)
    assert a.market is not None and a.market is not b.market and a.market is not problem.market
    assert a.price_node == b.price_node == problem.market.node
    a.reset(seed=0)
    b.reset(seed=0)
    action = a.action_space.sample()
    assert gym.utils.env_checker.data_equivalence(a.step(action), b.step(action), exact=True)
    # a Network with market= is a problem too; the market is copied as well
    net_env = rl.make_env(problem.network, market=problem.market, periods=5)
    assert net_env.market is not problem.market and net_env.price_node == a.price_node
    with pytest.raises(ValueError, match="market comes with it"):
        rl.make_env(problem, market=problem.market)


def test_gym_ids_registration_is_idempotent():
    before = {k: gym.registry[k] for k in ENV_IDS}
    messages = _warnings_of(register_envs)
    assert not messages, messages
    assert all(gym.registry[k] is v for k, v in before.items())
    assert set(ENV_IDS) == (
        set(INVENTORY_ENV_IDS) | set(RECOMMENDATION_ENV_IDS) | set(SEMI_MARKOV_ENV_IDS)
    )


FRESH = """
import sys, warnings
import gymnasium as gym
from gymnasium.utils.env_checker import check_env

env = gym.make("scenarios.gym_ids:des_supply/SingleStage-v0", lead_time=2, periods=5)
assert env.unwrapped.periods == 5 and env.unwrapped.observation_names[-1] == "stage.last_demand"
from scenarios.gym_ids import ENV_IDS, SEMI_MARKOV_ENV_IDS
for env_id in ENV_IDS:
    # continuous-time ids run for a horizon in time units, periodic ones for periods
    env = gym.make(env_id, **({"horizon": 4} if env_id in SEMI_MARKOV_ENV_IDS else {"periods": 4}))
    env.reset(seed=0)
    env.step(env.action_space.sample())
    if env_id.endswith(("SingleStage-v0", "OWMR-v0", "PricingA-v0", "RecommendationSmall-v0")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)
        assert all("infinity" in str(w.message) for w in caught), [str(w.message) for w in caught]
print("ok", len(ENV_IDS))
"""


def test_every_gym_id_in_a_fresh_interpreter():
    """``gym.make("scenarios.gym_ids:<id>")`` needs no import first; then every id works."""
    out = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["ok", str(len(ENV_IDS))]


def test_rl_registers_no_scenario_ids_and_imports_no_scenarios():
    code = textwrap.dedent("""
        import sys
        import gymnasium as gym
        import rl, rl.env, rl.multi_agent, rl.recommendation_env, rl.wrappers
        assert "scenarios" not in sys.modules, "rl imported scenarios"
        assert not [k for k in gym.registry if k.startswith("des_supply/")]
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]


def test_doctests():
    assert doctest.testmod(rl.env, raise_on_error=False).failed == 0


# -- seeding ------------------------------------------------------------------------------------
def _random_trajectory(env, seed, steps=None):
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    truncated = False
    while not truncated and (steps is None or len(out) <= steps):
        obs, reward, _, truncated, info = env.step(env.action_space.sample())
        out += [obs, reward, info["cost"], info["node_cost"].tolist()]
    return out


@pytest.mark.parametrize("name", ["single-stage", "owmr", "random-dag", "pricing-b"])
def test_same_seed_same_trajectory(name):
    problem = scenarios.make(name)
    a = _random_trajectory(rl.make_env(problem, periods=30), seed=3)
    b = _random_trajectory(rl.make_env(problem, periods=30), seed=3)
    assert gym.utils.env_checker.data_equivalence(a, b, exact=True)
    c = _random_trajectory(rl.make_env(problem, periods=30), seed=4)
    assert not gym.utils.env_checker.data_equivalence(a, c)


def test_episode_numbering_and_jumps():
    env = rl.make_env(scenarios.make("single-stage"), periods=5)
    policy = BaseStock(15)
    first = rollout(env, policy, seed=11)[0]
    _, info = env.reset()  # episode 1 of seed 11
    assert info["replication"] == 1 and env.episode == 1
    second = rollout(env, policy, seed=11, episode=1)[0]  # the same episode, by jumping
    env.reset(seed=11)
    while not env.step(env.orders_to_action(policy.act(env.view)))[3]:
        pass
    _, info = env.reset()
    assert info["replication"] == 1
    rewards = [0.0]
    while True:
        _, r, _, truncated, _ = env.step(env.orders_to_action(policy.act(env.view)))
        rewards.append(r)
        if truncated:
            break
    assert rewards == second
    assert first != second
    _, info = env.reset(options={"episode": 7})
    assert info["replication"] == 7
    assert env.reset()[1]["replication"] == 8
    with pytest.raises(ValueError, match="episode"):
        env.reset(options={"episode": -1})


# -- common random numbers: the env is the engine ----------------------------------------------
CRN_CASES = [
    ("single-stage", {}, 20),
    ("single-stage", {"shortage": "backlog", "lead_time": 0}, 8),
    ("serial", {"decisions": "simultaneous"}, 12),  # continuous; one epoch per period
    ("beer-game", {}, 16),  # order-after-demand, demand trace
    ("owmr", {}, 12),
    ("assembly", {}, 12),
    ("random-dag", {"n_nodes": 8, "n_layers": 3}, 12),  # stochastic lead times, split/priority
]


@pytest.mark.parametrize("name, params, level", CRN_CASES)
def test_crn_base_stock_through_quantity_mapping(name, params, level):
    periods, seed = 40, 123
    env = rl.make_env(scenarios.make(name, **params), periods=periods, max_order=500)
    policy = BaseStock(level)
    for k in range(3):
        rewards, infos = rollout(env, policy, seed, episode=k)
        sim = Simulation(env.network, periods, replication_seed(seed, k))
        sim.run(policy)
        assert math.isclose(sum(rewards), -sim.total_cost, rel_tol=1e-12, abs_tol=1e-9)
        assert [i["t"] for i in infos] == list(range(periods + 1))
        assert all(i["dt"] == 1 for i in infos[1:])
        breakdown = sum(sum(v for key, v in i["cost"].items() if key != "total") for i in infos)
        assert math.isclose(breakdown, sim.total_cost, rel_tol=1e-12, abs_tol=1e-9)
    # ... and episode k matches replication k of the evaluation code
    results = simulate(env.network, policy, periods=periods, replications=3, seed=seed)
    for k in range(3):
        rewards, _ = rollout(env, policy, seed, episode=k)
        assert math.isclose(-sum(rewards) / periods, results.per_replication[k], rel_tol=1e-12)


def test_crn_episodes_reached_without_jumping():
    env = rl.make_env(scenarios.make("owmr"), periods=25, max_order=200)
    policy = BaseStock(12)
    env.reset(seed=5)
    for k in range(3):
        if k:
            env.reset()
        total, truncated = 0.0, False
        while not truncated:
            _, r, _, truncated, _ = env.step(env.orders_to_action(policy.act(env.view)))
            total += r
        assert total == pytest.approx(
            -Simulation(env.network, 25, replication_seed(5, k)).run(policy).cost().sum(), abs=1e-9
        )


def test_profit_objective_rewards_revenue_minus_cost():
    net = scenarios.make("single-stage").network.replace_node("stage", price=4.0)
    env = rl.make_env(net, periods=30)
    rewards, infos = rollout(env, BaseStock(18), seed=2)
    sim = Simulation(net, 30, replication_seed(2, 0))
    sim.run(BaseStock(18))
    assert sim.objective == "profit"
    assert sum(rewards) == pytest.approx(sim.total_revenue - sim.total_cost, abs=1e-9)
    assert sum(i["revenue"] for i in infos) == pytest.approx(sim.total_revenue, abs=1e-9)


@pytest.mark.parametrize("discrete", [False, True])
def test_base_stock_modes_reproduce_the_policies(discrete):
    """A constant level (and cap) through the base-stock mappings is BaseStock / CappedBaseStock."""
    periods, seed, level, cap = 40, 9, 21, 6
    for mode, policy in (
        ("base-stock", BaseStock(level)),
        ("capped-base-stock", CappedBaseStock(level, cap)),
    ):
        env = rl.make_env(
            scenarios.make("single-stage"),
            periods=periods,
            action_mode=mode,
            discrete=discrete,
            max_level=40,
            max_order=10,
        )
        values = [level] if mode == "base-stock" else [level, cap]
        maxima = [40] if mode == "base-stock" else [40, 10]
        action = (
            np.array(values, dtype=np.int64)
            if discrete
            else 2.0 * np.array(values) / np.array(maxima) - 1.0
        )
        if discrete and mode == "base-stock":
            action = int(level)
        env.reset(seed=seed)
        total, truncated = 0.0, False
        while not truncated:
            _, r, _, truncated, _ = env.step(action)
            total += r
        expected = (
            Simulation(env.network, periods, replication_seed(seed, 0)).run(policy).cost().sum()
        )
        assert total == pytest.approx(-expected, abs=1e-9)


# -- decision epochs ----------------------------------------------------------------------------
def test_nodes_that_do_not_review_get_no_order():
    env = rl.make_env(irregular_owmr(), periods=10)
    _, info = env.reset(seed=0)
    assert env.nodes == ("warehouse", "retailer1", "retailer2")
    assert info["action_mask"].tolist() == [False, True, True]
    masks, asked = [info["action_mask"]], []
    truncated = False
    while not truncated:
        _, _, _, truncated, info = env.step(np.ones(3, np.float32))  # everybody asks for max_order
        masks.append(info["action_mask"])
        asked.append(info["orders"])
    ordered = env.sim.ledger().column("ordered", "warehouse")
    for t in range(10):
        reviews = (t - 1) % 2 == 0
        assert masks[t][0] == reviews
        assert (asked[t][0] > 0) == reviews
        assert (ordered[t] > 0) == reviews


def test_epochs_skip_periods_without_reviews():
    net = Network(
        (
            Node("plant", kind="supply"),
            Node(
                "store",
                holding_cost=1,
                shortage_cost=4,
                demand=Poisson(3),
                review_period=3,
                review_offset=1,
                initial_on_hand=10,
            ),
        ),
        (Edge("plant", "store", lead_time=1),),
    )
    env = rl.make_env(net, periods=11)
    _, info = env.reset(seed=1)
    assert (info["t"], info["dt"]) == (1, 1)
    pre = info["cost"]["total"]
    assert pre > 0  # period 0 passed before the first epoch
    policy, total, ts = BaseStock(14), -pre, []
    truncated = False
    while not truncated:
        _, r, _, truncated, info = env.step(env.orders_to_action(policy.act(env.view)))
        total += r
        ts.append((info["t"], info["dt"]))
    assert ts == [(4, 3), (7, 3), (10, 3), (11, 1)]
    assert total == pytest.approx(
        -Simulation(net, 11, replication_seed(1, 0)).run(policy).cost().sum()
    )


def test_observation_reads_the_engine():
    env = rl.make_env(scenarios.make("owmr", n_retailers=2), periods=8)
    obs, _ = env.reset(seed=4)
    for _ in range(3):
        obs, *_ = env.step(env.action_space.sample())
    view, names = env.view, env.observation_names
    value = dict(zip(names, obs.tolist()))
    for n in env.nodes:
        assert value[f"{n}.on_hand"] == pytest.approx(view.on_hand(n))
        assert value[f"{n}.backlog"] == pytest.approx(view.backlog(n))
        assert value[f"{n}.on_order"] == pytest.approx(view.on_order(n))
    assert value["retailer1.last_demand"] == view.last_demand("retailer1")
    assert [value[f"warehouse.pipeline[{j}]"] for j in (1, 2)] == list(
        view.pipeline("warehouse", 2)
    )


def test_seasonal_and_trace_features():
    seasonal = Network(
        (Node("plant", kind="supply"), Node("store", demand=NonStationary((2.0, 4.0, 8.0, 4.0)))),
        (Edge("plant", "store", lead_time=1),),
    )
    env = rl.make_env(seasonal, periods=6)
    assert env.observation_names[-2:] == ("cycle4.sin", "cycle4.cos")
    obs, _ = env.reset(seed=0)
    for t in range(1, 6):
        obs, *_ = env.step(env.action_space.sample())
        assert obs[-2:] == pytest.approx(
            [math.sin(math.pi * t / 2), math.cos(math.pi * t / 2)], abs=1e-6
        )
    beer = rl.make_env(scenarios.make("beer-game"), periods=8)
    assert beer.observation_names[-1] == "trace5.period"
    obs, _ = beer.reset(seed=0)
    seen = [obs[-1]]
    for _ in range(7):
        seen.append(beer.step(beer.action_space.sample())[0][-1])
    assert seen == [0, 1, 2, 3, 4, 4, 4, 4]


def test_last_observation_is_the_end_state():
    env = rl.make_env(scenarios.make("single-stage", lead_time=2), periods=6)
    env.reset(seed=0)
    truncated = False
    while not truncated:
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
    assert info["t"] == 6 and not terminated
    assert obs in env.observation_space
    assert obs[0] == env.sim.ledger().column("on_hand", "stage")[-1]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.action_space.sample())


def test_render_ansi():
    env = rl.make_env(scenarios.make("owmr"), periods=5, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "warehouse" in text and "period 0/5" in text


def test_render_rgb_array_and_stable_baselines3_make_vec_env():
    """SB3's make_vec_env asks for render_mode="rgb_array": it gets an image of the state."""
    env = rl.make_env(scenarios.make("owmr"), periods=5, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.std() > 0  # something is drawn
    code = textwrap.dedent("""
        from stable_baselines3.common.env_util import make_vec_env
        venv = make_vec_env("scenarios.gym_ids:des_supply/SingleStage-v0", n_envs=2, seed=0)
        print(venv.reset().shape, venv.render_mode)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["(2,", "5)", "rgb_array"]


# -- errors -------------------------------------------------------------------------------------
def test_bad_actions_raise_value_error():
    owmr = scenarios.make("owmr", n_retailers=2)
    env = rl.make_env(owmr, periods=5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2,\), expected \(3,\)"):
        env.step(np.zeros(2))
    with pytest.raises(ValueError, match=r"action\[1\] \(retailer1.order\) is NaN"):
        env.step(np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="numeric"):
        env.step(["a", "b", "c"])
    # out-of-bounds continuous actions are clipped silently
    a, b = rl.make_env(owmr, periods=5), rl.make_env(owmr, periods=5)
    a.reset(seed=1)
    b.reset(seed=1)
    ra = a.step(np.array([5.0, -7.0, np.inf]))
    rb = b.step(np.array([1.0, -1.0, 1.0]))
    assert gym.utils.env_checker.data_equivalence(ra, rb, exact=True)


def test_one_node_step_checks_its_action():
    """The one-node step parses a Box action inline; what it refuses, parse_values names."""
    env = rl.make_env(scenarios.make("single-stage"), periods=5)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action\[0\] \(stage.order\) is NaN"):
        env.step(np.array([np.nan], np.float32))
    with pytest.raises(ValueError, match=r"shape \(2,\), expected \(1,\)"):
        env.step(np.zeros(2, np.float32))
    a, b = rl.make_env(scenarios.make("single-stage"), periods=5), env
    a.reset(seed=0)
    for action in ([0.5], np.array([0.5]), np.array([0.5], np.float32), (0.5,)):
        assert gym.utils.env_checker.data_equivalence(
            a.step(np.array([0.5], np.float32)), b.step(action), exact=True
        )


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("single-stage", "quantity"),
        ("single-stage", "base-stock"),
        ("serial", "quantity"),
        ("owmr", "capped-base-stock"),
    ],
)
def test_returned_arrays_are_fresh_every_step(name, mode):
    """What a caller keeps (a replay buffer: observations, info arrays) never changes under it:
    every step and reset returns new arrays, sharing memory with nothing returned before."""
    env = rl.make_env(scenarios.make(name), periods=3, action_mode=mode)
    env.action_space.seed(0)
    kept = [env.reset(seed=0)]
    for _ in range(7):
        obs, _, _, truncated, info = env.step(env.action_space.sample())
        kept.append((obs, info))
        if truncated:
            kept.append(env.reset())
    arrays = [
        x
        for obs, info in kept
        for x in (obs, *(v for v in info.values() if isinstance(v, np.ndarray)))
    ]
    assert len(arrays) == len(kept) * 4  # obs, orders, node_cost, action_mask
    for i, a in enumerate(arrays):  # writing into one touches no other
        assert not any(np.shares_memory(a, b) for b in arrays[i + 1 :])
    snapshot = [a.copy() for a in arrays]
    env.step(env.action_space.sample())
    for a, b in zip(arrays, snapshot):
        np.testing.assert_array_equal(a, b)


def test_bad_discrete_actions_raise_value_error():
    env = rl.make_env(scenarios.make("owmr", n_retailers=2), periods=5, discrete=True, max_order=10)
    env.reset(seed=0)
    with pytest.raises(
        ValueError, match=r"action\[0\] \(warehouse.order\) must be a whole number in \[0, 10\]"
    ):
        env.step(np.array([11, 0, 0]))
    with pytest.raises(ValueError, match="whole number"):
        env.step(np.array([1.5, 0, 0]))
    single = rl.make_env(scenarios.make("single-stage"), periods=5, discrete=True)
    single.reset(seed=0)
    single.step(3)
    single.step(np.int64(2))
    with pytest.raises(ValueError, match="one integer"):
        single.step(np.array([1, 2]))


def test_step_before_reset_and_orders_to_action_errors():
    env = rl.make_env(scenarios.make("single-stage"), periods=5, max_order=20)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="max_order"):
        env.orders_to_action({"stage": 21})
    with pytest.raises(ValueError, match="no stocking node"):
        env.orders_to_action({"shop": 1})
    with pytest.raises(ValueError, match="quantity"):
        rl.make_env(scenarios.make("single-stage"), action_mode="base-stock").orders_to_action(
            {"stage": 1}
        )


def test_unknown_and_bad_parameters():
    single = scenarios.make("single-stage")
    with pytest.raises(
        ValueError, match=r"'colour'.*problem 'owmr'.*env parameters: .*action_mode"
    ):
        rl.make_env(scenarios.make("owmr"), colour="red")
    with pytest.raises(ValueError, match=r"'lead_time'.*env parameters: .*max_order"):
        rl.make_env(single.network, lead_time=2)
    with pytest.raises(TypeError, match="expected a Problem or a Network, got str"):
        rl.make_env("single-stage")
    with pytest.raises(ValueError, match="action_mode"):
        rl.make_env(single, action_mode="price")
    with pytest.raises(ValueError, match=r"max_order: no stocking node\(s\) 'shop'"):
        rl.make_env(single, max_order={"shop": 3})
    with pytest.raises(ValueError, match="max_level at node 'stage' must be a whole number"):
        rl.make_env(single, action_mode="base-stock", discrete=True, max_level=7.5)
    with pytest.raises(ValueError, match="periods"):
        rl.make_env(single, periods=0)


def test_network_file_as_problem(tmp_path):
    path = tmp_path / "net.json"
    scenarios.make("single-stage", lead_time=1).network.to_json(path)
    env = rl.make_env(Problem.from_json(path), periods=5)
    assert env.observation_names == (
        "stage.on_hand",
        "stage.on_order",
        "stage.pipeline[1]",
        "stage.last_demand",
    )


def test_defaults_follow_demand_and_lead_times():
    env = rl.make_env(
        scenarios.make(
            "owmr", n_retailers=3, demand_mean=5.0, warehouse_lead_time=2, retailer_lead_time=1
        )
    )
    nodes = {n.name: n for n in env.layout.nodes}
    assert nodes["retailer1"].max_order == 20 and nodes["retailer1"].max_level == 40
    assert nodes["warehouse"].max_order == 60 and nodes["warehouse"].max_level == 180
    assert nodes["warehouse"].pipeline == 2 and nodes["retailer1"].pipeline == 1


# -- vector envs and wrappers -------------------------------------------------------------------
@pytest.mark.parametrize("asynchronous", [False, True])
def test_vector_env_runs_and_maps_episodes(asynchronous):
    periods, n = 4, 2
    problem = scenarios.make("single-stage")
    envs = make_vector_env(problem, n, seed=21, asynchronous=asynchronous, periods=periods)
    try:
        obs, info = envs.reset()
        assert obs.shape == (n, 5) and obs.dtype == np.float32
        assert info["replication"].tolist() == [0, 1]
        single = rl.make_env(problem, periods=periods)
        for i in range(n):
            assert np.array_equal(obs[i], single.reset(seed=21, options={"episode": i})[0])
        seen = {0, 1}
        for _ in range(3 * (periods + 1) - 1):  # NEXT_STEP: one extra (reset) step per episode
            obs, _, terminated, _, info = envs.step(envs.action_space.sample())
            assert not terminated.any()
            seen |= set(info["replication"].tolist())
        assert seen == {0, 1, 2, 3, 4, 5}
        _, info2 = envs.reset(seed=21)  # re-rooted at 21 for every sub-env, not 21 + i
        assert info2["replication"].tolist() == [0, 1]
    finally:
        envs.close()


def test_vector_env_same_step_autoreset_and_bad_kwargs():
    owmr = scenarios.make("owmr")
    envs = make_vector_env(
        owmr,
        2,
        seed=0,
        periods=3,
        autoreset_mode=AutoresetMode.SAME_STEP,
        wrappers=(scale_observation, scale_reward),
    )
    envs.reset()
    for _ in range(3):
        _, _, _, truncated, info = envs.step(envs.action_space.sample())
    assert truncated.all() and "final_obs" in info
    envs.close()
    with pytest.raises(ValueError, match="colour"):
        make_vector_env(owmr, 2, colour="red")
    with pytest.raises(ValueError, match="episode_stride"):
        make_vector_env(owmr, 2, episode_stride=3)


def test_vector_env_sub_envs_own_their_markets():
    envs = make_vector_env(scenarios.make("pricing-a"), 2, seed=0, periods=3)
    try:
        markets = [e.unwrapped.market for e in envs.env.envs]
        assert markets[0] is not None and markets[0] is not markets[1]
        envs.reset()
        envs.step(envs.action_space.sample())
    finally:
        envs.close()


def test_fixed_scaling_wrappers():
    owmr = scenarios.make("owmr")
    raw = rl.make_env(owmr, periods=6)
    wrapped = scale_reward(scale_observation(rl.make_env(owmr, periods=6)))
    scale, cost_scale = observation_scale(raw), reward_scale(raw)
    assert scale.shape == raw.observation_space.shape and cost_scale > 0
    o1, _ = raw.reset(seed=3)
    o2, _ = wrapped.reset(seed=3)
    assert np.allclose(o2, o1 / scale)
    assert o2 in wrapped.observation_space
    a = raw.action_space.sample()
    _, r1, *_ = raw.step(a)
    _, r2, *_ = wrapped.step(a)
    assert r2 == pytest.approx(r1 / cost_scale)
    running = normalize_running(rl.make_env(owmr, periods=6))
    running.reset(seed=0)
    running.step(running.action_space.sample())


# -- a library that speaks Gymnasium trains on it unchanged --------------------------------------
@pytest.fixture
def one_torch_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("kwargs", [{}, {"discrete": True, "action_mode": "base-stock"}])
def test_stable_baselines3_ppo_smoke(one_torch_thread, kwargs):
    sb3 = pytest.importorskip("stable_baselines3")
    env = rl.make_env(scenarios.make("owmr", n_retailers=2), periods=32, **kwargs)
    model = sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=2, seed=0, device="cpu")
    model.learn(128)
    assert len(model.ep_info_buffer) == 4  # Monitor saw 4 episodes of 32 steps
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(action)
