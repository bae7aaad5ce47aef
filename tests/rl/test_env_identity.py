"""InventoryEnv's per-step numbers, exactly, against the engine and independent references.

The env's step has fast paths (issue 15: precomputed layouts, Python floats instead of
small numpy arrays, the period's costs summed in Python below 8 nodes).  These tests pin
what a step returns to definitions that do not share that code:

* ``info["cost"]`` and ``info["node_cost"]`` equal, bit for bit, the numpy sums
  ``costs.sum(axis=(0, 1))`` and ``costs.sum(axis=(0, 2))`` of
  ``costs = rows[:, :, cost_columns]`` over the ledger rows of the periods the step
  covered (read back from ``Simulation.ledger()`` after the episode; numpy's order of
  summation depends on the memory layout, so the rows are indexed as the env always
  did);
  the reward is minus their total (revenue minus cost under a profit objective) and
  the rewards of an episode sum to the engine's total;
* the observation is read feature by feature from ``observation_names`` on the
  engine's :class:`~des_supply.sim.Observation`;
* the orders asked are ``(np.clip(a, -1, 1) + 1) * 0.5 * max_order`` (quantity mode).

Every registered Gymnasium id, and random networks (all conventions, review periods,
assembly, lost sales) under random actions.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from strategies import networks

import rl
from des_supply.ledger import COST_FIELDS, FIELDS
from des_supply.sim import cost_sums
from rl.env import InventoryEnv
from scenarios.gym_ids import INVENTORY_ENV_IDS, register_envs

register_envs()


def _expected_observation(env: InventoryEnv) -> np.ndarray:
    """The observation at the pending epoch, feature by feature from its names."""
    layout, view, t = env.layout, env.runner.view, env.runner.t
    shift = t - view.t
    values = []
    for name in env.observation_names:
        head, feature = name.rsplit(".", 1)
        if head.startswith("cycle"):
            p = int(head[len("cycle") :])
            angle = 2.0 * math.pi * (t % p) / p
            values.append(math.sin(angle) if feature == "sin" else math.cos(angle))
        elif head.startswith("trace"):
            values.append(float(min(t, int(head[len("trace") :]) - 1)))
        elif head == "market":
            values.append(layout.market.observation()[feature])
        elif feature.startswith("pipeline["):
            j = int(feature[len("pipeline[") : -1])
            values.append(view.pipeline(head, shift + j)[shift + j - 1])
        else:
            values.append(getattr(view, feature)(head))
    out = np.array(values, dtype=np.float32)
    low = env.observation_space.low
    return np.where(low == 0.0, np.maximum(out, np.float32(0.0)), out)


def _drive(env: InventoryEnv, seed: int) -> list[tuple[int, int, float, dict]]:
    """One episode under random actions: (first period, end period, reward, info) per step,
    with the observation and the orders checked at every step."""
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    np.testing.assert_array_equal(obs, _expected_observation(env))
    steps, t, mask = [], 0, info["action_mask"]
    steps.append((0, info["t"], None, info))  # periods before the first epoch
    t = info["t"]
    truncated = False
    while not truncated:
        action = env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        assert terminated is False and truncated is env.runner.done
        if not truncated:
            np.testing.assert_array_equal(obs, _expected_observation(env))
        if env.price_node is None and env.action_mode == "quantity" and not env.discrete:
            maxima = np.array([n.max_order for n in env.layout.nodes])
            asked = (np.clip(np.asarray(action, np.float64), -1.0, 1.0) + 1.0) * 0.5 * maxima
            np.testing.assert_array_equal(info["orders"], np.where(mask, asked, 0.0))
        assert info["orders"].dtype == np.float64 and info["action_mask"].dtype == bool
        steps.append((t, info["t"], reward, info))
        t, mask = info["t"], info["action_mask"]
    return steps


def _check_against_ledger(env: InventoryEnv, steps: list) -> None:
    ledger = env.sim.ledger()
    stock = [env.sim.network_nodes.index(n) for n in env.nodes]
    kinds = [f.removesuffix("_cost") for f in COST_FIELDS]
    total = 0.0
    for a, b, reward, info in steps:
        rows = np.stack([ledger[f][a:b] for f in FIELDS], axis=2)  # (periods, nodes, fields)
        costs = rows[:, :, [FIELDS.index(f) for f in COST_FIELDS]]
        parts = costs.sum(axis=(0, 1))
        for k, kind in enumerate(kinds):
            assert info["cost"][kind] == parts[k], (a, b, kind)
        revenue = float(ledger["revenue"][a:b].sum())
        assert math.isclose(info["revenue"], revenue, rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(info["cost"]["total"], parts.sum(), rel_tol=1e-12, abs_tol=1e-9)
        if reward is None:
            continue  # reset: no node_cost contract before the first epoch's step
        np.testing.assert_array_equal(info["node_cost"], costs.sum(axis=(0, 2))[stock])
        expected = -info["cost"]["total"]
        if env.sim.objective == "profit":
            expected += info["revenue"]
        assert isinstance(reward, float) and reward == expected
        assert info["dt"] == b - a and info["t"] == b
        total += reward
    objective = -env.sim.total_cost
    if env.sim.objective == "profit":
        objective += env.sim.total_revenue
    before = steps[0][3]
    total += -before["cost"]["total"] + (
        before["revenue"] if env.sim.objective == "profit" else 0.0
    )
    assert math.isclose(total, objective, rel_tol=1e-9, abs_tol=1e-6)


@pytest.mark.parametrize("env_id", sorted(INVENTORY_ENV_IDS))
@pytest.mark.parametrize("mode", ["quantity", "base-stock"])
def test_every_gym_id_matches_the_ledger_step_by_step(env_id, mode):
    env = gym.make(env_id, periods=30, action_mode=mode).unwrapped
    _check_against_ledger(env, _drive(env, seed=11))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    networks(conventions=True),
    st.sampled_from(["quantity", "base-stock", "capped-base-stock"]),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_random_networks_match_the_ledger_step_by_step(net, mode, discrete, seed):
    env = rl.make_env(net, periods=12, action_mode=mode, discrete=discrete and not net.continuous)
    _check_against_ledger(env, _drive(env, seed))


def test_large_networks_take_the_numpy_path():
    """Eight or more ledger nodes: the costs come from numpy's own sums (checked exactly)."""
    env = gym.make("des_supply/RandomDAG-v0", periods=15, n_nodes=10).unwrapped
    assert len(env.sim.network_nodes) >= 8
    _check_against_ledger(env, _drive(env, seed=5))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 7),
    st.lists(
        st.one_of(
            st.sampled_from([-0.0, 0.0]),  # signed zeros: numpy adds from +0.0
            st.sampled_from([1e-17, 0.1, 1.0, 3.3, 7.7, 1e16, 0.30000000000000004]),
        ),
        min_size=35,
        max_size=35,
    ),
)
@example(2, [-0.0] * 35)
@example(3, [0.1, 0.2, 0.30000000000000004, 1e16, 1.0] * 7)
def test_period_costs_are_numpys_sums(n_nodes, pool):
    """The Python sums of one period's costs equal numpy's, bit for bit (signed zeros too)."""
    rows = np.zeros((1, n_nodes, len(FIELDS)))
    columns = [FIELDS.index(f) for f in COST_FIELDS]
    rows[:, :, columns] = np.array(pool[: 5 * n_nodes]).reshape(1, n_nodes, 5)
    costs = rows[:, :, columns]  # as the env indexes the ledger rows
    parts, per_node = cost_sums(rows[0, :, columns[0] : columns[-1] + 1].tolist())
    assert [x.hex() for x in parts] == [float(x).hex() for x in costs.sum(axis=(0, 1))]
    assert [x.hex() for x in per_node] == [float(x).hex() for x in costs.sum(axis=(0, 2))]


def test_parse_values_is_the_numpy_mapping():
    env = rl.make_env(gym.make("des_supply/Serial-v0").unwrapped.network, periods=5)
    layout, space = env.layout, env.order_space
    rng = np.random.default_rng(0)
    maxima = np.array([n.max_order for n in layout.nodes])
    for _ in range(200):
        a = rng.choice([-3.0, -1.0, -0.0, 0.0, 1.0, 2.5, np.inf, -np.inf], size=3)
        a = np.where(rng.random(3) < 0.5, rng.uniform(-1.5, 1.5, 3), a).astype(np.float32)
        expected = (np.clip(a.astype(np.float64), -1.0, 1.0) + 1.0) * 0.5 * maxima
        got = layout.parse(a, layout.nodes, space)
        assert got.dtype == np.float64
        assert got.tobytes() == expected.tobytes()
    with pytest.raises(ValueError, match=r"action\[1\] \(stage2.order\) is NaN"):
        layout.parse(np.array([0.0, np.nan, 0.0]), layout.nodes, space)
