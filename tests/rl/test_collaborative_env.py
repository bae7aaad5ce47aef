"""The collaborative env (rl.collaborative_env): Gymnasium's checker, the zero action is the
reference policy replication by replication, the action's parts do what they say."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import scenarios
from des_supply.collaborative_policies import CollaborativeBaseStock
from des_supply.evaluate import simulate
from rl.collaborative_env import CollaborativeEnv, make_collaborative_env

LEVELS = {"i0": 7.0, "i1": 25.0, "i2": 37.0}


@pytest.fixture(scope="module")
def problem():
    return scenarios.make("collaborative")


@pytest.fixture(scope="module")
def reference(problem):
    policy = CollaborativeBaseStock(LEVELS, 1.1)
    return policy, policy.recommendation(problem)


def make(problem, reference, periods=40):
    return make_collaborative_env(
        problem, periods=periods, levels=LEVELS, price_factor=1.1, intensities=reference[1]
    )


def test_passes_gymnasiums_checker(problem, reference):
    env = make(problem, reference)
    check_env(env, skip_render_check=True)
    assert env.action_space.shape == (len(env.action_names),)
    assert env.observation_space.shape == (len(env.observation_names),)


def test_zero_action_plays_the_reference_policy(problem, reference):
    """Episode k after reset(seed=s) is replication k of simulate(seed=s), action 0 = anchor."""
    env = make(problem, reference)
    profits = []
    for k in range(3):
        env.reset(seed=9) if k == 0 else env.reset()
        total, truncated = 0.0, False
        while not truncated:
            _, _, _, truncated, info = env.step(np.zeros(env.action_space.shape))
            total += info["profit"]
        profits.append(total / env.periods)
    res = simulate(problem, reference[0], periods=40, replications=3, seed=9)
    np.testing.assert_allclose(profits, res.per_replication, rtol=1e-12)


def test_action_parts_set_level_price_supplier_use_and_recommendation(problem, reference):
    env = make(problem, reference)
    env.reset(seed=1)
    u = np.zeros(env.action_space.shape)
    names = env.action_names
    u[names.index("i1.price")] = 1.0  # +25% of the anchor price
    u[names.index("i1.i1-batch")] = -1.0  # no batch production
    u[names.index("i2.level")] = -1.0  # order nothing
    action = env.decode(u)
    assert action.prices["i1"] == pytest.approx(1.1 * 1.25 * env.list_prices[1])
    assert "i1-batch" not in action.orders["i1"] and action.orders["i2"] == {}
    assert sum(action.orders["i1"].values()) > 0
    first_score = names.index("i0.s0")
    u[first_score] = 1.0
    alpha = env.decode(u).extra["recommendation"]
    assert alpha[0, 0] > reference[1][0, 0]
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)  # intensities stay valid


def test_bad_actions_and_settings_are_refused_by_name(problem, reference):
    env = make(problem, reference)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    u = np.zeros(env.action_space.shape)
    u[1] = np.nan
    with pytest.raises(ValueError, match=r"i0\.price"):
        env.step(u)
    with pytest.raises(ValueError, match="levels"):
        make_collaborative_env(problem, levels={"i0": 3.0})
    with pytest.raises(ValueError, match="price_range"):
        make_collaborative_env(problem, levels=LEVELS, price_range=1.0)
    with pytest.raises(ValueError, match="collaborative"):
        make_collaborative_env(scenarios.make("recommendation-small"), levels=LEVELS)
    assert isinstance(env, CollaborativeEnv)
